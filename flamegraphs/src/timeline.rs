//! A per-CPU scheduling timeline in Chrome trace-event JSON, which Perfetto
//! (ui.perfetto.dev, "Open trace file") and chrome://tracing open.
//!
//! * One track per CPU (`pid` 1, `tid` = CPU): a complete slice (`"ph":"X"`)
//!   per stretch a thread ran, cut at `context_switch` events (`a` previous
//!   thread, `b` next thread, `flags` previous thread's state). The first
//!   switch seen on a CPU also opens a slice for the thread it switched away
//!   from, starting at that CPU's first retained event (`truncated`: the
//!   rings keep only the newest events). The last slice ends at the report's
//!   end TSC. Slices on one CPU never overlap.
//! * Instant events (`"ph":"i"`) on the CPU's track for wakeups, IPIs sent
//!   and received, TLB shootdowns, contended lock waits and phase marks.
//! * A `phases` track (`tid` 1000) with one slice per phase, from the
//!   report's checkpoints, and a global instant at every mark.
//!
//! Times are microseconds since the earliest known TSC: `(tsc - t0) * 1000 /
//! tsc_khz`. Without a TSC frequency (`tsc_khz=0`) one cycle counts as one
//! microsecond and `otherData.clock` says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_measure::report::Report;
use capos_measure::trace::{TraceEvent, TraceKind};
use serde_json::{json, Value};

use crate::error::{create_dir, write_file, ProfileError};

/// File name of the timeline.
pub const TIMELINE_FILE: &str = "timeline.json";
const PID: u64 = 1;
/// Track of the phase slices.
pub const PHASE_TRACK: u64 = 1000;

/// TSC -> microseconds since `t0`.
struct Clock {
    t0: u64,
    khz: u64,
}

impl Clock {
    fn us(&self, tsc: u64) -> f64 {
        let d = tsc.saturating_sub(self.t0) as f64;
        if self.khz == 0 {
            d
        } else {
            d * 1000.0 / self.khz as f64
        }
    }

    fn dur(&self, start: u64, end: u64) -> f64 {
        self.us(end.max(start)) - self.us(start)
    }
}

/// The timeline as a JSON value (`{"traceEvents": [...], ...}`).
pub fn timeline_json(report: &Report) -> Value {
    let khz = report.begin.map_or(0, |b| b.tsc_khz);
    let t0 = report
        .checkpoints
        .values()
        .chain(report.trace.iter().map(|e| &e.tsc))
        .min()
        .copied()
        .unwrap_or(0);
    let clock = Clock { t0, khz };
    let mut by_cpu: BTreeMap<u8, Vec<&TraceEvent>> = BTreeMap::new();
    for e in &report.trace {
        by_cpu.entry(e.cpu).or_default().push(e);
    }
    let cpus = report.begin.map_or(0, |b| b.cpus);
    let mut events = vec![
        json!({"ph": "M", "pid": PID, "name": "process_name", "args": {"name": "capOS guest"}}),
    ];
    for cpu in (0..cpus).chain(by_cpu.keys().copied().filter(|c| *c >= cpus)) {
        events.push(
            json!({"ph": "M", "pid": PID, "tid": cpu, "name": "thread_name", "args": {"name": format!("CPU {cpu}")}}),
        );
        events
            .push(json!({"ph": "M", "pid": PID, "tid": cpu, "name": "thread_sort_index", "args": {"sort_index": cpu}}));
    }
    let end_tsc = report.end.map(|e| e.tsc);
    for (cpu, list) in &mut by_cpu {
        list.sort_by_key(|e| e.tsc);
        cpu_events(&clock, *cpu, list, end_tsc, &mut events);
    }
    phase_events(&clock, report, &mut events);
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "source": "capOS measure report (capos-flamegraphs)",
            "clock": if khz == 0 { "tsc cycles shown as microseconds (tsc_khz unknown)".to_string() } else { format!("tsc at {khz} kHz") },
            "trace_dropped": report.trace_dropped.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        },
    })
}

/// Writes `dir/timeline.json`.
pub fn write_timeline(report: &Report, dir: &Path) -> Result<PathBuf, ProfileError> {
    create_dir(dir)?;
    let path = dir.join(TIMELINE_FILE);
    write_file(&path, serde_json::to_vec(&timeline_json(report))?)?;
    Ok(path)
}

