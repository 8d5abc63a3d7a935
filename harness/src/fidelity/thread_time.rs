//! Per-thread time by state (`thread_time` lines) against planted answers.
//!
//! * `fid-sleep`: the sleeper's `blocked_sleep` in the work phase is its
//!   planted `slept` (TSC around its `Timer.sleep` calls) less the kernel
//!   work inside those calls (entering `cap_enter`, blocking, the wakeup,
//!   the wait in the run queue, returning), which the thread spends
//!   running or runnable: within `[slept - runnable - (running - spun),
//!   slept]`, `spun` being its planted user spinning (inside `running`).
//!   It blocks nowhere else, so all its blocked time is `blocked_sleep`.
//!   The off-CPU graph (`offcpu-run.folded`) holds the same stretches, each
//!   recorded whole at its wakeup: its `[blocked sleep]` weight is the
//!   whole run's `blocked_sleep` (the sleeper is the only thread that
//!   sleeps), exactly, and every such stack passes through the kernel's
//!   `cap_enter` (where a user thread waits for its sleep).
//! * `fid-oversub`: on its one CPU, at every instant of the work phase one
//!   accounted thread runs (switch-out and switch-in share one TSC) and
//!   both spinners are alive and never block, so a spinner is runnable
//!   exactly while another thread runs: its `runnable` = the other
//!   threads' `running`, give or take the CPU's idle time (none: a spinner
//!   is always runnable).
//! * `fid-oversub`'s run-queue delays: every switch-in ends one runnable
//!   stretch, so the CPU's histogram counts = `scheduler.outcome_runnable`
//!   (same `switch_to`, one CPU: exact); each timer fallback preempts a
//!   thread that is switched in again later (`preempt` count = fallbacks,
//!   give or take one preempted across each of the two marks), and each
//!   sleep ends with one wakeup of the main thread, which marks the phases
//!   itself (`wake` count = sleeps, exact).

use capos_measure::catalogue::scheduler;
use capos_measure::cpu_time::CpuState;
use capos_measure::phase::Phase;
use capos_measure::report::Report;
use capos_measure::run_delay::DelayKind;
use capos_measure::thread_time::{BlockReason, ThreadState, ThreadTime};

use super::table::Row;

fn work_rows(r: &Report) -> impl Iterator<Item = &ThreadTime> {
    r.thread_time.values().filter(|t| t.phase == Phase::Work)
}

/// `fid-sleep`'s rows: the user thread that slept longest is the sleeper.
pub fn sleep_rows(workload: &str, r: &Report, slept: u64, spun: u64) -> Vec<Row> {
    let sleep = ThreadState::Blocked(BlockReason::Sleep);
    let Some(t) = work_rows(r).filter(|t| t.pid != 0).max_by_key(|t| t.get(sleep)) else {
        return vec![Row::name(
            workload,
            "work: sleeper's thread_time line",
            "present",
            "absent",
            false,
        )];
    };
    let running = t.get(ThreadState::Running);
    let overhead = t.get(ThreadState::Runnable) + running.saturating_sub(spun);
    let low = slept.saturating_sub(overhead);
    vec![
        Row::name(
            workload,
            "work: sleeper blocked_sleep within [slept - runnable - (running - spun), slept]",
            format!("{low}..={slept}"),
            t.get(sleep).to_string(),
            (low..=slept).contains(&t.get(sleep)),
        ),
        Row::exact(
            workload,
            "work: sleeper blocked time = blocked_sleep",
            t.get(sleep),
            t.blocked(),
        ),
    ]
}

/// `fid-oversub`'s rows for the threads named `names` (the spinners).
pub fn oversub_rows(workload: &str, r: &Report, names: &[&str]) -> Vec<Row> {
    let idle: u64 = (r.cpu_time.iter())
        .filter(|((p, _), _)| *p == Phase::Work)
        .map(|(_, c)| c[CpuState::Idle as usize])
        .sum();
    let mut rows = Vec::new();
    for name in names {
        let Some(tid) = r.thread_names.values().find(|n| n.name == *name).map(|n| n.thread) else {
            continue; // thread_views reports the missing name
        };
        let Some(me) = work_rows(r).find(|t| t.thread == tid) else {
            rows.push(Row::name(
                workload,
                format!("{name}: work thread_time line"),
                "present",
                "absent",
                false,
            ));
            continue;
        };
        let others: u64 =
            work_rows(r).filter(|t| t.thread != tid).map(|t| t.get(ThreadState::Running)).sum();
        rows.push(Row::new(
            workload,
            format!("{name}: work runnable = the other threads' running"),
            others as f64,
            me.get(ThreadState::Runnable) as f64,
            idle as f64,
            "one CPU, one thread running at a time; ± the CPU's idle time",
        ));
    }
    rows
}

/// Work-phase run-queue delay counts of `kind` (`None`: all kinds), all CPUs.
fn delays(r: &Report, kind: Option<DelayKind>) -> u64 {
    (r.run_delay.iter())
        .filter(|((p, _, k), _)| *p == Phase::Work && kind.is_none_or(|kind| *k == kind as u8))
        .flat_map(|(_, (_, b))| b.values())
        .sum()
}

/// `fid-oversub`'s run-queue delay rows: `sleeps` planted, `fallbacks`
/// timer fallbacks counted in the work phase.
pub fn oversub_delay_rows(workload: &str, r: &Report, sleeps: u64, fallbacks: u64) -> Vec<Row> {
    vec![
        Row::exact(
            workload,
            "work: run_delay counts = scheduler.outcome_runnable",
            r.counter(Phase::Work, scheduler::outcome_runnable),
            delays(r, None),
        ),
        Row::new(
            workload,
            "work: run_delay preempt count = timer fallbacks",
            fallbacks as f64,
            delays(r, Some(DelayKind::Preempt)) as f64,
            1.0,
            "a spinner preempted across a mark",
        ),
        Row::exact(
            workload,
            "work: run_delay wake count = sleeps",
            sleeps,
            delays(r, Some(DelayKind::Wake)),
        ),
    ]
}

/// `fid-sleep`'s off-CPU graph rows, from the folded stacks `stacks`.
pub fn sleep_offcpu_rows(workload: &str, r: &Report, stacks: &[(Vec<String>, u64)]) -> Vec<Row> {
    let root = "[blocked sleep]";
    let sleep = ThreadState::Blocked(BlockReason::Sleep);
    let slept: u64 = (r.thread_time.values())
        .filter(|t| t.phase == Phase::Aggregate)
        .map(|t| t.get(sleep))
        .sum();
    let under = |pred: &dyn Fn(&[String]) -> bool| -> u64 {
        stacks
            .iter()
            .filter(|(f, _)| f.first().is_some_and(|x| x == root) && pred(f))
            .map(|(_, w)| w)
            .sum()
    };
    let weight = under(&|_| true);
    let via = under(&|f| f.iter().any(|x| x.contains("cap_enter")));
    vec![
        Row::exact(
            workload,
            "offcpu-run [blocked sleep] weight = aggregate blocked_sleep",
            slept,
            weight,
        ),
        Row::exact(
            workload,
            "offcpu-run [blocked sleep] weight through cap_enter = all of it",
            weight,
            via,
        ),
    ]
}
