//! Planted reschedule IPIs and wakeups (`fid-ipi`, 2 CPUs): the main thread
//! (the waker) wakes a sleeper parked on the other, idle CPU `rounds` times
//! (userspace/smokes/src/bin/fid-ipi.rs).
//!
//! Expected, from the kernel's rules (sched/dispatch.rs `wake`,
//! `enqueue_at`, `kick`; kcore placement rule 1): a wake of the blocked
//! sleeper queues it on its previous CPU, idle, and sends that CPU one
//! `RESCHEDULE` (0xf0) IPI; so per real wake-up, in the work phase:
//! * one `wakeup` with `thread` = the sleeper, `waker` = the main thread,
//!   recorded on the waker's CPU, `target_cpu` = the other CPU, the one
//!   where the sleeper then runs (it runs once per wake-up, so the k-th
//!   wakeup goes with the k-th `context_switch` to it), stamped before it;
//! * one `ipi_send` with `vector=0xf0` and that `target_cpu`, and one
//!   `ipi_recv` there with the same vector and `sender_cpu` = the sending
//!   CPU, stamped after it (each arrival is paired with the oldest unpaired
//!   send to its CPU);
//! * `scheduler.resched_ipi_sent` = the `ipi_send` events of that vector.
//!
//! The count the program can vouch for is `woken`: the rounds whose
//! `unpark` found the sleeper registered. A wake that finds it registered
//! but not yet switched out queues it on its own CPU (no IPI: the `wakeup`
//! is recorded there) or leaves a wake token (no event); the waker waits
//! `delay_us` after the sleeper's acknowledgement to make that rare, and a
//! tenth of the rounds may. One more race: when the IPI is slow to arrive
//! (TCG; seen once, 5.5 ms), a timer tick on the waker's CPU can steal the
//! queued sleeper (`scheduler.candidates_stolen`), so it runs on the
//! waker's CPU and the preempted waker is requeued on the idle one with an
//! IPI of its own (no wakeup): the two may swap CPUs. Each steal allows one
//! such IPI and one wakeup whose target is not where the sleeper ran.
//! Everything else is an identity between events and is exact.
//!
//! Threads are named by the report: the sleeper is the process's
//! `thread_counts` work row with more calls (two `ring_info` per round
//! besides its `park`; the main thread makes one `unpark` per round), the
//! main thread the other one. Every check is made twice: on the report's
//! trace events and on `timeline.json`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use capos_measure::catalogue::scheduler;
use capos_measure::trace::TraceArgs;
use capos_measure::Phase;
use serde_json::Value;

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-ipi",
    smp: 2,
    tick_hz: 100,
    peers: 0,
    quick_args: "rounds=20",
    // At most 40: each round leaves three events in the sleeper CPU's
    // 256-event trace ring, which must not wrap.
    full_args: "rounds=40",
    check,
};

/// `RESCHEDULE` in kernel/src/arch/x86_64/interrupts.rs.
const RESCHEDULE: u64 = 0xf0;

/// A trace event as both views show it (`t`: TSC or microseconds).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ev {
    SwitchTo { cpu: u64, t: f64, thread: u64 },
    Wakeup { cpu: u64, t: f64, thread: u64, target: u64, waker: u64 },
    IpiSend { cpu: u64, t: f64, target: u64, vector: u64 },
    IpiRecv { cpu: u64, t: f64, sender: u64, vector: u64 },
}

impl Ev {
    fn t(&self) -> f64 {
        match *self {
            Ev::SwitchTo { t, .. }
            | Ev::Wakeup { t, .. }
            | Ev::IpiSend { t, .. }
            | Ev::IpiRecv { t, .. } => t,
        }
    }
}

/// The report's work-phase events.
fn report_events(run: &Run, start: u64, stop: u64) -> Vec<Ev> {
    let mut out = Vec::new();
    for e in run.report.trace.iter().filter(|e| (start..stop).contains(&e.tsc)) {
        let (cpu, t) = (u64::from(e.cpu), e.tsc as f64);
        out.push(match e.args() {
            Some(TraceArgs::ContextSwitch { next, .. }) => Ev::SwitchTo { cpu, t, thread: next },
            Some(TraceArgs::Wakeup { thread, target_cpu, waker }) => {
                Ev::Wakeup { cpu, t, thread, target: u64::from(target_cpu), waker }
            }
            Some(TraceArgs::IpiSend { target_cpu, vector }) => {
                Ev::IpiSend { cpu, t, target: target_cpu, vector: u64::from(vector) }
            }
            Some(TraceArgs::IpiRecv { vector, sender_cpu }) => {
                Ev::IpiRecv { cpu, t, sender: sender_cpu, vector: u64::from(vector) }
            }
            _ => continue,
        });
    }
    out.sort_by(|a, b| a.t().total_cmp(&b.t()));
    out
}