fn cpu_events(
    clock: &Clock,
    cpu: u8,
    list: &[&TraceEvent],
    end_tsc: Option<u64>,
    out: &mut Vec<Value>,
) {
    let first_tsc = list.first().map_or(0, |e| e.tsc);
    let last_tsc = list.last().map_or(0, |e| e.tsc);
    // (thread, start tsc, truncated)
    let mut running: Option<(u64, u64, bool)> = None;
    let slice = |thread: u64, start: u64, end: u64, truncated: bool, out: &mut Vec<Value>| {
        out.push(json!({
            "ph": "X", "pid": PID, "tid": cpu, "cat": "sched",
            "name": format!("thread {thread}"),
            "ts": clock.us(start), "dur": clock.dur(start, end),
            "args": {"thread": thread, "truncated": truncated},
        }));
    };
    for e in list {
        let (name, args) = match e.kind {
            TraceKind::ContextSwitch => {
                match running.take() {
                    Some((thread, start, truncated)) => slice(thread, start, e.tsc, truncated, out),
                    None if e.tsc > first_tsc => slice(e.a, first_tsc, e.tsc, true, out),
                    None => {}
                }
                running = Some((e.b, e.tsc, false));
                continue;
            }
            TraceKind::Wakeup => (
                format!("wakeup thread {} -> cpu {}", e.a, e.b),
                json!({"thread": e.a, "target_cpu": e.b}),
            ),
            TraceKind::IpiSend => {
                (format!("ipi send -> {:#x}", e.a), json!({"target": e.a, "vector": e.b}))
            }
            TraceKind::IpiRecv => {
                (format!("ipi recv vector {:#x}", e.a), json!({"vector": e.a, "sender": e.b}))
            }
            TraceKind::Shootdown => (
                format!("tlb shootdown -> {:#x}", e.a),
                json!({"cpu_mask": e.a, "address_space": e.b}),
            ),
            TraceKind::LockContendedWait => {
                (format!("lock wait {:#x}", e.a), json!({"lock": e.a, "wait_cycles": e.b}))
            }
            TraceKind::PhaseMark => {
                let phase =
                    u8::try_from(e.a).ok().and_then(Phase::from_id).map_or("?", |p| p.name());
                (format!("phase mark {phase}"), json!({"phase_id": e.a}))
            }
        };
        let mut args = args;
        if let Some(map) = args.as_object_mut() {
            map.insert("flags".into(), json!(e.flags));
        }
        out.push(json!({
            "ph": "i", "s": "t", "pid": PID, "tid": cpu, "cat": e.kind.name(),
            "name": name, "ts": clock.us(e.tsc), "args": args,
        }));
    }
    if let Some((thread, start, truncated)) = running {
        let end = end_tsc.filter(|t| *t >= last_tsc).unwrap_or(last_tsc);
        slice(thread, start, end, truncated, out);
    }
}

fn phase_events(clock: &Clock, report: &Report, out: &mut Vec<Value>) {
    if report.checkpoints.is_empty() {
        return;
    }
    out.push(json!({"ph": "M", "pid": PID, "tid": PHASE_TRACK, "name": "thread_name", "args": {"name": "phases"}}));
    out.push(json!({"ph": "M", "pid": PID, "tid": PHASE_TRACK, "name": "thread_sort_index", "args": {"sort_index": PHASE_TRACK}}));
    let marks: Vec<(Phase, u64)> = report.checkpoints.iter().map(|(p, t)| (*p, *t)).collect();
    let end = report.end.map(|e| e.tsc);
    for (i, (phase, start)) in marks.iter().enumerate() {
        out.push(json!({
            "ph": "i", "s": "g", "pid": PID, "tid": PHASE_TRACK, "cat": "phase",
            "name": format!("mark {}", phase.name()), "ts": clock.us(*start),
        }));
        if *phase == Phase::FinalTotal {
            continue;
        }
        // A phase runs to the next mark taken, or to the end of the report.
        let stop = marks.get(i + 1).map(|(_, t)| *t).or(end).filter(|t| t >= start);
        if let Some(stop) = stop {
            out.push(json!({
                "ph": "X", "pid": PID, "tid": PHASE_TRACK, "cat": "phase",
                "name": phase.name(), "ts": clock.us(*start), "dur": clock.dur(*start, stop),
            }));
        }
    }
}
