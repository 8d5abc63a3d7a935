//! A per-CPU scheduling timeline in Chrome trace-event JSON, which Perfetto
//! (ui.perfetto.dev, "Open trace file") and chrome://tracing open, with the
//! samples as a flame chart per thread.
//!
//! Tracks (JSON `pid` / `tid`; the ranges never overlap):
//!
//! | JSON pid | JSON tid | track |
//! |---|---|---|
//! | 1 (`capOS guest`) | CPU number (0..=255) | that CPU's scheduling |
//! | 1 | 1000 | phases |
//! | 1 | 1100 + CPU | that CPU's samples whose thread is unknown |
//! | 2 + capOS pid (2: `kernel`) | 2000 + n | the n-th thread (by thread ref) of [`crate::threads::Threads`], named by its thread label, in its process's group named by its process label |
//!
//! * One track per CPU: a complete slice (`"ph":"X"`) per stretch a thread
//!   ran, named by its thread label (`worker-1 (t5)`; `t5` when no name or
//!   sample tells its process), cut at `context_switch` events (`a`
//!   previous and next thread; `args.thread` is the raw ref). The first
//!   switch seen on a CPU also opens a slice for the thread it switched away
//!   from: from the start of measurement when that CPU's ring lost nothing,
//!   else from its first retained event and flagged `truncated` (the rings
//!   keep only the newest events). The last slice ends at the report's end
//!   TSC. Slices on one CPU never overlap.
//! * Instant events (`"ph":"i"`) on the CPU's track for wakeups, IPIs sent
//!   and received, TLB shootdowns, contended lock waits and phase marks,
//!   their `args` named by `capos_measure::trace::TraceArgs` (the same
//!   definition the kernel records through).
//! * A `phases` track with one slice per phase, from the report's
//!   checkpoints, and a global instant at every mark.
//! * Thread tracks: `process_name` / `thread_name` metadata for every
//!   process and thread the report knows, and the time-ordered samples as a
//!   flame chart (category `sample`, see [`crate::flame_chart`]).
//! * Wakeups as flow arrows from the waker's thread track (or the waking
//!   CPU's track, for the timer) to the woken thread's track at its next
//!   switch-in (category `wakeup`, see [`crate::wake_flows`]).
//! * Counter tracks (samples per CPU per 10 ms, each CPU's contended lock
//!   wait so far) and IPIs as flow arrows between CPU tracks (see
//!   [`crate::counters`]).
//!
//! Times are microseconds since the earliest known TSC: `(tsc - t0) * 1000 /
//! tsc_khz`. Without a TSC frequency (`tsc_khz=0`) one cycle counts as one
//! microsecond and `otherData.clock` says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_measure::report::Report;
use capos_measure::trace::{TraceArgs, TraceEvent};
use capos_symbolize::{Binaries, ElfPaths, Resolver};
use serde_json::{json, Value};

use crate::error::{create_dir, write_file, ProfileError};
use crate::flame_chart::{chart, chart_events, Track};
use crate::threads::Threads;

/// File name of the timeline.
pub const TIMELINE_FILE: &str = "timeline.json";
const PID: u64 = 1;
/// Track of the phase slices.
pub const PHASE_TRACK: u64 = 1000;
/// JSON tid of CPU 0's "thread unknown" sample track (CPU n: + n).
pub const UNKNOWN_THREAD_TRACK: u64 = 1100;
/// JSON pid of capOS process 0 (the kernel); process p is this + p.
pub const PROCESS_PID_BASE: u64 = 2;
/// JSON tid of the first thread track.
pub const THREAD_TID_BASE: u64 = 2000;

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

/// The timeline as a JSON value (`{"traceEvents": [...], ...}`), frames
/// named without ELFs (see [`timeline_json_resolved`]).
pub fn timeline_json(report: &Report) -> Value {
    let bins = Binaries::load(&ElfPaths::new(), std::iter::empty());
    timeline_json_resolved(report, &Resolver::new(&bins, &report.load_maps))
}

