//! The final snapshot: everything the report reads, copied once.
//!
//! [`Measure::freeze`] stops measurement ([`Measure::stop`]) and copies the shards (counters, histograms, the running
//! phase's extremes), the PC, stack and contention tables and the trace
//! rings into a [`Frozen`]; the report is then encoded from the copy alone.
//! The copy is final: no probe changes it,
//! however long the report takes to stream out, and the report's own work
//! (encoding, the COM2 writes, the timer ticks that land meanwhile) is in
//! none of its numbers.

use alloc::string::String;
use alloc::vec::Vec;

use crate::instrument::Measure;
use crate::phase::{Phase, PhaseBook};
use crate::record::SampleTag;
use crate::samples::{ContentionEntry, StackFrames};
use crate::shard::ShardCopy;
use crate::thread_ops::ThreadOps;
use crate::thread_time::ThreadTime;
use crate::trace::TraceEvent;
use crate::MAX_CPUS;

/// One CPU's trace ring as copied: retained events oldest first, and how
/// many older ones were overwritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingCopy {
    pub cpu: u8,
    pub events: Vec<TraceEvent>,
    pub dropped: u64,
}

/// A copy of everything [`Measure`] reports.
pub struct Frozen<'a> {
    /// The phase book itself: after [`Measure::stop`] no mark changes it.
    pub(crate) phases: &'a PhaseBook,
    pub(crate) shards: ShardCopy,
    /// (phase tag, sample tag, pc, count) per family.
    pub(crate) user_pcs: Vec<(Phase, SampleTag, u64, u64)>,
    pub(crate) kernel_pcs: Vec<(Phase, SampleTag, u64, u64)>,
    /// (stack id, phase tag, sample tag, frames, count).
    pub(crate) stacks: Vec<(u32, Phase, SampleTag, StackFrames, u64)>,
    pub(crate) contention: Vec<ContentionEntry>,
    /// Waiter/holder pairs of contended acquisitions (phase as recorded).
    pub(crate) pairs: Vec<crate::lock_pairs::PairEntry>,
    /// Rings that ever recorded an event, by CPU.
    pub(crate) trace: Vec<RingCopy>,
    /// Per-thread operation rows (phase tags as recorded).
    pub(crate) thread_ops: Vec<ThreadOps>,
    /// Each CPU's time-ordered samples (tsc, stack id), CPUs with any.
    pub(crate) timed: Vec<(u8, Vec<(u64, u32)>)>,
    /// (thread ref, pid, name) of every named thread.
    pub(crate) names: Vec<(u64, u32, String)>,
    /// (phase slot, cpu, cycles per state) of every CPU that accounted.
    pub(crate) cpu_time: Vec<(Phase, u8, [u64; crate::cpu_time::STATES])>,
    /// Per-thread time-by-state rows (phase tags as recorded).
    pub(crate) thread_time: Vec<ThreadTime>,
    /// Run-queue delay histograms and worst delays (phase slots as recorded).
    pub(crate) run_delay: Vec<crate::run_delay::DelayHist>,
    pub(crate) run_delay_worst: Vec<(Phase, u8, crate::run_delay::WorstDelay)>,
    /// Off-CPU entries (`lock` is the block reason).
    pub(crate) offcpu: Vec<ContentionEntry>,
}

impl Measure {
    /// Stops measurement (if not yet stopped) and copies everything the
    /// report needs. A probe another CPU began before the stop may still
    /// update the live state after the copy; the copy does not follow it.
    /// The kernel stops, waits for such stragglers, then freezes.
    pub fn freeze(&self) -> Frozen<'_> {
        self.stop();
        let shards = self.shards.copy();
        let user_pcs = self.user_pcs.entries().collect();
        let kernel_pcs = self.kernel_pcs.entries().collect();
        let stacks = self.stacks.entries_with_id().collect();
        let contention = self.contention.entries().collect();
        let pairs = self.pairs.entries().collect();
        let trace = (0..MAX_CPUS)
            .filter_map(|cpu| {
                let ring = self.trace.ring(cpu)?;
                (ring.pushed() != 0).then(|| RingCopy {
                    cpu: cpu as u8,
                    events: ring.events().collect(),
                    dropped: ring.dropped(),
                })
            })
            .collect();
        let thread_ops = self.thread_ops.entries().collect();
        let timed = (0..MAX_CPUS)
            .filter_map(|cpu| {
                let ring = self.timed.ring(cpu)?;
                (!ring.is_empty()).then(|| (cpu as u8, ring.entries().collect()))
            })
            .collect();
        let names = self
            .names
            .entries()
            .map(|(thread, pid, bytes, len)| {
                // Names were checked as UTF-8 when set; cut to the longest
                // valid prefix all the same.
                let text = match core::str::from_utf8(&bytes[..len]) {
                    Ok(t) => t,
                    Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
                };
                (thread, pid, String::from(text))
            })
            .collect();
        let cpu_time = (0..MAX_CPUS)
            .flat_map(|cpu| {
                Phase::ALL[..5]
                    .iter()
                    .filter_map(move |p| Some((*p, cpu as u8, self.cpu_time.cycles(cpu, *p)?)))
            })
            .collect();
        let thread_time = self.thread_time.entries().collect();
        let run_delay = self.run_delays.hists().collect();
        let run_delay_worst = self.run_delays.worst().collect();
        let offcpu = self.offcpu.entries().collect();
        Frozen {
            phases: &self.phases,
            shards,
            user_pcs,
            kernel_pcs,
            stacks,
            contention,
            pairs,
            trace,
            thread_ops,
            timed,
            names,
            cpu_time,
            thread_time,
            run_delay,
            run_delay_worst,
            offcpu,
        }
    }
}
