//! Counter tracks and IPI flows for the timeline.
//!
//! * `samples cpu N` (`"ph":"C"`, category `samples`): the samples the
//!   CPU's ring kept in each [`BIN_US`] bin, at the bin's start, from the
//!   time-ordered samples (zero bins between two samples included, so the
//!   line drops where the CPU took none).
//! * `lock wait cpu N` (category `lock`): the CPU's contended lock wait so
//!   far, in microseconds, stepping at every `lock_contended_wait` event of
//!   its trace ring (the ring keeps the newest events: the sum starts at
//!   the first one kept).
//! * IPIs as flow arrows (category `ipi`) from the sending CPU's track at
//!   `ipi_send` to the receiving CPU's track at the matching `ipi_recv`:
//!   the latest send from that CPU to this one with that vector not yet
//!   matched. Each end is a zero-length slice the arrow binds to. A receive
//!   whose send the rings lost has no arrow.
//!
//! * `run queue cpu N` (category `sched`; `run queue global` under
//!   `sched=global`): the threads waiting in that queue, stepping at every
//!   `run_queue` event (the kernel traces each enqueue, pick and steal with
//!   the length it left, stamped under the queue's lock).

use std::collections::BTreeMap;

use capos_measure::report::Report;
use capos_measure::trace::{TraceArgs, GLOBAL_QUEUE};
use serde_json::{json, Value};

/// Width of a sample-count bin, in microseconds.
pub const BIN_US: u64 = 10_000;

/// Flow ids of IPIs start here (wakeup flows count from 1).
const IPI_FLOW_BASE: u64 = 1 << 40;

/// Appends the counter tracks of `report` on `pid` (CPU tracks' process);
/// `us` converts a TSC to the timeline's microseconds.
pub fn counter_tracks(report: &Report, pid: u64, us: impl Fn(u64) -> f64, out: &mut Vec<Value>) {
    let mut by_cpu: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for s in &report.timed_samples {
        by_cpu.entry(s.cpu).or_default().push(s.tsc);
    }
    for (cpu, tscs) in by_cpu {
        let mut bins: BTreeMap<u64, u64> = BTreeMap::new();
        for t in tscs {
            *bins.entry(us(t).max(0.0) as u64 / BIN_US).or_default() += 1;
        }
        let (Some(&first), Some(&last)) = (bins.keys().next(), bins.keys().next_back()) else {
            continue;
        };
        for bin in first..=last + 1 {
            let n = bins.get(&bin).copied().unwrap_or(0);
            out.push(json!({
                "ph": "C", "pid": pid, "name": format!("samples cpu {cpu}"), "cat": "samples",
                "ts": bin * BIN_US, "args": {"samples": n},
            }));
        }
    }
    run_queue_tracks(report, pid, &us, out);
    let khz = report.begin.map_or(0, |b| b.tsc_khz);
    let mut waits: Vec<(u64, u8, u64)> = (report.trace.iter())
        .filter_map(|e| match e.args()? {
            TraceArgs::LockContendedWait { wait_cycles, .. } => Some((e.tsc, e.cpu, wait_cycles)),
            _ => None,
        })
        .collect();
    waits.sort_unstable();
    let mut sum: BTreeMap<u8, u64> = BTreeMap::new();
    for (tsc, cpu, cycles) in waits {
        let total = sum.entry(cpu).or_default();
        *total = total.saturating_add(cycles);
        let micros = if khz == 0 { *total as f64 } else { *total as f64 * 1000.0 / khz as f64 };
        out.push(json!({
            "ph": "C", "pid": pid, "name": format!("lock wait cpu {cpu}"), "cat": "lock",
            "ts": us(tsc), "args": {"us": micros},
        }));
    }
}

/// The `run queue` counter tracks: one step per `run_queue` event.
fn run_queue_tracks(report: &Report, pid: u64, us: &impl Fn(u64) -> f64, out: &mut Vec<Value>) {
    let mut steps: Vec<(u64, u8, u64)> = (report.trace.iter())
        .filter_map(|e| match e.args()? {
            TraceArgs::RunQueue { queue, len } => Some((e.tsc, queue, len)),
            _ => None,
        })
        .collect();
    steps.sort_by_key(|s| s.0);
    for (tsc, queue, len) in steps {
        let name = match queue {
            GLOBAL_QUEUE => "run queue global".to_string(),
            cpu => format!("run queue cpu {cpu}"),
        };
        out.push(json!({
            "ph": "C", "pid": pid, "name": name, "cat": "sched", "ts": us(tsc),
            "args": {"threads": len},
        }));
    }
}

