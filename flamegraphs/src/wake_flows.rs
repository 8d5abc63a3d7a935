//! Wakeups as flow arrows in the timeline: from the waker's thread track
//! (the waking CPU's track when the timer interrupt woke the thread) to the
//! woken thread's track, at the woken thread's next switch-in.
//!
//! Each `wakeup` trace event becomes a pair of zero-length slices (`"ph":
//! "X"`, category `wakeup`) that the arrow binds to: `wakes <thread>` on
//! the waker's track at the wakeup, `woken by <waker> (<delay> us queued)`
//! on the woken thread's track at the first `context_switch` to it at or
//! after the wakeup (at the wakeup itself when the rings kept no such
//! switch), and a Chrome flow (`"ph":"s"` then `"ph":"f"` with `"bp":"e"`,
//! one `id` per wakeup) between them, which Perfetto draws as an arrow.
//! A wakeup whose woken thread has no track (no sample or name tells its
//! process) is left out.

use std::collections::BTreeMap;

use capos_measure::report::Report;
use capos_measure::trace::TraceArgs;
use serde_json::{json, Value};

use crate::threads::Threads;

/// A track's (JSON pid, JSON tid).
pub type TrackIds = (u64, u64);

/// Appends the wakeup slices and flows of `report` to `out`; `thread_track`
/// gives a thread's track, `cpu_track` a CPU's, `us` converts a TSC.
pub fn wake_flows(
    report: &Report,
    threads: &Threads,
    thread_track: impl Fn(u64) -> Option<TrackIds>,
    cpu_track: impl Fn(u8) -> TrackIds,
    us: impl Fn(u64) -> f64,
    out: &mut Vec<Value>,
) -> usize {
    // Each thread's switch-in TSCs, ascending.
    let mut runs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in &report.trace {
        if let Some(TraceArgs::ContextSwitch { next, .. }) = e.args() {
            runs.entry(next).or_default().push(e.tsc);
        }
    }
    for list in runs.values_mut() {
        list.sort_unstable();
    }
    let mut wakeups: Vec<(u64, u8, u64, u64)> = (report.trace.iter())
        .filter_map(|e| match e.args()? {
            TraceArgs::Wakeup { thread, waker, .. } => Some((e.tsc, e.cpu, thread, waker)),
            _ => None,
        })
        .collect();
    wakeups.sort_unstable();
    let mut id = 0u64;
    for (tsc, cpu, thread, waker) in wakeups {
        let Some((to_pid, to_tid)) = thread_track(thread) else { continue };
        let (from_pid, from_tid) = if waker == 0 {
            cpu_track(cpu)
        } else {
            thread_track(waker).unwrap_or_else(|| cpu_track(cpu))
        };
        let ran = (runs.get(&thread))
            .and_then(|list| list.get(list.partition_point(|t| *t < tsc)))
            .copied()
            .unwrap_or(tsc);
        let by = if waker == 0 { "the timer".to_string() } else { threads.label(waker) };
        let queued = us(ran) - us(tsc);
        id += 1;
        out.push(json!({
            "ph": "X", "pid": from_pid, "tid": from_tid, "cat": "wakeup", "ts": us(tsc), "dur": 0,
            "name": format!("wakes {}", threads.label(thread)),
        }));
        out.push(json!({
            "ph": "s", "id": id, "pid": from_pid, "tid": from_tid, "cat": "wakeup", "ts": us(tsc),
            "name": "wakeup",
        }));
        out.push(json!({
            "ph": "X", "pid": to_pid, "tid": to_tid, "cat": "wakeup", "ts": us(ran), "dur": 0,
            "name": format!("woken by {by} ({queued:.1} us queued)"),
        }));
        out.push(json!({
            "ph": "f", "bp": "e", "id": id, "pid": to_pid, "tid": to_tid, "cat": "wakeup",
            "ts": us(ran), "name": "wakeup",
        }));
    }
    id as usize
}