/// The timeline, flame-chart frames named through `resolver`.
pub fn timeline_json_resolved(report: &Report, resolver: &Resolver<'_>) -> Value {
    let khz = report.begin.map_or(0, |b| b.tsc_khz);
    let t0 = report
        .checkpoints
        .values()
        .chain(report.trace.iter().map(|e| &e.tsc))
        .chain(report.timed_samples.iter().map(|s| &s.tsc))
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
    let threads = Threads::of(report);
    let end_tsc = report.end.map(|e| e.tsc);
    for (cpu, list) in &mut by_cpu {
        list.sort_by_key(|e| e.tsc);
        let dropped = report.trace_dropped.get(cpu).copied().unwrap_or(0);
        cpu_events(&clock, &threads, *cpu, list, end_tsc, dropped, &mut events);
    }
    phase_events(&clock, report, &mut events);
    thread_events(&clock, report, resolver, &threads, &mut events);
    crate::counters::counter_tracks(report, PID, |t| clock.us(t), &mut events);
    crate::counters::ipi_flows(report, PID, |t| clock.us(t), &mut events);
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

/// Writes `dir/timeline.json`, frames named without ELFs.
pub fn write_timeline(report: &Report, dir: &Path) -> Result<PathBuf, ProfileError> {
    let bins = Binaries::load(&ElfPaths::new(), std::iter::empty());
    write_timeline_resolved(report, &Resolver::new(&bins, &report.load_maps), dir)
}

/// Writes `dir/timeline.json`, frames named through `resolver`.
pub fn write_timeline_resolved(
    report: &Report,
    resolver: &Resolver<'_>,
    dir: &Path,
) -> Result<PathBuf, ProfileError> {
    create_dir(dir)?;
    let path = dir.join(TIMELINE_FILE);
    write_file(&path, serde_json::to_vec(&timeline_json_resolved(report, resolver))?)?;
    Ok(path)
}

/// Process and thread tracks: metadata for every known thread and its
/// process, the flame chart of the timed samples, and the CPUs' "thread
/// unknown" tracks that have samples.
fn thread_events(
    clock: &Clock,
    report: &Report,
    resolver: &Resolver<'_>,
    threads: &Threads,
    out: &mut Vec<Value>,
) {
    let json_pid = |pid: u32| PROCESS_PID_BASE + u64::from(pid);
    let mut json_tid: BTreeMap<u64, u64> = BTreeMap::new();
    let mut processes: BTreeMap<u32, ()> = BTreeMap::new();
    for (n, t) in threads.by_tid.values().enumerate() {
        let tid = THREAD_TID_BASE + n as u64;
        json_tid.insert(t.tid, tid);
        if processes.insert(t.pid, ()).is_none() {
            let pid = json_pid(t.pid);
            out.push(json!({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": report.process_label(t.pid)}}));
            out.push(json!({"ph": "M", "pid": pid, "name": "process_sort_index", "args": {"sort_index": pid}}));
        }
        let pid = json_pid(t.pid);
        out.push(json!({"ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": {"name": t.label}}));
        out.push(json!({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}}));
    }
    let chart = chart(report, resolver, threads);
    for track in chart.keys() {
        if let Track::Cpu(cpu) = track {
            let tid = UNKNOWN_THREAD_TRACK + u64::from(*cpu);
            out.push(json!({"ph": "M", "pid": PID, "tid": tid, "name": "thread_name", "args": {"name": format!("CPU {cpu} samples (thread unknown)")}}));
            out.push(json!({"ph": "M", "pid": PID, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}}));
        }
    }
    let ids = |track: Track| match track {
        Track::Thread(t) => {
            let info = threads.get(t)?;
            Some((json_pid(info.pid), *json_tid.get(&t)?))
        }
        Track::Cpu(cpu) => Some((PID, UNKNOWN_THREAD_TRACK + u64::from(cpu))),
    };
    chart_events(&chart, ids, |tsc| clock.us(tsc), out);
    let thread_track = |t: u64| Some((json_pid(threads.get(t)?.pid), *json_tid.get(&t)?));
    let cpu_track = |cpu: u8| (PID, u64::from(cpu));
    crate::wake_flows::wake_flows(report, threads, thread_track, cpu_track, |t| clock.us(t), out);
}

fn cpu_events(
    clock: &Clock,
    threads: &Threads,
    cpu: u8,
    list: &[&TraceEvent],
    end_tsc: Option<u64>,
    dropped: u64,
    out: &mut Vec<Value>,
) {
    let last_tsc = list.last().map_or(0, |e| e.tsc);
    // The thread running before this CPU's first retained switch ran from
    // at least the start of measurement (`clock.t0`) when the ring lost
    // nothing; its start is unknown (`truncated`) only when events were lost.
    let (first_start, first_truncated) =
        if dropped > 0 { (list.first().map_or(0, |e| e.tsc), true) } else { (clock.t0, false) };
    // (thread, start tsc, truncated)
    let mut running: Option<(u64, u64, bool)> = None;
    let mut seen_switch = false;
    let slice = |thread: u64, start: u64, end: u64, truncated: bool, out: &mut Vec<Value>| {
        out.push(json!({
            "ph": "X", "pid": PID, "tid": cpu, "cat": "sched",
            "name": threads.label(thread),
            "ts": clock.us(start), "dur": clock.dur(start, end),
            "args": {"thread": thread, "truncated": truncated},
        }));
    };
    for e in list {
        let Some(args) = e.args() else {
            out.push(json!({
                "ph": "i", "s": "t", "pid": PID, "tid": cpu, "cat": e.kind.name(),
                "name": format!("{} (undecodable arguments)", e.kind.name()),
                "ts": clock.us(e.tsc), "args": {"a": e.a, "b": e.b, "flags": e.flags},
            }));
            continue;
        };
        let name = match args {
            TraceArgs::ContextSwitch { prev, next, .. } => {
                match running.take() {
                    Some((thread, start, truncated)) => slice(thread, start, e.tsc, truncated, out),
                    None if !seen_switch && e.tsc > first_start => {
                        slice(prev, first_start, e.tsc, first_truncated, out)
                    }
                    None => {}
                }
                seen_switch = true;
                running = Some((next, e.tsc, false));
                continue;
            }
            TraceArgs::Wakeup { thread, target_cpu, waker } => {
                let waker =
                    if waker == 0 { "an interrupt".to_string() } else { threads.label(waker) };
                format!("wakeup {} -> cpu {target_cpu} (by {waker})", threads.label(thread))
            }
            TraceArgs::IpiSend { target_cpu, vector } => {
                format!("ipi send vector {vector:#x} -> cpu {target_cpu}")
            }
            TraceArgs::IpiRecv { vector, sender_cpu } => {
                format!("ipi recv vector {vector:#x} from cpu {sender_cpu}")
            }
            TraceArgs::Shootdown { cpu_mask, address_space } => {
                format!("tlb shootdown of {address_space:#x} -> cpus {cpu_mask:#b}")
            }
            TraceArgs::LockContendedWait { lock, wait_cycles } => format!(
                "lock wait {} ({wait_cycles} cycles)",
                lock.label().unwrap_or_else(|| format!("{:#x}", lock.to_u64()))
            ),
            TraceArgs::PhaseMark { phase, .. } => {
                let phase = Phase::from_id(phase).map_or("?", |p| p.name());
                format!("phase mark {phase}")
            }
            // Drawn as the `run queue` counter tracks, not as instants.
            TraceArgs::RunQueue { .. } => continue,
        };
        let mut map = serde_json::Map::new();
        for (k, v) in args.named() {
            map.insert(k.into(), json!(v));
        }
        if let TraceArgs::LockContendedWait { lock, .. } = args {
            if let Some(label) = lock.label() {
                map.insert("lock_name".into(), json!(label));
            }
        }
        out.push(json!({
            "ph": "i", "s": "t", "pid": PID, "tid": cpu, "cat": e.kind.name(),
            "name": name, "ts": clock.us(e.tsc), "args": Value::Object(map),
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
