//! Machine-readable copy of a report (`measure.json`), same content as the
//! text: every group line with all declared fields, zeros included.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::instrument_info::InstrumentInfo;
use crate::lock_pairs::site_name;
use crate::log_text::contention_names;
use crate::phase::Phase;
use crate::record::{Mode, SampleMode, SampleTag, WIRE_VERSION};
use crate::report::{Begin, End, LoadMap, Report, ThreadName, TimedSample};
use crate::thread_ops::ThreadOps;

#[derive(Serialize)]
struct Json<'a> {
    wire_version: u8,
    begin: Option<&'a Begin>,
    instrument: Option<&'a InstrumentInfo>,
    checkpoints: Vec<Named>,
    phase_cycles: Vec<Named>,
    groups: Vec<GroupJson>,
    histograms: Vec<HistJson>,
    pc_samples: Vec<PcJson>,
    stack_samples: Vec<StackJson<'a>>,
    contention_stacks: Vec<ContentionJson<'a>>,
    lock_pairs: Vec<LockPairJson>,
    trace: Vec<TraceJson>,
    thread_ops: Vec<&'a ThreadOps>,
    trace_dropped: &'a BTreeMap<u8, u64>,
    load_maps: &'a [LoadMap],
    /// Per (phase, CPU): cycles by state name.
    cpu_time: Vec<CpuTimeJson>,
    /// Per (phase, thread): cycles by thread state name.
    thread_time: Vec<ThreadTimeJson>,
    /// Per (phase, CPU, kind): log-linear buckets (index: count) and sum.
    run_delay: Vec<RunDelayJson<'a>>,
    run_delay_worst: Vec<RunDelayWorstJson<'a>>,
    offcpu_stacks: Vec<OffCpuJson<'a>>,
    thread_names: Vec<&'a ThreadName>,
    stack_defs: Vec<StackDefJson<'a>>,
    /// Per CPU in time order; `stack` is a `stack_defs` id (0: not kept).
    timed_samples: &'a [TimedSample],
    end: Option<&'a End>,
}

#[derive(Serialize)]
struct CpuTimeJson {
    phase: Phase,
    cpu: u8,
    cycles: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct ThreadTimeJson {
    phase: Phase,
    thread: u64,
    pid: u32,
    cycles: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct RunDelayJson<'a> {
    phase: Phase,
    cpu: u8,
    kind: &'static str,
    sum: u64,
    buckets: &'a BTreeMap<u8, u64>,
}

#[derive(Serialize)]
struct RunDelayWorstJson<'a> {
    phase: Phase,
    cpu: u8,
    kind: &'static str,
    #[serde(flatten)]
    worst: &'a crate::run_delay::WorstDelay,
}

#[derive(Serialize)]
struct OffCpuJson<'a> {
    phase: Phase,
    reason: &'static str,
    count: u64,
    blocked_cycles: u64,
    /// Leaf first.
    frames: &'a [u64],
}

#[derive(Serialize)]
struct StackDefJson<'a> {
    id: u32,
    #[serde(flatten)]
    tag: TagJson,
    /// Leaf first.
    frames: &'a [u64],
}

#[derive(Serialize)]
struct Named {
    phase: Phase,
    value: u64,
}

#[derive(Serialize)]
struct GroupJson {
    phase: Phase,
    group: &'static str,
    /// `{"site": "timer_select"}` for dimensioned groups.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dim: BTreeMap<&'static str, String>,
    fields: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct HistJson {
    phase: Phase,
    group: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dim: BTreeMap<&'static str, String>,
    kind: &'static str,
    /// Bucket index -> count, non-zero buckets only.
    buckets: BTreeMap<u8, u64>,
}

#[derive(Serialize)]
struct PcJson {
    phase: Phase,
    #[serde(flatten)]
    tag: TagJson,
    pc: u64,
    count: u64,
}

/// A sample's tag: `family` is `user` or `kernel` (the line family),
/// `mode` what the CPU was doing, `lock` the held lock's `class:label`.
#[derive(Serialize)]
struct TagJson {
    family: Mode,
    mode: SampleMode,
    cpu: u8,
    pid: u32,
    tid: u64,
    lock: Option<String>,
}

impl TagJson {
    fn new(t: &SampleTag) -> Self {
        TagJson {
            family: t.family(),
            mode: t.mode,
            cpu: t.cpu,
            pid: t.pid,
            tid: t.tid,
            lock: t.lock.map(|l| l.name()),
        }
    }
}

#[derive(Serialize)]
struct StackJson<'a> {
    phase: Phase,
    #[serde(flatten)]
    tag: TagJson,
    /// Leaf first.
    frames: &'a [u64],
    count: u64,
}

#[derive(Serialize)]
struct LockPairJson {
    phase: Phase,
    /// `scheduler_lock` or `shared_kernel_lock`.
    class: String,
    /// The waiting site (or shared lock).
    waiter: String,
    /// The holding site (or shared lock), `unknown` when not seen.
    holder: String,
    count: u64,
    wait_cycles: u64,
    cross_cpu: u64,
}

#[derive(Serialize)]
struct ContentionJson<'a> {
    phase: Phase,
    /// `scheduler_lock` or `shared_kernel_lock`.
    class: String,
    /// Site or lock name (`timer_select`, `heap`, ...).
    lock: String,
    /// Leaf first.
    frames: &'a [u64],
    count: u64,
    wait_cycles: u64,
}