/// The same events from `timeline.json` (Chrome trace format): instants
/// by category and named arguments, thread slices as switches; within the
/// `work` slice of the phase track. Only the CPU and phase tracks (JSON
/// pid 1) count; the per-thread sample tracks are other pids.
fn timeline_events(text: &str) -> Result<Vec<Ev>> {
    let v: Value = serde_json::from_str(text).context("timeline.json is not JSON")?;
    let events: Vec<&Value> = v
        .get("traceEvents")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .context("timeline.json has no event list")?
        .iter()
        .filter(|e| e["pid"] == 1)
        .collect();
    let work = events
        .iter()
        .find(|e| e["ph"] == "X" && e["name"] == "work")
        .and_then(|e| Some((e["ts"].as_f64()?, e["ts"].as_f64()? + e["dur"].as_f64()?)))
        .context("timeline.json has no `work` phase slice")?;
    let mut out = Vec::new();
    for e in events {
        let (Some(cpu), Some(t)) = (e["tid"].as_u64(), e["ts"].as_f64()) else { continue };
        if !(work.0..work.1).contains(&t) {
            continue;
        }
        let arg = |k: &str| e["args"][k].as_u64();
        let ev = match (e["ph"].as_str(), e["cat"].as_str()) {
            (Some("X"), _) => arg("thread").map(|thread| Ev::SwitchTo { cpu, t, thread }),
            (Some("i"), Some("wakeup")) => (|| {
                Some(Ev::Wakeup {
                    cpu,
                    t,
                    thread: arg("thread")?,
                    target: arg("target_cpu")?,
                    waker: arg("waker")?,
                })
            })(),
            (Some("i"), Some("ipi_send")) => (|| {
                Some(Ev::IpiSend { cpu, t, target: arg("target_cpu")?, vector: arg("vector")? })
            })(),
            (Some("i"), Some("ipi_recv")) => (|| {
                Some(Ev::IpiRecv { cpu, t, sender: arg("sender_cpu")?, vector: arg("vector")? })
            })(),
            _ => None,
        };
        out.extend(ev);
    }
    out.sort_by(|a, b| a.t().total_cmp(&b.t()));
    Ok(out)
}

/// Who is who: the two threads.
#[derive(Clone, Copy, Debug)]
struct Cast {
    sleeper: u64,
    waker: u64,
}

/// What the run allows besides exact counts.
#[derive(Clone, Copy, Debug)]
struct Slack {
    /// Rounds that may find the sleeper not yet parked or switched out.
    races: u64,
    /// Work-phase steals (`scheduler.candidates_stolen`).
    steals: u64,
}

