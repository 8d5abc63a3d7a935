//! The time-ordered samples ([`Report::timed_samples`]) as a flame chart on
//! one timeline track per thread (the track scheme is in
//! [`crate::timeline`]).
//!
//! * A sample covers its CPU from its TSC to that CPU's next sample, at
//!   most [`cap`] (two sample periods when `sample_hz` and the TSC rate are
//!   known, else the median gap between consecutive samples of a CPU); a
//!   CPU's last sample gets the cap. On one thread a sample ends no later
//!   than the thread's next sample starts (a thread that moved CPUs).
//! * Its frames, resolved like the flamegraphs' and root first, are nested
//!   complete (`X`) slices: depth 0 is the root. A sample that starts where
//!   the thread's previous one ended extends the slices of the frames the
//!   two share as a prefix, and opens new ones only below them, so a loop
//!   in one function reads as one long slice (as in a stack chart).
//! * A sample whose stack was not kept (id 0, or an id missing from
//!   [`Report::stack_defs`]) has no tag: it goes to the thread the CPU's
//!   context switches say was running then (when that thread is known),
//!   else to its CPU's "thread unknown" track, as one `<stack not kept>`
//!   slice.
//! * Times are whole microseconds, rounded down at both ends, so a child
//!   never ends after its parent once a viewer converts them.

use std::collections::BTreeMap;

use capos_measure::report::Report;
use capos_measure::trace::TraceArgs;
use capos_symbolize::Resolver;
use serde_json::{json, Value};

use crate::folded::Namer;
use crate::threads::Threads;

/// Name of the slice of a sample whose stack the guest did not keep.
pub const NOT_KEPT: &str = "<stack not kept>";

/// Where a sample is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    /// A thread ref known to [`Threads`].
    Thread(u64),
    /// A CPU's samples whose thread is unknown.
    Cpu(u8),
}

/// One sample, placed: TSC span and root-first frame names.
#[derive(Clone, Debug, PartialEq)]
struct Placed {
    start: u64,
    end: u64,
    frames: Vec<String>,
}

/// One flame-chart slice in TSC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartSlice {
    pub name: String,
    pub depth: usize,
    pub start: u64,
    pub end: u64,
    /// Samples it spans.
    pub samples: u64,
}

/// The longest TSC span one sample covers (at least 1 cycle).
pub fn cap(report: &Report) -> u64 {
    let khz = report.begin.map_or(0, |b| b.tsc_khz);
    let hz = report.instrument.map_or(0, |i| i.sample_hz);
    if khz > 0 && hz > 0 {
        let period = (u128::from(khz) * 1000 / u128::from(hz)) as u64;
        return period.saturating_mul(2).max(1);
    }
    let mut gaps = Vec::new();
    for list in by_cpu(report).values() {
        gaps.extend(list.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).filter(|g| *g > 0));
    }
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().unwrap_or(1).max(1)
}

/// (tsc, stack id) per CPU, in time order.
fn by_cpu(report: &Report) -> BTreeMap<u8, Vec<(u64, u32)>> {
    let mut out: BTreeMap<u8, Vec<(u64, u32)>> = BTreeMap::new();
    for s in &report.timed_samples {
        out.entry(s.cpu).or_default().push((s.tsc, s.stack));
    }
    for list in out.values_mut() {
        list.sort_by_key(|s| s.0);
    }
    out
}

/// Per CPU, (tsc, thread switched to) in time order, and the thread that
/// ran before the first one when the CPU's ring lost nothing.
struct Schedule {
    switches: BTreeMap<u8, Vec<(u64, u64)>>,
    before_first: BTreeMap<u8, u64>,
}

impl Schedule {
    fn of(report: &Report) -> Schedule {
        let mut events: Vec<(u8, u64, u64, u64)> = report
            .trace
            .iter()
            .filter_map(|e| match e.args() {
                Some(TraceArgs::ContextSwitch { prev, next, .. }) => {
                    Some((e.cpu, e.tsc, prev, next))
                }
                _ => None,
            })
            .collect();
        events.sort_by_key(|e| (e.0, e.1));
        let mut switches: BTreeMap<u8, Vec<(u64, u64)>> = BTreeMap::new();
        let mut before_first = BTreeMap::new();
        for (cpu, tsc, prev, next) in events {
            let list = switches.entry(cpu).or_default();
            if list.is_empty() && report.trace_dropped.get(&cpu).copied().unwrap_or(0) == 0 {
                before_first.insert(cpu, prev);
            }
            list.push((tsc, next));
        }
        Schedule { switches, before_first }
    }

