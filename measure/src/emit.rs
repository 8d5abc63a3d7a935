//! Turning a [`Frozen`] copy of a [`Measure`] into the record stream of the
//! final report.
//!
//! Order: `Begin`, `Instrument` (when known), every `PhaseMark`, then per reported phase its non-zero
//! counters and histograms, then PC samples, stack samples, contention
//! stacks, waiter/holder pairs, per-thread rows, trace events and per-CPU
//! dropped counts, CPU time by state per phase and CPU, thread time by state
//! per phase and thread, run-queue delays and worst delays per phase and
//! CPU, off-CPU stacks, thread
//! names, the stacks the time-ordered samples name and those samples, and
//! `End`. Zero values
//! are not sent: the host prints every declared field, so absent means zero.
//! Samples (contention stacks included) are sent per phase, plus their
//! `final_total` and `aggregate` sums computed here.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::cpu_time::STATES;
use crate::declare::{Counter, Hist, FINGERPRINT};
use crate::freeze::Frozen;
use crate::hist::BUCKETS;
use crate::instrument::Measure;
use crate::instrument_info::InstrumentInfo;
use crate::lock_pairs::{PairKey, PairSums};
use crate::phase::Phase;
use crate::record::{ContentionKey, PcKey, Record, StackKey, TIMED_BATCH};
use crate::run_delay::{DelayHist, WorstDelay};
use crate::thread_ops::{self, ThreadOpsRows};
use crate::thread_time::{self, ThreadTimeRows};

/// What the report needs from the kernel besides the counters.
#[derive(Clone, Copy, Debug)]
pub struct ReportInfo {
    /// CPUs that ran (text output limits `cpu=` lines to this).
    pub cpus: u8,
    /// TSC frequency, for converting cycles to time on the host (0 unknown).
    pub tsc_khz: u64,
    /// TSC when measurement stopped (end of `aggregate`).
    pub end_tsc: u64,
    /// The instrument's own figures (sent after `Begin` when present).
    pub instrument: Option<InstrumentInfo>,
}

/// Which reported phases a sample taken in phase `tag` counts towards.
fn sample_phases(tag: Phase, final_total: Option<u8>) -> impl Iterator<Item = Phase> {
    // A tag of `FinalTotal` means "after the final mark": aggregate only.
    let own = (tag < Phase::FinalTotal).then_some(tag);
    let total = final_total.filter(|m| m & (1 << tag as u8) != 0).map(|_| Phase::FinalTotal);
    own.into_iter().chain(total).chain(core::iter::once(Phase::Aggregate))
}

impl Measure {
    /// Stops measurement, freezes a copy and emits the whole report from it,
    /// one record at a time, through `emit` (see [`Measure::stop`],
    /// [`Measure::freeze`]).
    pub fn report(&self, info: &ReportInfo, emit: &mut dyn FnMut(&Record)) {
        self.freeze().report(info, emit);
    }
}