/// The rows of one view of the events.
fn event_rows(view: &str, evs: &[Ev], c: Cast, woken: u64, slack: Slack) -> Vec<Row> {
    let name = WORKLOAD.name;
    let resched = |v: u64| v == RESCHEDULE;
    let sends = evs.iter().filter(|e| matches!(**e, Ev::IpiSend { vector, .. } if resched(vector)));
    let sends = sends.count() as u64;
    let other_sends =
        evs.iter().filter(|e| matches!(**e, Ev::IpiSend { vector, .. } if !resched(vector)));
    // Each arrival goes with the oldest unmatched send to its CPU: same
    // vector, the sender its CPU, stamped before it.
    let mut pending: BTreeMap<u64, std::collections::VecDeque<u64>> = BTreeMap::new();
    let (mut matched, mut unmatched_recvs) = (0u64, 0u64);
    for e in evs {
        match *e {
            Ev::IpiSend { cpu, target, vector, .. } if resched(vector) => {
                pending.entry(target).or_default().push_back(cpu);
            }
            Ev::IpiRecv { cpu, sender, vector, .. } => {
                match pending.get_mut(&cpu).and_then(|q| q.pop_front()) {
                    Some(from) if resched(vector) && from == sender => matched += 1,
                    _ => unmatched_recvs += 1,
                }
            }
            _ => {}
        }
    }
    let wakeups: Vec<&Ev> = evs
        .iter()
        .filter(|e| matches!(**e, Ev::Wakeup { thread, .. } if thread == c.sleeper))
        .collect();
    // A wake-up onto another CPU kicks it; one onto the waker's own CPU
    // (the sleeper not yet switched out) does not.
    let remote =
        wakeups.iter().filter(|e| matches!(***e, Ev::Wakeup { cpu, target, .. } if cpu != target));
    let remote = remote.count() as u64;
    let wrong_waker =
        wakeups.iter().filter(|e| matches!(***e, Ev::Wakeup { waker, .. } if waker != c.waker));
    // Each wakeup makes the sleeper run once (it then parks again): the k-th
    // wakeup goes with the k-th switch to it, whatever the order of their
    // stamps on two CPUs.
    let runs: Vec<&Ev> = evs
        .iter()
        .filter(|e| matches!(**e, Ev::SwitchTo { thread, .. } if thread == c.sleeper))
        .collect();
    let pairs = || wakeups.iter().zip(&runs);
    let late_wakeups = pairs().filter(|(w, run)| w.t() > run.t()).count() as u64;
    let elsewhere = pairs()
        .filter(|(w, run)| match (***w, ***run) {
            (Ev::Wakeup { target, .. }, Ev::SwitchTo { cpu, .. }) => target != cpu,
            _ => true,
        })
        .count() as u64;
    let races = format!(
        "a round may find the sleeper not yet switched out ({} of the rounds)",
        slack.races
    );
    let steals = format!("1 per steal: a requeue ({} steals)", slack.steals);
    vec![
        Row::new(
            name,
            format!("{view}: work wakeups of the sleeper onto another CPU"),
            woken as f64,
            remote as f64,
            slack.races as f64,
            races,
        ),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups whose waker is not the main thread"),
            0,
            wrong_waker.count() as u64,
        ),
        Row::new(
            name,
            format!("{view}: work ipi_send vector=0xf0 = remote wakeups"),
            remote as f64,
            sends as f64,
            slack.steals as f64,
            steals.clone(),
        ),
        Row::exact(
            name,
            format!("{view}: work ipi_send of other vectors"),
            0,
            other_sends.count() as u64,
        ),
        Row::exact(
            name,
            format!("{view}: ipi_recv on the target, vector 0xf0, sender_cpu = sending CPU"),
            sends,
            matched,
        ),
        Row::exact(
            name,
            format!("{view}: ipi_recv without such a send stamped before it"),
            0,
            unmatched_recvs,
        ),
        Row::exact(
            name,
            format!("{view}: switches to the sleeper = its wakeups"),
            wakeups.len() as u64,
            runs.len() as u64,
        ),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups stamped after the switch to it"),
            0,
            late_wakeups,
        ),
        Row::new(
            name,
            format!("{view}: sleeper wakeups whose target_cpu is not where it ran"),
            0.0,
            elsewhere as f64,
            slack.steals as f64,
            format!(
                "1 per steal: a queued thread taken by the other CPU ({} steals)",
                slack.steals
            ),
        ),
    ]
}

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let (rounds, woken) = (run.planted("rounds")?, run.planted("woken")?);
    let slack = rounds / 10;
    let mut rows = vec![Row::new(
        name,
        "rounds whose unpark woke the sleeper",
        rounds as f64,
        woken as f64,
        slack as f64,
        "a tenth may find it not yet parked",
    )];
    let cp = &run.report.checkpoints;
    let dropped: u64 = run.report.trace_dropped.values().sum();
    let (Some(&start), Some(&stop)) = (cp.get(&Phase::Work), cp.get(&Phase::Shutdown)) else {
        rows.push(Row::missing(name, "trace events", "no work or shutdown mark"));
        return Ok(rows);
    };
    if dropped > 0 {
        rows.push(Row::missing(name, "trace events", format!("{dropped} trace events dropped")));
        return Ok(rows);
    }
    let mut threads: Vec<_> =
        run.report.thread_ops.values().filter(|t| t.phase == Phase::Work).collect();
    threads.sort_by_key(|t| std::cmp::Reverse(t.syscalls));
    let evs = report_events(run, start, stop);
    let Some(cast) = (match threads.as_slice() {
        [s, w] if s.pid == w.pid => Some(Cast { sleeper: s.thread, waker: w.thread }),
        _ => None,
    }) else {
        rows.push(Row::missing(
            name,
            "threads",
            format!("want two work thread_counts rows of one process, got {}", threads.len()),
        ));
        return Ok(rows);
    };
    let slack = Slack {
        races: slack,
        steals: run.report.counter(Phase::Work, scheduler::candidates_stolen),
    };
    rows.extend(event_rows("report", &evs, cast, woken, slack));
    let sends = evs
        .iter()
        .filter(|e| matches!(**e, Ev::IpiSend { vector, .. } if vector == RESCHEDULE))
        .count() as u64;
    rows.push(Row::exact(
        name,
        "work scheduler.resched_ipi_sent = ipi_send 0xf0 events",
        sends,
        run.report.counter(Phase::Work, scheduler::resched_ipi_sent),
    ));
    let timeline = run.read(&run.profile.timeline)?;
    match timeline_events(&timeline) {
        Ok(t) => rows.extend(event_rows("timeline", &t, cast, woken, slack)),
        Err(e) => rows.push(Row::missing(name, "timeline events", format!("{e:#}"))),
    }
    Ok(rows)
}