    /// The thread running on `cpu` at `tsc`, if the trace says.
    fn running(&self, cpu: u8, tsc: u64) -> Option<u64> {
        let list = self.switches.get(&cpu)?;
        let after = list.partition_point(|(t, _)| *t <= tsc);
        match after.checked_sub(1) {
            Some(i) => list.get(i).map(|s| s.1),
            None => self.before_first.get(&cpu).copied(),
        }
    }
}

/// Each sample placed on its track, in time order per track.
fn place(
    report: &Report,
    resolver: &Resolver<'_>,
    threads: &Threads,
) -> BTreeMap<Track, Vec<Placed>> {
    let cap = cap(report);
    let schedule = Schedule::of(report);
    let mut namer = Namer::new(resolver);
    let mut tracks: BTreeMap<Track, Vec<Placed>> = BTreeMap::new();
    for (cpu, list) in by_cpu(report) {
        for (i, (tsc, stack)) in list.iter().enumerate() {
            let next = list.get(i + 1).map(|s| s.0);
            let end = next.map_or(tsc.saturating_add(cap), |n| n.min(tsc.saturating_add(cap)));
            let (track, frames) = match report.stack_defs.get(stack).filter(|_| *stack != 0) {
                Some((tag, frames)) => {
                    let mut names = namer.stack_in(Some(u64::from(tag.pid)), frames);
                    if names.is_empty() {
                        names.push("<empty stack>".to_string());
                    }
                    (Track::Thread(tag.tid), names)
                }
                None => {
                    let track = schedule
                        .running(cpu, *tsc)
                        .filter(|t| threads.get(*t).is_some())
                        .map_or(Track::Cpu(cpu), Track::Thread);
                    (track, vec![NOT_KEPT.to_string()])
                }
            };
            tracks.entry(track).or_default().push(Placed { start: *tsc, end, frames });
        }
    }
    for list in tracks.values_mut() {
        list.sort_by_key(|p| p.start);
        for i in 1..list.len() {
            let start = list[i].start;
            let prev = &mut list[i - 1];
            prev.end = prev.end.min(start).max(prev.start);
        }
    }
    tracks
}

/// The flame chart of every track: slices in TSC, parents before their
/// children at equal starts.
pub fn chart(
    report: &Report,
    resolver: &Resolver<'_>,
    threads: &Threads,
) -> BTreeMap<Track, Vec<ChartSlice>> {
    place(report, resolver, threads)
        .into_iter()
        .map(|(track, list)| (track, merge(&list)))
        .collect()
}

/// Nested slices of one track's samples, sharing prefixes of contiguous
/// samples.
fn merge(list: &[Placed]) -> Vec<ChartSlice> {
    let mut out = Vec::new();
    // Open slices, root first: (name, start, samples).
    let mut open: Vec<(String, u64, u64)> = Vec::new();
    let mut prev_end: Option<u64> = None;
    for p in list {
        let keep = if prev_end == Some(p.start) {
            open.iter().zip(&p.frames).take_while(|(o, f)| o.0 == **f).count()
        } else {
            0
        };
        let close_at = prev_end.unwrap_or(p.start);
        while open.len() > keep {
            let depth = open.len() - 1;
            if let Some((name, start, samples)) = open.pop() {
                out.push(ChartSlice { name, depth, start, end: close_at, samples });
            }
        }
        for o in open.iter_mut() {
            o.2 = o.2.saturating_add(1);
        }
        for f in &p.frames[keep..] {
            open.push((f.clone(), p.start, 1));
        }
        prev_end = Some(p.end);
    }
    let close_at = prev_end.unwrap_or(0);
    while let Some((name, start, samples)) = open.pop() {
        out.push(ChartSlice { name, depth: open.len(), start, end: close_at, samples });
    }
    out.sort_by_key(|s| (s.start, s.depth));
    out
}

/// The chart's slices as trace events on `(pid, tid)` per track, with
/// `us` converting TSC to microseconds.
pub(crate) fn chart_events(
    chart: &BTreeMap<Track, Vec<ChartSlice>>,
    track_ids: impl Fn(Track) -> Option<(u64, u64)>,
    us: impl Fn(u64) -> f64,
    out: &mut Vec<Value>,
) {
    for (track, slices) in chart {
        let Some((pid, tid)) = track_ids(*track) else { continue };
        for s in slices {
            let (ts, end) = (us(s.start).floor(), us(s.end).floor());
            out.push(json!({
                "ph": "X", "pid": pid, "tid": tid, "cat": "sample",
                "name": s.name, "ts": ts, "dur": (end - ts).max(0.0),
                "args": {"samples": s.samples, "depth": s.depth},
            }));
        }
    }
}
