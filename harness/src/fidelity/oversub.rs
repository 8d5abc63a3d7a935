//! Planted oversubscription (`fid-oversub`): two spinner threads on one CPU
//! and a main thread that sleeps `sleeps` times on the timer while a
//! spinner runs (userspace/smokes/src/bin/fid-oversub.rs).
//!
//! What the kernel's rules make of it (kernel/src/sched/mod.rs `on_tick`,
//! kernel/kcore/src/timer_policy.rs, kernel/src/sched/dispatch.rs), all
//! exact on one CPU (every counter moves with interrupts masked on the CPU
//! that marks the phases):
//!
//! * every user-mode tick either continues or falls back for exactly one
//!   reason: `attempts = continues + fallback_*`; every fallback runs one
//!   timer pick, which counts `clean` or `required` (with its one reason):
//!   `required + clean = fallbacks`, `required = run_queue_nonempty`;
//! * every enqueue sets its CPU's reschedule request, and so does the
//!   requeue of a preempted spinner: in the work phase the waiting spinner
//!   is queued with a request pending, so a tick falls back as
//!   `fallback_reschedule_pending`, switches spinners and requeues the one
//!   it preempted (one `preempt_requeue` acquisition in one
//!   `schedule_save_requeue` run). The queue is never empty at a fallback:
//!   work-phase preempt requeues = work-phase timer fallbacks;
//! * so the fast path never continues and its skip budget never runs out
//!   (`continues = fallback_budget_exhausted = 0` in the work phase);
//! * a `schedule` clears the request; when the main thread blocks in its
//!   sleep nothing is requeued, so the next tick finds the queue non-empty
//!   with no request: one `fallback_queue_nonempty` per sleep;
//! * the sleeper's wakeup (timer expiry, before the tick's scheduling
//!   decision, kernel/src/arch_hooks.rs) queues it behind the waiting
//!   spinner; that tick's pick leaves the sleeper queued and the next
//!   tick's pick leaves the preempted spinner queued: two `required` (=
//!   `run_queue_nonempty`) per sleep;
//! * the two spinners share the CPU: each one's share of their user PC
//!   samples must match its share of their run time measured by the TSC
//!   (binomial, [`table::SHARE_SDS`]), and the run times must be fair:
//!   each within [`FAIR`] of a half (round robin, one tick each).

use anyhow::Result;
use capos_measure::catalogue::{
    scheduler_lock_site, segment, timer_fast_path as fp, timer_slow_summary as ss, SchedLockSite,
    Segment,
};
use capos_measure::{Counter, Phase};

use super::artifacts::pc_section;
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-oversub",
    smp: 1,
    tick_hz: 250,
    peers: 0,
    quick_args: "sleeps=20 sleep_ms=50",
    full_args: "sleeps=80 sleep_ms=50",
    check,
};

/// The sleeper's `sleep_ms` in both argument sets (a test pins it).
const SLEEP_MS: u64 = 50;

/// Largest allowed distance of a spinner's run-time share from a half.
pub const FAIR: f64 = 0.05;

const SPINNERS: [&str; 2] = ["planted_spin_0", "planted_spin_1"];