/// Appends the IPI flows of `report` between CPU tracks (`pid`, CPU
/// number); returns how many were drawn.
pub fn ipi_flows(
    report: &Report,
    pid: u64,
    us: impl Fn(u64) -> f64,
    out: &mut Vec<Value>,
) -> usize {
    // (tsc, from cpu, to cpu, vector) of sends and receives, in time order.
    let mut sends: Vec<(u64, u8, u64, u8)> = Vec::new();
    let mut recvs: Vec<(u64, u64, u8, u8)> = Vec::new();
    for e in &report.trace {
        match e.args() {
            Some(TraceArgs::IpiSend { target_cpu, vector }) => {
                sends.push((e.tsc, e.cpu, target_cpu, vector));
            }
            Some(TraceArgs::IpiRecv { vector, sender_cpu }) => {
                recvs.push((e.tsc, sender_cpu, e.cpu, vector));
            }
            _ => {}
        }
    }
    sends.sort_unstable();
    recvs.sort_unstable();
    let mut used = vec![false; sends.len()];
    let mut drawn = 0;
    for (tsc, from, to, vector) in recvs {
        let Some(i) = (0..sends.len()).rev().find(|&i| {
            let (t, f, target, v) = sends[i];
            !used[i] && t <= tsc && u64::from(f) == from && target == u64::from(to) && v == vector
        }) else {
            continue;
        };
        used[i] = true;
        drawn += 1;
        let id = IPI_FLOW_BASE + drawn as u64;
        let sent = sends[i].0;
        let latency = us(tsc) - us(sent);
        out.push(json!({
            "ph": "X", "pid": pid, "tid": from, "cat": "ipi", "ts": us(sent), "dur": 0,
            "name": format!("ipi {vector:#x} to cpu {to}"),
        }));
        out.push(json!({"ph": "s", "id": id, "pid": pid, "tid": from, "cat": "ipi", "ts": us(sent), "name": "ipi"}));
        out.push(json!({
            "ph": "X", "pid": pid, "tid": to, "cat": "ipi", "ts": us(tsc), "dur": 0,
            "name": format!("ipi {vector:#x} from cpu {from} ({latency:.1} us)"),
        }));
        out.push(json!({
            "ph": "f", "bp": "e", "id": id, "pid": pid, "tid": to, "cat": "ipi", "ts": us(tsc),
            "name": "ipi",
        }));
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::report::{Begin, TimedSample};
    use capos_measure::trace::{LockId, TraceArgs};
    use capos_measure::ContentionClass;

    fn report() -> Report {
        let mut r = Report {
            begin: Some(Begin { cpus: 2, tsc_khz: 1_000, catalogue: 0 }),
            ..Report::default()
        };
        let lock = LockId { class: ContentionClass::SharedKernelLock, index: 1 };
        r.trace = vec![
            TraceArgs::IpiSend { target_cpu: 1, vector: 0xf0 }.event(1_000, 0),
            TraceArgs::IpiSend { target_cpu: 1, vector: 0xf0 }.event(3_000, 0),
            TraceArgs::IpiRecv { vector: 0xf0, sender_cpu: 0 }.event(3_500, 1),
            TraceArgs::IpiRecv { vector: 0xf1, sender_cpu: 0 }.event(3_600, 1),
            TraceArgs::LockContendedWait { lock, wait_cycles: 2_000 }.event(4_000, 1),
            TraceArgs::LockContendedWait { lock, wait_cycles: 500 }.event(5_000, 1),
            TraceArgs::RunQueue { queue: 1, len: 1 }.event(6_000, 0),
            TraceArgs::RunQueue { queue: GLOBAL_QUEUE, len: 2 }.event(6_500, 1),
            TraceArgs::RunQueue { queue: 1, len: 0 }.event(5_500, 1),
        ];
        // Samples at 0, 1, 25 ms on CPU 0 (tsc_khz 1000: 1 cycle = 1 us).
        for t in [0, 1_000, 25_000] {
            r.timed_samples.push(TimedSample { cpu: 0, tsc: t, stack: 1 });
        }
        r
    }

    #[test]
    fn an_ipi_is_drawn_from_its_latest_matching_send() {
        let mut out = Vec::new();
        let us = |t: u64| t as f64;
        assert_eq!(ipi_flows(&report(), 1, us, &mut out), 1, "the 0xf1 receive has no send");
        let s = out.iter().find(|e| e["ph"] == "s").unwrap();
        let f = out.iter().find(|e| e["ph"] == "f").unwrap();
        assert_eq!((s["ts"].as_f64(), s["tid"].as_u64()), (Some(3_000.0), Some(0)));
        assert_eq!((f["ts"].as_f64(), f["tid"].as_u64()), (Some(3_500.0), Some(1)));
        assert_eq!(s["id"], f["id"]);
        assert!(out.iter().any(|e| e["name"] == "ipi 0xf0 from cpu 0 (500.0 us)"));
    }

    #[test]
    fn counters_bin_the_samples_and_sum_the_waits() {
        let mut out = Vec::new();
        counter_tracks(&report(), 1, |t| t as f64, &mut out);
        let samples: Vec<(u64, u64)> = (out.iter())
            .filter(|e| e["name"] == "samples cpu 0")
            .map(|e| (e["ts"].as_u64().unwrap(), e["args"]["samples"].as_u64().unwrap()))
            .collect();
        // Bins of 10 ms: 2 samples, an empty bin, 1, then the closing 0.
        assert_eq!(samples, [(0, 2), (10_000, 0), (20_000, 1), (30_000, 0)]);
        let waits: Vec<f64> = (out.iter())
            .filter(|e| e["name"] == "lock wait cpu 1")
            .map(|e| e["args"]["us"].as_f64().unwrap())
            .collect();
        // tsc_khz 1000: 2000 cycles = 2000 us, then 2500.
        assert_eq!(waits, [2_000.0, 2_500.0]);
        // CPU 1's queue, in time order whichever CPU changed it.
        let queue = |name: &str| -> Vec<(f64, u64)> {
            (out.iter())
                .filter(|e| e["name"] == name)
                .map(|e| (e["ts"].as_f64().unwrap(), e["args"]["threads"].as_u64().unwrap()))
                .collect()
        };
        assert_eq!(queue("run queue cpu 1"), [(5_500.0, 0), (6_000.0, 1)]);
        assert_eq!(queue("run queue global"), [(6_500.0, 2)]);
    }
}