#[derive(Serialize)]
struct TraceJson {
    cpu: u8,
    tsc: u64,
    kind: &'static str,
    /// The arguments by name (`capos_measure::trace::TraceArgs`); raw slots
    /// `a`, `b`, `flags` for an event no kind can carry.
    args: BTreeMap<&'static str, u64>,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut groups = Vec::new();
        let mut histograms = Vec::new();
        for line in self.group_lines() {
            let dim: BTreeMap<_, _> = line.dim.clone().into_iter().collect();
            for (kind, buckets) in line.hists {
                histograms.push(HistJson {
                    phase: line.phase,
                    group: line.group.name,
                    dim: dim.clone(),
                    kind,
                    buckets,
                });
            }
            groups.push(GroupJson {
                phase: line.phase,
                group: line.group.name,
                dim,
                fields: line.values.into_iter().collect(),
            });
        }
        let json = Json {
            wire_version: WIRE_VERSION,
            begin: self.begin.as_ref(),
            instrument: self.instrument.as_ref(),
            checkpoints: self
                .checkpoints
                .iter()
                .map(|(p, v)| Named { phase: *p, value: *v })
                .collect(),
            phase_cycles: self
                .phase_cycles
                .iter()
                .map(|(p, v)| Named { phase: *p, value: *v })
                .collect(),
            groups,
            histograms,
            pc_samples: self
                .pc_samples
                .iter()
                .map(|((phase, tag, pc), count)| PcJson {
                    phase: *phase,
                    tag: TagJson::new(tag),
                    pc: *pc,
                    count: *count,
                })
                .collect(),
            stack_samples: self
                .stack_samples
                .iter()
                .map(|((phase, tag, frames), count)| StackJson {
                    phase: *phase,
                    tag: TagJson::new(tag),
                    frames,
                    count: *count,
                })
                .collect(),
            contention_stacks: self
                .contention_stacks
                .iter()
                .map(|((phase, class, lock, frames), (count, wait))| {
                    let (class, lock) = contention_names(*class, *lock);
                    ContentionJson {
                        phase: *phase,
                        class,
                        lock,
                        frames,
                        count: *count,
                        wait_cycles: *wait,
                    }
                })
                .collect(),
            lock_pairs: self
                .lock_pairs
                .iter()
                .map(|((phase, class, waiter, holder), p)| LockPairJson {
                    phase: *phase,
                    class: contention_names(*class, 0).0,
                    waiter: site_name(*class, *waiter),
                    holder: site_name(*class, *holder),
                    count: p.count,
                    wait_cycles: p.wait_cycles,
                    cross_cpu: p.cross_cpu,
                })
                .collect(),
            trace: self
                .trace
                .iter()
                .map(|e| TraceJson {
                    cpu: e.cpu,
                    tsc: e.tsc,
                    kind: e.kind.name(),
                    args: match e.args() {
                        Some(args) => args.named().into_iter().collect(),
                        None => BTreeMap::from([("a", e.a), ("b", e.b), ("flags", e.flags as u64)]),
                    },
                })
                .collect(),
            thread_ops: self.thread_ops.values().collect(),
            trace_dropped: &self.trace_dropped,
            load_maps: &self.load_maps,
            cpu_time: self
                .cpu_time
                .iter()
                .map(|((phase, cpu), c)| CpuTimeJson {
                    phase: *phase,
                    cpu: *cpu,
                    cycles: crate::cpu_time::CpuState::ALL
                        .iter()
                        .map(|s| s.name())
                        .zip(c.iter().copied())
                        .collect(),
                })
                .collect(),
            thread_time: self
                .thread_time
                .values()
                .map(|t| ThreadTimeJson {
                    phase: t.phase,
                    thread: t.thread,
                    pid: t.pid,
                    cycles: crate::thread_time::ThreadState::all()
                        .map(|s| s.name())
                        .zip(t.cycles)
                        .collect(),
                })
                .collect(),
            run_delay: self
                .run_delay
                .iter()
                .map(|((phase, cpu, kind), (sum, buckets))| RunDelayJson {
                    phase: *phase,
                    cpu: *cpu,
                    kind: delay_kind(*kind),
                    sum: *sum,
                    buckets,
                })
                .collect(),
            run_delay_worst: self
                .run_delay_worst
                .iter()
                .map(|((phase, cpu), worst)| RunDelayWorstJson {
                    phase: *phase,
                    cpu: *cpu,
                    kind: delay_kind(worst.kind),
                    worst,
                })
                .collect(),
            offcpu_stacks: self
                .offcpu_stacks
                .iter()
                .map(|((phase, reason, frames), (count, blocked))| OffCpuJson {
                    phase: *phase,
                    reason: crate::thread_time::BlockReason::from_id(*reason)
                        .map_or("?", |r| r.name()),
                    count: *count,
                    blocked_cycles: *blocked,
                    frames,
                })
                .collect(),
            thread_names: self.thread_names.values().collect(),
            stack_defs: self
                .stack_defs
                .iter()
                .map(|(id, (tag, frames))| StackDefJson { id: *id, tag: TagJson::new(tag), frames })
                .collect(),
            timed_samples: &self.timed_samples,
            end: self.end.as_ref(),
        };
        serde_json::to_string_pretty(&json)
    }
}

fn delay_kind(id: u8) -> &'static str {
    crate::run_delay::DelayKind::from_id(u64::from(id)).map_or("?", |k| k.name())
}
