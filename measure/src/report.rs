//! Host side: a [`Report`] assembled from the guest's record stream (or
//! parsed back from `measure.log`), and the catalogue-ordered views that the
//! text and JSON writers share.
//!
//! A report stores only non-zero values; every writer walks the catalogue and
//! prints each declared field, so "absent" is printed as an exact zero.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::GROUPS;
use crate::declare::{Counter, DimLabels, GroupDesc, Hist, FINGERPRINT};
use crate::hist::BUCKETS;
use crate::instrument_info::InstrumentInfo;
use crate::lock_pairs::{PairKey, PairSums};
use crate::phase::Phase;
use crate::record::{decode, ContentionKey, DecodeError, Mode, PcKey, Record, SampleTag, StackKey};
use crate::thread_ops::ThreadOps;
use crate::trace::TraceEvent;

/// The guest's `Begin` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Begin {
    pub cpus: u8,
    pub tsc_khz: u64,
    pub catalogue: u64,
}

/// The guest's `End` record plus what the host saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub tsc: u64,
    /// Records the guest says it sent before `End`.
    pub records: u64,
    /// Of those, how many never arrived (0 for a complete report).
    pub lost: u64,
}

/// A process's load map: where its binary sits, for symbolization.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LoadMap {
    pub pid: u64,
    pub binary: String,
    pub base: u64,
}

/// A name a thread gave itself (`SET_THREAD_NAME`); the last one set wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThreadName {
    /// Thread ref (`generation << 32 | index`), as in sample tags.
    pub thread: u64,
    pub pid: u32,
    pub name: String,
}

/// One sample in time order: the CPU, its TSC and the stack it recorded
/// (a key of [`Report::stack_defs`]; `0` when the stack table refused it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimedSample {
    pub cpu: u8,
    pub tsc: u64,
    pub stack: u32,
}

/// Everything one run reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub begin: Option<Begin>,
    /// Accelerator, probe costs and hold correction (tag 12).
    pub instrument: Option<InstrumentInfo>,
    pub checkpoints: BTreeMap<Phase, u64>,
    pub phase_cycles: BTreeMap<Phase, u64>,
    pub counters: BTreeMap<(Phase, Counter), u64>,
    /// Non-zero buckets per (phase, histogram).
    pub hists: BTreeMap<(Phase, Hist), BTreeMap<u8, u64>>,
    /// Per (phase, sample tag, pc); [`Report::pcs_by_mode`] sums the tags.
    pub pc_samples: BTreeMap<PcKey, u64>,
    /// Frames leaf first; [`Report::stacks_by_mode`] sums the tags.
    pub stack_samples: BTreeMap<StackKey, u64>,
    /// (phase, class, lock, frames leaf first) -> (count, wait cycles);
    /// `class` is a [`crate::ContentionClass`] id, `lock` an index into its
    /// dimension (`SchedLockSite` or `SharedLock`).
    pub contention_stacks: BTreeMap<ContentionKey, (u64, u64)>,
    /// (phase, class, waiter, holder) -> count, wait cycles and cross-CPU
    /// count of contended acquisitions (see [`crate::lock_pairs`]).
    pub lock_pairs: BTreeMap<PairKey, PairSums>,
    pub trace: Vec<TraceEvent>,
    /// Per-thread operation counts by (phase, thread ref).
    pub thread_ops: crate::thread_ops::ThreadOpsRows,
    pub trace_dropped: BTreeMap<u8, u64>,
    pub load_maps: Vec<LoadMap>,
    /// Names threads set, by thread ref.
    pub thread_names: BTreeMap<u64, ThreadName>,
    /// Stacks referred to by [`Report::timed_samples`]: id -> (tag, frames
    /// leaf first).
    pub stack_defs: BTreeMap<u32, (SampleTag, Vec<u64>)>,
    /// Every sample the per-CPU sample rings kept, per CPU in time order.
    pub timed_samples: Vec<TimedSample>,
    /// Cycles per CPU state (indexed by [`crate::cpu_time::CpuState`] id),
    /// by (phase, CPU).
    pub cpu_time: BTreeMap<(Phase, u8), [u64; crate::cpu_time::STATES]>,
    /// Per-thread cycles by [`crate::thread_time::ThreadState`], by (phase,
    /// thread ref).
    pub thread_time: crate::thread_time::ThreadTimeRows,
    /// Run-queue delays by (phase, CPU, kind): (sum, bucket -> count).
    pub run_delay: crate::run_delay::DelayRows,
    /// The worst run-queue delay by (phase, CPU).
    pub run_delay_worst: BTreeMap<(Phase, u8), crate::run_delay::WorstDelay>,
    /// (phase, block reason id, frames leaf first) -> (wakeups, blocked
    /// cycles).
    pub offcpu_stacks: BTreeMap<(Phase, u8, Vec<u64>), (u64, u64)>,
    pub end: Option<End>,
}