fn fallbacks(run: &Run, phase: Phase) -> u64 {
    [fp::fallback_budget_exhausted, fp::fallback_reschedule_pending, fp::fallback_queue_nonempty]
        .into_iter()
        .map(|f| run.report.counter(phase, f))
        .sum()
}

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let mut rows = Vec::new();
    for phase in [Phase::Work, Phase::Aggregate] {
        let c = |f: Counter| run.report.counter(phase, f);
        let p = phase.name();
        let fb = fallbacks(run, phase);
        rows.push(Row::exact(
            name,
            format!("{p}: timer_fast_path attempts = continues + fallbacks"),
            c(fp::attempts.into()),
            c(fp::continues.into()) + fb,
        ));
        rows.push(Row::exact(
            name,
            format!("{p}: timer_slow_summary required + clean = fallbacks"),
            fb,
            c(ss::required.into()) + c(ss::clean.into()),
        ));
        rows.push(Row::exact(
            name,
            format!("{p}: timer_slow_summary required = run_queue_nonempty"),
            c(ss::required.into()),
            c(ss::run_queue_nonempty.into()),
        ));
        rows.push(Row::exact(
            name,
            format!("{p}: preempt_requeue acquisitions = schedule_save_requeue runs"),
            c(segment::count.at(Segment::ScheduleSaveRequeue)),
            c(scheduler_lock_site::acquisitions.at(SchedLockSite::PreemptRequeue)),
        ));
    }

    let w = |f: Counter| run.report.counter(Phase::Work, f);
    let sleeps = run.planted("sleeps")?;
    rows.push(Row::exact(
        name,
        "work: preempt requeues = timer fallbacks (a spinner always waits)",
        fallbacks(run, Phase::Work),
        w(scheduler_lock_site::acquisitions.at(SchedLockSite::PreemptRequeue)),
    ));
    rows.push(Row::exact(
        name,
        "work: fallback_queue_nonempty = sleeps (one per block of the sleeper)",
        sleeps,
        w(fp::fallback_queue_nonempty.into()),
    ));
    rows.push(Row::exact(
        name,
        "work: timer_slow_summary required = 2 x sleeps (two picks per wakeup)",
        2 * sleeps,
        w(ss::required.into()),
    ));
    // A request is pending or a thread queued at every tick: the fast path
    // never continues and its budget never runs out.
    rows.push(Row::exact(name, "work: timer_fast_path continues = 0", 0, w(fp::continues.into())));
    rows.push(Row::exact(
        name,
        "work: fallback_budget_exhausted = 0",
        0,
        w(fp::fallback_budget_exhausted.into()),
    ));
    rows.push(Row::exact(
        name,
        "work: fallback_reschedule_pending = attempts - sleeps",
        w(fp::attempts.into()).saturating_sub(sleeps),
        w(fp::fallback_reschedule_pending.into()),
    ));

    let ran: Vec<u64> =
        (0..SPINNERS.len()).map(|k| run.planted(&format!("ran{k}"))).collect::<Result<_>>()?;
    let total = ran.iter().sum::<u64>().max(1) as f64;
    let text = run.read(&run.profile.pc_report.report)?;
    let pcs = pc_section(&text, "work", "user")?;
    let counts: Vec<u64> = SPINNERS.iter().map(|s| pcs.count(|f| f.ends_with(s))).collect();
    let n = counts.iter().sum::<u64>();
    for ((sym, r), k) in SPINNERS.iter().zip(&ran).zip(&counts) {
        rows.push(Row::share(
            name,
            format!("user-pc-symbols {sym} share of spinner samples"),
            *r as f64 / total,
            *k,
            n,
        ));
    }
    rows.extend(super::thread_views::rows(name, &run.report, &["spinner-0", "spinner-1"], &ran));
    rows.extend(super::thread_time::oversub_rows(name, &run.report, &["spinner-0", "spinner-1"]));
    let fb = fallbacks(run, Phase::Work);
    rows.extend(super::thread_time::oversub_delay_rows(name, &run.report, sleeps, fb));
    rows.extend(super::run_queue::oversub_rows(name, &run.report, WORKLOAD.tick_hz, SLEEP_MS));
    for (sym, r) in SPINNERS.iter().zip(&ran) {
        rows.push(Row::new(
            name,
            format!("{sym} share of spinner run time (fair)"),
            0.5,
            *r as f64 / total,
            FAIR,
            "round robin, one tick each",
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_argument_sets_sleep_sleep_ms() {
        let word = format!("sleep_ms={}", super::SLEEP_MS);
        for args in [super::WORKLOAD.quick_args, super::WORKLOAD.full_args] {
            assert!(args.split(' ').any(|w| w == word), "{args}");
        }
    }
}