impl Frozen<'_> {
    /// The time-ordered samples: first a [`Record::StackDef`] for every
    /// stack they name, then each CPU's ring in [`TIMED_BATCH`] batches.
    fn send_timed(&self, send: &mut dyn FnMut(&Record)) {
        let used: BTreeSet<u32> =
            self.timed.iter().flat_map(|(_, s)| s.iter().map(|(_, id)| *id)).collect();
        for (id, _, tag, frames, _) in &self.stacks {
            if used.contains(id) {
                let frames = frames.as_slice().to_vec();
                send(&Record::StackDef { id: *id, tag: *tag, frames });
            }
        }
        for (cpu, samples) in &self.timed {
            for batch in samples.chunks(TIMED_BATCH) {
                send(&Record::TimedSamples { cpu: *cpu, samples: batch.to_vec() });
            }
        }
    }

    /// Emits the whole report, one record at a time, through `emit`.
    pub fn report(&self, info: &ReportInfo, emit: &mut dyn FnMut(&Record)) {
        let mut sent = 0u64;
        let mut send = |r: &Record| {
            sent += 1;
            emit(r);
        };
        send(&Record::Begin { cpus: info.cpus, tsc_khz: info.tsc_khz, catalogue: FINGERPRINT });
        if let Some(i) = info.instrument {
            send(&Record::Instrument(i));
        }
        for phase in &Phase::ALL[..5] {
            if let Some(tsc) = self.phases.mark_tsc(*phase) {
                send(&Record::PhaseMark { phase: *phase, tsc });
            }
        }

        for span in self.phases.spans(&self.shards) {
            for counter in Counter::all() {
                let value = self.phases.value(&self.shards, &span, counter);
                if value != 0 {
                    send(&Record::Counter { phase: span.phase, counter, value });
                }
            }
            for hist in Hist::all() {
                let buckets: Vec<(u8, u64)> = (0..BUCKETS)
                    .map(|b| (b as u8, self.phases.bucket(&self.shards, &span, hist, b)))
                    .filter(|(_, n)| *n != 0)
                    .collect();
                if !buckets.is_empty() {
                    send(&Record::Hist { phase: span.phase, hist, buckets });
                }
            }
        }

        let final_total = self.phases.final_total_members();
        let mut pcs: BTreeMap<PcKey, u64> = BTreeMap::new();
        for &(at, tag, pc, count) in self.user_pcs.iter().chain(&self.kernel_pcs) {
            for phase in sample_phases(at, final_total) {
                *pcs.entry((phase, tag, pc)).or_default() += count;
            }
        }
        for ((phase, tag, pc), count) in pcs {
            send(&Record::PcSample { phase, tag, pc, count });
        }

        let mut stacks: BTreeMap<StackKey, u64> = BTreeMap::new();
        for (_, at, tag, frames, count) in &self.stacks {
            for phase in sample_phases(*at, final_total) {
                *stacks.entry((phase, *tag, frames.as_slice().to_vec())).or_default() += count;
            }
        }
        for ((phase, tag, frames), count) in stacks {
            send(&Record::StackSample { phase, tag, frames, count });
        }

        let mut contention: BTreeMap<ContentionKey, (u64, u64)> = BTreeMap::new();
        for e in &self.contention {
            for phase in sample_phases(e.phase, final_total) {
                let sum = contention
                    .entry((phase, e.class, e.lock, e.frames.as_slice().to_vec()))
                    .or_default();
                sum.0 += e.count;
                sum.1 = sum.1.wrapping_add(e.wait_cycles);
            }
        }
        for ((phase, class, lock, frames), (count, wait_cycles)) in contention {
            send(&Record::ContentionStack { phase, class, lock, frames, count, wait_cycles });
        }

        let mut pairs: BTreeMap<PairKey, PairSums> = BTreeMap::new();
        for e in &self.pairs {
            let (at, class, waiter, holder) = e.key;
            for phase in sample_phases(at, final_total) {
                pairs.entry((phase, class, waiter, holder)).or_default().add(&e.sums);
            }
        }
        for ((phase, class, waiter, holder), sums) in pairs {
            send(&Record::LockPair { phase, class, waiter, holder, sums });
        }

        let mut threads = ThreadOpsRows::new();
        for t in &self.thread_ops {
            for phase in sample_phases(t.phase, final_total) {
                thread_ops::add_to(&mut threads, phase, t);
            }
        }
        for t in threads.into_values() {
            send(&Record::ThreadOps(t));
        }

        for ring in &self.trace {
            for event in &ring.events {
                send(&Record::Trace(*event));
            }
            send(&Record::TraceDropped { cpu: ring.cpu, dropped: ring.dropped });
        }
        let mut cpu_time: BTreeMap<(Phase, u8), [u64; STATES]> = BTreeMap::new();
        for (at, cpu, cycles) in &self.cpu_time {
            for phase in sample_phases(*at, final_total) {
                let sum = cpu_time.entry((phase, *cpu)).or_insert([0; STATES]);
                for (s, c) in sum.iter_mut().zip(cycles) {
                    *s = s.wrapping_add(*c);
                }
            }
        }
        for ((phase, cpu), cycles) in cpu_time {
            send(&Record::CpuTime { phase, cpu, cycles });
        }

        let mut thread_time = ThreadTimeRows::new();
        for t in &self.thread_time {
            for phase in sample_phases(t.phase, final_total) {
                thread_time::add_to(&mut thread_time, phase, t);
            }
        }
        for t in thread_time.into_values() {
            send(&Record::ThreadTime(t));
        }

        type Sums = BTreeMap<(Phase, u8, u8), (u64, BTreeMap<u8, u64>)>;
        let mut delays = Sums::new();
        for h in &self.run_delay {
            for phase in sample_phases(h.phase, final_total) {
                let (sum, buckets) = delays.entry((phase, h.cpu, h.kind)).or_default();
                *sum = sum.wrapping_add(h.sum);
                for (b, n) in &h.buckets {
                    *buckets.entry(*b).or_default() += n;
                }
            }
        }
        for ((phase, cpu, kind), (sum, buckets)) in delays {
            let buckets = buckets.into_iter().collect();
            send(&Record::RunDelay(DelayHist { phase, cpu, kind, sum, buckets }));
        }
        let mut worst: BTreeMap<(Phase, u8), &WorstDelay> = BTreeMap::new();
        for (at, cpu, w) in &self.run_delay_worst {
            for phase in sample_phases(*at, final_total) {
                let slot = worst.entry((phase, *cpu)).or_insert(w);
                if w.cycles > slot.cycles {
                    *slot = w;
                }
            }
        }
        for ((phase, cpu), w) in worst {
            send(&Record::RunDelayWorst { phase, cpu, worst: w.clone() });
        }

        let mut offcpu: BTreeMap<(Phase, u8, Vec<u64>), (u64, u64)> = BTreeMap::new();
        for e in &self.offcpu {
            for phase in sample_phases(e.phase, final_total) {
                let key = (phase, e.lock, e.frames.as_slice().to_vec());
                let sum = offcpu.entry(key).or_default();
                sum.0 += e.count;
                sum.1 = sum.1.wrapping_add(e.wait_cycles);
            }
        }
        for ((phase, reason, frames), (count, blocked_cycles)) in offcpu {
            send(&Record::OffCpuStack { phase, reason, frames, count, blocked_cycles });
        }

        for (thread, pid, name) in &self.names {
            send(&Record::ThreadName { thread: *thread, pid: *pid, name: name.clone() });
        }
        self.send_timed(&mut send);

        let records = sent;
        emit(&Record::End { tsc: info.end_tsc, records });
    }
}