/// Why a record stream does not make a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("record {index}: {source}")]
    Decode { index: usize, source: DecodeError },
    #[error("guest catalogue fingerprint {guest:#x} differs from host {host:#x}: rebuild the host tools")]
    CatalogueMismatch { guest: u64, host: u64 },
    #[error("record after End")]
    AfterEnd,
}

/// Builds a report one record at a time (one per defmt frame).
#[derive(Debug, Default)]
pub struct ReportBuilder {
    report: Report,
    /// Records since `Begin`, load maps excluded (they are sent on their own).
    received: u64,
}

impl ReportBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one frame's payload and adds it.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        let index = self.received as usize;
        let (record, _) = decode(bytes).map_err(|source| ReportError::Decode { index, source })?;
        self.push(record)
    }

    pub fn push(&mut self, record: Record) -> Result<(), ReportError> {
        let r = &mut self.report;
        if r.end.is_some() {
            return Err(ReportError::AfterEnd);
        }
        if !matches!(record, Record::LoadMap { .. }) {
            self.received += 1;
        }
        match record {
            Record::Begin { cpus, tsc_khz, catalogue } => {
                if catalogue != FINGERPRINT {
                    return Err(ReportError::CatalogueMismatch {
                        guest: catalogue,
                        host: FINGERPRINT,
                    });
                }
                r.begin = Some(Begin { cpus, tsc_khz, catalogue });
                self.received = 1;
            }
            Record::Instrument(info) => r.instrument = Some(info),
            Record::Counter { phase, counter, value } => r.set_counter(phase, counter, value),
            Record::Hist { phase, hist, buckets } => {
                for (b, n) in buckets {
                    r.set_bucket(phase, hist, b, n);
                }
            }
            Record::PcSample { phase, tag, pc, count } => {
                if count != 0 {
                    let slot = r.pc_samples.entry((phase, tag, pc)).or_default();
                    *slot = slot.saturating_add(count);
                }
            }
            Record::StackSample { phase, tag, frames, count } => {
                if count != 0 {
                    let slot = r.stack_samples.entry((phase, tag, frames)).or_default();
                    *slot = slot.saturating_add(count);
                }
            }
            Record::ContentionStack { phase, class, lock, frames, count, wait_cycles } => {
                r.add_contention(phase, class, lock, frames, count, wait_cycles)
            }
            Record::LockPair { phase, class, waiter, holder, sums } => {
                r.add_lock_pair((phase, class, waiter, holder), sums)
            }
            Record::Trace(e) => r.trace.push(e),
            Record::ThreadOps(t) => r.add_thread_ops(t),
            Record::TraceDropped { cpu, dropped } => {
                r.trace_dropped.insert(cpu, dropped);
            }
            Record::PhaseMark { phase, tsc } => {
                r.checkpoints.insert(phase, tsc);
            }
            Record::LoadMap { pid, binary, base } => {
                r.load_maps.push(LoadMap { pid, binary, base })
            }
            Record::ThreadName { thread, pid, name } => {
                r.thread_names.insert(thread, ThreadName { thread, pid, name });
            }
            Record::StackDef { id, tag, frames } => {
                r.stack_defs.insert(id, (tag, frames));
            }
            Record::TimedSamples { cpu, samples } => r
                .timed_samples
                .extend(samples.into_iter().map(|(tsc, stack)| TimedSample { cpu, tsc, stack })),
            Record::CpuTime { phase, cpu, cycles } => {
                r.cpu_time.insert((phase, cpu), cycles);
            }
            Record::ThreadTime(t) => {
                crate::thread_time::add_to(&mut r.thread_time, t.phase, &t);
            }
            Record::RunDelay(h) => {
                r.run_delay
                    .insert((h.phase, h.cpu, h.kind), (h.sum, h.buckets.into_iter().collect()));
            }
            Record::RunDelayWorst { phase, cpu, worst } => {
                r.run_delay_worst.insert((phase, cpu), worst);
            }
            Record::OffCpuStack { phase, reason, frames, count, blocked_cycles } => {
                let slot = r.offcpu_stacks.entry((phase, reason, frames)).or_default();
                slot.0 = slot.0.saturating_add(count);
                slot.1 = slot.1.saturating_add(blocked_cycles);
            }
            Record::End { tsc, records } => {
                let got = self.received - 1;
                r.end = Some(End { tsc, records, lost: records.saturating_sub(got) });
                r.phase_cycles = r.derive_phase_cycles();
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Report {
        self.report
    }
}

impl Report {
    /// Adds a thread's counts (rows for one (phase, thread) add up).
    pub fn add_thread_ops(&mut self, t: ThreadOps) {
        crate::thread_ops::add_to(&mut self.thread_ops, t.phase, &t);
    }

    /// Builds a report from decoded records.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Result<Report, ReportError> {
        let mut b = ReportBuilder::new();
        for record in records {
            b.push(record)?;
        }
        Ok(b.finish())
    }

    /// Builds a report from back-to-back encoded records.
    pub fn from_bytes(mut bytes: &[u8]) -> Result<Report, ReportError> {
        let mut b = ReportBuilder::new();
        let mut index = 0;
        while !bytes.is_empty() {
            let (record, used) =
                decode(bytes).map_err(|source| ReportError::Decode { index, source })?;
            b.push(record)?;
            bytes = &bytes[used..];
            index += 1;
        }
        Ok(b.finish())
    }

    /// Sets a counter; zero removes it (absent reads as zero).
    /// PC samples summed over their tags, by (phase, family, pc): the
    /// per-phase views.
    pub fn pcs_by_mode(&self) -> BTreeMap<(Phase, Mode, u64), u64> {
        let mut out: BTreeMap<(Phase, Mode, u64), u64> = BTreeMap::new();
        for ((phase, tag, pc), n) in &self.pc_samples {
            let slot = out.entry((*phase, tag.family(), *pc)).or_default();
            *slot = slot.saturating_add(*n);
        }
        out
    }

    /// Stack samples summed over their tags, by (phase, family, frames).
    pub fn stacks_by_mode(&self) -> BTreeMap<(Phase, Mode, Vec<u64>), u64> {
        let mut out: BTreeMap<(Phase, Mode, Vec<u64>), u64> = BTreeMap::new();
        for ((phase, tag, frames), n) in &self.stack_samples {
            let slot = out.entry((*phase, tag.family(), frames.clone())).or_default();
            *slot = slot.saturating_add(*n);
        }
        out
    }

    pub fn set_counter(&mut self, phase: Phase, counter: Counter, value: u64) {
        if value == 0 {
            self.counters.remove(&(phase, counter));
        } else {
            self.counters.insert((phase, counter), value);
        }
    }

    pub fn counter(&self, phase: Phase, counter: impl Into<Counter>) -> u64 {
        self.counters.get(&(phase, counter.into())).copied().unwrap_or(0)
    }

    /// Adds to a contention stack's count and wait; all-zero adds nothing.
    pub fn add_contention(
        &mut self,
        phase: Phase,
        class: u8,
        lock: u8,
        frames: Vec<u64>,
        count: u64,
        wait_cycles: u64,
    ) {
        if count == 0 && wait_cycles == 0 {
            return;
        }
        let sum = self.contention_stacks.entry((phase, class, lock, frames)).or_default();
        sum.0 = sum.0.saturating_add(count);
        sum.1 = sum.1.saturating_add(wait_cycles);
    }

    /// Adds to a waiter/holder pair; a zero count adds nothing.
    pub fn add_lock_pair(&mut self, key: PairKey, sums: PairSums) {
        if sums.count != 0 {
            self.lock_pairs.entry(key).or_default().add(&sums);
        }
    }

    /// Sets one histogram bucket; zero removes it.
    pub fn set_bucket(&mut self, phase: Phase, hist: Hist, bucket: u8, count: u64) {
        let buckets = self.hists.entry((phase, hist)).or_default();
        if count == 0 {
            buckets.remove(&bucket);
        } else {
            buckets.insert(bucket, count);
        }
        if buckets.is_empty() {
            self.hists.remove(&(phase, hist));
        }
    }

    /// Cycles per phase from the checkpoints and the end TSC (see `phase.rs`
    /// for what each phase spans).
    pub fn derive_phase_cycles(&self) -> BTreeMap<Phase, u64> {
        let mut out = BTreeMap::new();
        let end = self.end.map(|e| e.tsc);
        let cp = &self.checkpoints;
        for p in [Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown] {
            let Some(start) = cp.get(&p) else { continue };
            let next =
                cp.range(p..).find(|(q, _)| **q > p && **q <= Phase::FinalTotal).map(|(_, t)| *t);
            if let Some(stop) = next.or(end) {
                out.insert(p, stop.saturating_sub(*start));
            }
        }
        if let Some(stop) = cp.get(&Phase::FinalTotal) {
            let first = cp
                .range(Phase::SpawnReady..Phase::FinalTotal)
                .next()
                .or(cp.get_key_value(&Phase::Boot));
            if let Some((_, start)) = first {
                out.insert(Phase::FinalTotal, stop.saturating_sub(*start));
            }
        }
        if let (Some(start), Some(stop)) = (cp.get(&Phase::Boot), end) {
            out.insert(Phase::Aggregate, stop.saturating_sub(*start));
        }
        out
    }

    /// Phases that get counter lines: those with a checkpoint or any data,
    /// plus `aggregate`, in phase order.
    pub fn phases(&self) -> Vec<Phase> {
        let mut set: BTreeSet<Phase> = self.checkpoints.keys().copied().collect();
        set.extend(self.counters.keys().map(|(p, _)| *p));
        set.extend(self.hists.keys().map(|(p, _)| *p));
        set.extend(self.pc_samples.keys().map(|(p, _, _)| *p));
        set.extend(self.stack_samples.keys().map(|(p, _, _)| *p));
        set.extend(self.contention_stacks.keys().map(|(p, _, _, _)| *p));
        set.extend(self.lock_pairs.keys().map(|(p, _, _, _)| *p));
        set.insert(Phase::Aggregate);
        set.into_iter().collect()
    }

    /// Dimension entries printed for `group` (CPU slots stop at the reported
    /// CPU count, but never hide a non-zero value).
    pub fn dim_entries(&self, group: &GroupDesc) -> usize {
        match group.dim.labels {
            DimLabels::Cpu(n) => {
                let cpus = self.begin.map_or(n, |b| (b.cpus as usize).clamp(1, n));
                let used = self
                    .counters
                    .keys()
                    .filter(|(_, c)| c.group_desc().name == group.name)
                    .map(|(_, c)| c.dim as usize + 1)
                    .max()
                    .unwrap_or(0);
                cpus.max(used)
            }
            _ => group.dim.count(),
        }
    }

    /// Every counter line, zeros included, in catalogue order per phase.
    pub fn group_lines(&self) -> Vec<GroupLine> {
        let mut lines = Vec::new();
        for phase in self.phases() {
            for (g, group) in GROUPS.iter().enumerate() {
                for dim in 0..self.dim_entries(group) {
                    let values = (0..group.fields.len())
                        .filter_map(|f| Counter::from_ids(g as u8, dim, f as u8))
                        .map(|c| (c.field_desc().name, self.counter(phase, c)))
                        .collect();
                    let hists = (0..group.hists.len())
                        .filter_map(|h| Hist::from_ids(g as u8, dim, h as u8))
                        .map(|h| {
                            (
                                h.hist_desc().name,
                                self.hists.get(&(phase, h)).cloned().unwrap_or_default(),
                            )
                        })
                        .collect();
                    let label = group.dim.label(dim).map(|l| (group.dim.key, l.to_string()));
                    lines.push(GroupLine { phase, group, dim: label, values, hists });
                }
            }
        }
        lines
    }
}

/// One group line (and its histograms) as printed.
#[derive(Debug)]
pub struct GroupLine {
    pub phase: Phase,
    pub group: &'static GroupDesc,
    /// `(key, label)` for dimensioned groups.
    pub dim: Option<(&'static str, String)>,
    /// Every declared field, in declaration order.
    pub values: Vec<(&'static str, u64)>,
    /// Every declared histogram's non-zero buckets.
    pub hists: Vec<(&'static str, BTreeMap<u8, u64>)>,
}

const _: () = assert!(BUCKETS <= u8::MAX as usize);
