//! Planted reschedule IPIs and wakeups (`fid-ipi`, 2 CPUs): the main thread
//! (the waker) wakes a sleeper parked on the other, idle CPU `rounds` times
//! (userspace/smokes/src/bin/fid-ipi.rs).
//!
//! Expected, from the kernel's rules (sched/dispatch.rs `wake`,
//! `enqueue_at`, `kick`; kcore placement rule 1): a wake of the blocked
//! sleeper queues it on its previous CPU, idle, and sends that CPU one
//! `RESCHEDULE` (0xf0) IPI; so per real wake-up, in the work phase:
//! * one `ipi_send` on the waker's CPU, `vector=0xf0`, `target_cpu` = the
//!   sleeper's CPU, and one `ipi_recv` there with the same vector and
//!   `sender_cpu` = the waker's CPU;
//! * one `wakeup` with `thread` = the sleeper, `waker` = the main thread and
//!   `target_cpu` = the CPU of the `context_switch` to it that follows (the
//!   sleeper runs once per wake-up, so the k-th wakeup goes with the k-th
//!   switch to it);
//! * `scheduler.resched_ipi_sent` = the `ipi_send` events of that vector.
//!
//! The count the program can vouch for is `woken`: the rounds whose
//! `unpark` found the sleeper registered. A wake that finds it registered
//! but not yet switched out queues it on its own CPU (no IPI: the `wakeup`
//! is recorded on the sleeper's CPU) or leaves a wake token (no event). The
//! waker waits `delay_us` after the sleeper's acknowledgement to make that
//! rare; the tolerance allows a tenth of the rounds. Everything else is an
//! identity between events and is exact.
//!
//! Threads are named by the report: the sleeper is the process's
//! `thread_counts` work row with more calls (two `ring_info` per round
//! besides its `park`; the main thread makes one `unpark` per round), the
//! main thread the other one; the waker's CPU is the one that recorded the
//! `work` phase mark (the main thread makes the marks), the sleeper's the
//! one where it was switched in during the work phase. Every check is made
//! twice: on the report's trace events and on `timeline.json`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use capos_measure::catalogue::scheduler;
use capos_measure::trace::TraceArgs;
use capos_measure::{Phase, TraceKind};
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
/// `work` slice of the phase track.
fn timeline_events(text: &str) -> Result<Vec<Ev>> {
    let v: Value = serde_json::from_str(text).context("timeline.json is not JSON")?;
    let events = v
        .get("traceEvents")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .context("timeline.json has no event list")?;
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

/// Who is who: the two threads and their CPUs.
#[derive(Clone, Copy, Debug)]
struct Cast {
    sleeper: u64,
    waker: u64,
    sleeper_cpu: u64,
    waker_cpu: u64,
}

/// The rows of one view of the events.
fn event_rows(view: &str, evs: &[Ev], c: Cast, woken: u64, slack: u64) -> Vec<Row> {
    let name = WORKLOAD.name;
    let count = |f: &dyn Fn(&Ev) -> bool| evs.iter().filter(|e| f(e)).count() as u64;
    let sends = count(&|e| {
        matches!(*e, Ev::IpiSend { cpu, target, vector, .. }
            if cpu == c.waker_cpu && target == c.sleeper_cpu && vector == RESCHEDULE)
    });
    let other_sends = count(&|e| matches!(e, Ev::IpiSend { .. })) - sends;
    let recvs = count(&|e| {
        matches!(*e, Ev::IpiRecv { cpu, sender, vector, .. }
            if cpu == c.sleeper_cpu && sender == c.waker_cpu && vector == RESCHEDULE)
    });
    let other_recvs = count(&|e| matches!(e, Ev::IpiRecv { .. })) - recvs;
    // Causes come first: each arrival has a send stamped before it.
    let mut pending = 0u64;
    let mut early_recvs = 0u64;
    for e in evs {
        match *e {
            Ev::IpiSend { cpu, target, vector, .. }
                if cpu == c.waker_cpu && target == c.sleeper_cpu && vector == RESCHEDULE =>
            {
                pending += 1
            }
            Ev::IpiRecv { cpu, sender, vector, .. }
                if cpu == c.sleeper_cpu && sender == c.waker_cpu && vector == RESCHEDULE =>
            {
                match pending.checked_sub(1) {
                    Some(p) => pending = p,
                    None => early_recvs += 1,
                }
            }
            _ => {}
        }
    }
    let wakeups: Vec<(usize, &Ev)> = evs
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(**e, Ev::Wakeup { thread, .. } if thread == c.sleeper))
        .collect();
    let from_waker_cpu =
        wakeups.iter().filter(|(_, e)| matches!(**e, Ev::Wakeup { cpu, .. } if cpu == c.waker_cpu));
    let wrong_waker =
        wakeups.iter().filter(|(_, e)| matches!(**e, Ev::Wakeup { waker, .. } if waker != c.waker));
    // Each wakeup makes the sleeper run once (it then parks again): the k-th
    // wakeup goes with the k-th switch to it, whatever the order of their
    // stamps on two CPUs.
    let runs: Vec<u64> = evs
        .iter()
        .filter_map(|e| match *e {
            Ev::SwitchTo { cpu, thread, .. } if thread == c.sleeper => Some(cpu),
            _ => None,
        })
        .collect();
    let late_wakeups = wakeups
        .iter()
        .zip(
            evs.iter()
                .filter(|e| matches!(**e, Ev::SwitchTo { thread, .. } if thread == c.sleeper)),
        )
        .filter(|((_, w), run)| w.t() > run.t())
        .count() as u64;
    let wrong_target = wakeups
        .iter()
        .zip(&runs)
        .filter(|((_, e), &ran)| !matches!(**e, Ev::Wakeup { target, .. } if target == ran));
    let tol = format!("a round may find the sleeper not yet switched out ({slack} of the rounds)");
    vec![
        Row::new(
            name,
            format!(
                "{view}: work ipi_send vector=0xf0 cpu {} -> cpu {}",
                c.waker_cpu, c.sleeper_cpu
            ),
            woken as f64,
            sends as f64,
            slack as f64,
            tol.clone(),
        ),
        Row::exact(name, format!("{view}: work other ipi_send"), 0, other_sends),
        Row::exact(
            name,
            format!("{view}: work ipi_recv vector=0xf0 sender_cpu={} = sends", c.waker_cpu),
            sends,
            recvs,
        ),
        Row::exact(name, format!("{view}: work other ipi_recv"), 0, other_recvs),
        Row::exact(name, format!("{view}: ipi_recv stamped before its ipi_send"), 0, early_recvs),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups stamped after the switch to it"),
            0,
            late_wakeups,
        ),
        Row::new(
            name,
            format!("{view}: work wakeup events of the sleeper"),
            woken as f64,
            wakeups.len() as f64,
            slack as f64,
            tol,
        ),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups on the waker's CPU = ipi sends"),
            sends,
            from_waker_cpu.count() as u64,
        ),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups whose waker is not the main thread"),
            0,
            wrong_waker.count() as u64,
        ),
        Row::exact(
            name,
            format!("{view}: switches to the sleeper = its wakeups"),
            wakeups.len() as u64,
            runs.len() as u64,
        ),
        Row::exact(
            name,
            format!("{view}: sleeper wakeups whose target_cpu is not where it next ran"),
            0,
            wrong_target.count() as u64,
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
    let waker_cpu = run.report.trace.iter().find_map(|e| match e.args() {
        Some(TraceArgs::PhaseMark { phase, .. }) if phase == Phase::Work as u8 => {
            Some(u64::from(e.cpu))
        }
        _ => None,
    });
    let evs = report_events(run, start, stop);
    let cast = match (threads.as_slice(), waker_cpu) {
        ([s, w], Some(waker_cpu)) if s.pid == w.pid => {
            let mut cpus: BTreeMap<u64, u64> = BTreeMap::new();
            for e in &evs {
                if let Ev::SwitchTo { cpu, thread, .. } = *e {
                    if thread == s.thread {
                        *cpus.entry(cpu).or_default() += 1;
                    }
                }
            }
            let sleeper_cpu = cpus.iter().max_by_key(|(_, n)| **n).map(|(c, _)| *c);
            sleeper_cpu.map(|sleeper_cpu| Cast {
                sleeper: s.thread,
                waker: w.thread,
                sleeper_cpu,
                waker_cpu,
            })
        }
        _ => None,
    };
    let Some(cast) = cast else {
        rows.push(Row::missing(
            name,
            "threads and CPUs",
            format!(
                "want two work thread_counts rows of one process, a work mark and a switch to \
                 the sleeper (rows {}, mark cpu {waker_cpu:?})",
                threads.len()
            ),
        ));
        return Ok(rows);
    };
    rows.push(Row::exact(
        name,
        "the sleeper's CPU is not the waker's",
        1,
        u64::from(cast.sleeper_cpu != cast.waker_cpu),
    ));
    rows.extend(event_rows("report", &evs, cast, woken, slack));
    let sends = run
        .report
        .trace
        .iter()
        .filter(|e| (start..stop).contains(&e.tsc) && e.kind == TraceKind::IpiSend)
        .filter(|e| matches!(e.args(), Some(TraceArgs::IpiSend { vector, .. }) if u64::from(vector) == RESCHEDULE))
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
