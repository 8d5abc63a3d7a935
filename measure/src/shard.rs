//! Per-CPU counter shards.
//!
//! One 64-byte-aligned [`Shard`] per CPU holds every counter, the per-phase
//! min/max copies and every histogram as `AtomicU64`s.
//!
//! **The update rule.** Only the CPU that owns a shard writes it, so an update
//! is a Relaxed load plus a Relaxed store: no `lock`-prefixed read-modify-
//! write, no cache line bouncing between CPUs. Atomics are used only so that
//! readers on other CPUs (phase marks, the final report) read whole values
//! without `unsafe`. The cost of the rule: if an interrupt handler on the same
//! CPU updates the *same* counter between the load and the store, one of the
//! two updates is lost. Probes that run both in interrupt and thread context
//! on one counter should run with interrupts off (the kernel's lock and timer
//! paths already do) or accept that rare loss.
//!
//! **Min and max.** A min is stored as `!v` so that both kinds combine with
//! `max` and the all-zero initial state means "untouched"; a recorded
//! `u64::MAX` minimum is therefore indistinguishable from none. Each min/max
//! slot has a run-wide copy and two per-phase buffers picked by the parity of
//! the phase epoch. A buffer carries the epoch it belongs to; the first update
//! in a new epoch finds a stale tag and clears that buffer. So a phase mark
//! only bumps the epoch, and the marking CPU reads the *other* buffer (the
//! finished phase's) while owners already write the new one.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::declare::{Counter, Hist, Kind, COUNTER_SLOTS, HIST_SLOTS, MINMAX_SLOTS, NO_MINMAX};
use crate::hist::{bucket, BUCKETS};
use crate::MAX_CPUS;

/// Raw (stored) form of an extreme; `0` means untouched.
pub const fn encode_extreme(kind: Kind, value: u64) -> u64 {
    match kind {
        Kind::Min => !value,
        Kind::Sum | Kind::Max => value,
    }
}

/// Reported form of a raw extreme; untouched reads as 0.
pub const fn decode_extreme(kind: Kind, raw: u64) -> u64 {
    match kind {
        Kind::Min if raw != 0 => !raw,
        Kind::Min => 0,
        Kind::Sum | Kind::Max => raw,
    }
}

/// Everything one CPU counts.
#[repr(C, align(64))]
pub struct Shard {
    counters: [AtomicU64; COUNTER_SLOTS],
    phase_minmax: [[AtomicU64; MINMAX_SLOTS]; 2],
    phase_epoch: [AtomicU64; 2],
    hists: [[AtomicU64; BUCKETS]; HIST_SLOTS],
}

impl Shard {
    const fn new() -> Self {
        Shard {
            counters: [const { AtomicU64::new(0) }; COUNTER_SLOTS],
            phase_minmax: [const { [const { AtomicU64::new(0) }; MINMAX_SLOTS] }; 2],
            // Buffer 0 starts valid for epoch 0; buffer 1 is stale until epoch 1.
            phase_epoch: [AtomicU64::new(0), AtomicU64::new(0)],
            hists: [const { [const { AtomicU64::new(0) }; BUCKETS] }; HIST_SLOTS],
        }
    }

    /// The per-phase buffer for `epoch`, cleared first if it holds an older one.
    fn phase_buffer(&self, epoch: u64) -> &[AtomicU64; MINMAX_SLOTS] {
        let b = (epoch & 1) as usize;
        if self.phase_epoch[b].load(Relaxed) != epoch {
            for cell in &self.phase_minmax[b] {
                cell.store(0, Relaxed);
            }
            self.phase_epoch[b].store(epoch, Relaxed);
        }
        &self.phase_minmax[b]
    }
}

/// Owner-only update: load, compute, store (see the module rule).
#[inline(always)]
fn owner_update(cell: &AtomicU64, f: impl FnOnce(u64) -> u64) {
    let old = cell.load(Relaxed);
    let new = f(old);
    if new != old {
        cell.store(new, Relaxed);
    }
}

/// The epoch counter sits on its own line: it is read by every min/max update
/// and written only at phase marks.
#[repr(C, align(64))]
struct PaddedEpoch(AtomicU64);

/// All CPUs' shards plus the phase epoch.
pub struct Shards {
    shards: [Shard; MAX_CPUS],
    epoch: PaddedEpoch,
    /// Shards that readers skip: `MAX_CPUS` minus the CPUs that can write
    /// (0, all of them, until told; zero so the `Measure` statics stay in
    /// `.bss`).
    not_in_use: core::sync::atomic::AtomicUsize,
}

impl Default for Shards {
    fn default() -> Self {
        Self::new()
    }
}

impl Shards {
    pub const fn new() -> Self {
        Shards {
            shards: [const { Shard::new() }; MAX_CPUS],
            epoch: PaddedEpoch(AtomicU64::new(0)),
            not_in_use: core::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Only CPUs `0..cpus` will ever write: readers (phase marks, the final
    /// copy) skip the other shards, which keeps a mark's snapshot short.
    pub fn set_cpus_in_use(&self, cpus: usize) {
        self.not_in_use.store(MAX_CPUS - cpus.clamp(1, MAX_CPUS), Relaxed);
    }

    /// The shards readers visit.
    fn readable(&self) -> &[Shard] {
        &self.shards[..MAX_CPUS - self.not_in_use.load(Relaxed).min(MAX_CPUS - 1)]
    }

    /// Adds `value` to a `sum` counter on `cpu`'s shard. Out-of-range CPUs,
    /// void counters and non-sum counters are ignored.
    #[inline]
    pub fn add(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        let c = counter.into();
        let Some(shard) = self.shards.get(cpu) else {
            return;
        };
        if c.kind != Kind::Sum {
            return;
        }
        if let Some(cell) = shard.counters.get(c.slot as usize) {
            owner_update(cell, |old| old.wrapping_add(value));
        }
    }

    /// Folds `value` into a `min` counter (run-wide and current phase).
    #[inline]
    pub fn min(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        let c = counter.into();
        if c.kind == Kind::Min {
            self.extreme(cpu, c, encode_extreme(Kind::Min, value));
        }
    }

    /// Folds `value` into a `max` counter (run-wide and current phase).
    #[inline]
    pub fn max(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        let c = counter.into();
        if c.kind == Kind::Max {
            self.extreme(cpu, c, encode_extreme(Kind::Max, value));
        }
    }

    #[inline]
    fn extreme(&self, cpu: usize, c: Counter, raw: u64) {
        let Some(shard) = self.shards.get(cpu) else {
            return;
        };
        let (Some(cell), true) = (shard.counters.get(c.slot as usize), c.minmax != NO_MINMAX)
        else {
            return;
        };
        owner_update(cell, |old| old.max(raw));
        let epoch = self.epoch.0.load(Relaxed);
        if let Some(cell) = shard.phase_buffer(epoch).get(c.minmax as usize) {
            owner_update(cell, |old| old.max(raw));
        }
    }

    /// Counts `value` in its log2 bucket of histogram `hist` on `cpu`.
    #[inline]
    pub fn hist(&self, cpu: usize, hist: impl Into<Hist>, value: u64) {
        let h = hist.into();
        let Some(shard) = self.shards.get(cpu) else {
            return;
        };
        if let Some(buckets) = shard.hists.get(h.slot as usize) {
            owner_update(&buckets[bucket(value)], |old| old.wrapping_add(1));
        }
    }

    /// Current phase epoch (number of phase marks taken).
    pub fn epoch(&self) -> u64 {
        self.epoch.0.load(Relaxed)
    }

    /// Starts a new epoch; returns the one that just ended. Only the phase
    /// book calls this, under its marking guard.
    pub(crate) fn advance_epoch(&self) -> u64 {
        let old = self.epoch.0.load(Relaxed);
        self.epoch.0.store(old + 1, Relaxed);
        old
    }

    /// Raw run-wide value of a counter: sums are added over shards, extremes
    /// combined in raw form (decode with [`decode_extreme`]).
    pub fn read_raw(&self, c: Counter) -> u64 {
        let slot = c.slot as usize;
        let cells =
            self.readable().iter().filter_map(|s| s.counters.get(slot)).map(|a| a.load(Relaxed));
        match c.kind {
            Kind::Sum => cells.fold(0u64, u64::wrapping_add),
            Kind::Min | Kind::Max => cells.fold(0, u64::max),
        }
    }

    /// Reported run-wide value of a counter.
    pub fn read(&self, c: Counter) -> u64 {
        decode_extreme(c.kind, self.read_raw(c))
    }

    /// Raw per-phase extreme at min/max index `minmax` for `epoch`, skipping
    /// shards that recorded nothing in that epoch.
    pub fn read_phase_raw(&self, minmax: usize, epoch: u64) -> u64 {
        let b = (epoch & 1) as usize;
        self.readable()
            .iter()
            .filter(|s| s.phase_epoch[b].load(Relaxed) == epoch)
            .filter_map(|s| s.phase_minmax[b].get(minmax))
            .fold(0, |acc, cell| acc.max(cell.load(Relaxed)))
    }

    /// Reads counters `cs` and every bucket of histograms `hs` one CPU at a
    /// time, that CPU's counters and buckets back to back, and combines them
    /// over CPUs as [`Shards::read_raw`] and [`Shards::read_bucket`] do.
    /// While other CPUs keep counting, a CPU's counter and its histogram are
    /// then read a few hundred loads apart, not a whole catalogue apart, so
    /// a lock's acquisitions and its hold entries agree up to what that CPU
    /// did in between. `counters` gets one value per `cs`, `buckets`
    /// `BUCKETS` per `hs`; both must be long enough.
    pub fn read_together(
        &self,
        cs: &[Counter],
        hs: &[Hist],
        counters: &mut [u64],
        buckets: &mut [u64],
    ) {
        counters.iter_mut().for_each(|v| *v = 0);
        buckets.iter_mut().for_each(|v| *v = 0);
        for shard in self.readable() {
            for (c, out) in cs.iter().zip(counters.iter_mut()) {
                let v = shard.counters.get(c.slot as usize).map_or(0, |a| a.load(Relaxed));
                *out = match c.kind {
                    Kind::Sum => out.wrapping_add(v),
                    Kind::Min | Kind::Max => (*out).max(v),
                };
            }
            for (h, out) in hs.iter().zip(buckets.chunks_mut(BUCKETS)) {
                if let Some(cells) = shard.hists.get(h.slot as usize) {
                    for (cell, o) in cells.iter().zip(out.iter_mut()) {
                        *o = o.wrapping_add(cell.load(Relaxed));
                    }
                }
            }
        }
    }

    /// One bucket of a histogram, summed over shards.
    pub fn read_bucket(&self, hist_slot: usize, bucket: usize) -> u64 {
        self.readable()
            .iter()
            .filter_map(|s| s.hists.get(hist_slot).and_then(|h| h.get(bucket)))
            .fold(0u64, |acc, cell| acc.wrapping_add(cell.load(Relaxed)))
    }
}

/// Every shard read once: sums and histogram buckets added over CPUs,
/// extremes combined (raw form), and the running epoch's per-phase extremes.
/// The report reads this copy, never the live shards, so nothing that
/// happens while it streams out changes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardCopy {
    epoch: u64,
    /// Raw run-wide value per counter slot.
    counters: Vec<u64>,
    /// Raw per-phase extreme per min/max index, for `epoch`.
    phase_extremes: Vec<u64>,
    /// Bucket counts, `slot * BUCKETS + bucket`.
    buckets: Vec<u64>,
}

impl Shards {
    /// Copies every counter, histogram and the running epoch's extremes.
    ///
    /// Histograms are read before counters. An owner adds a lock's
    /// `acquisitions` before it later counts the hold in the `hold`
    /// histogram, and x86 makes one CPU's stores visible in program order,
    /// so a histogram entry seen here always has its acquisition seen too:
    /// in the copy, histogram entries never exceed acquisitions even if an
    /// owner is still writing.
    pub fn copy(&self) -> ShardCopy {
        let mut buckets = Vec::with_capacity(HIST_SLOTS * BUCKETS);
        for slot in 0..HIST_SLOTS {
            for b in 0..BUCKETS {
                buckets.push(self.read_bucket(slot, b));
            }
        }
        let epoch = self.epoch();
        let mut counters = alloc::vec![0u64; COUNTER_SLOTS];
        for c in Counter::all() {
            if let Some(cell) = counters.get_mut(c.slot as usize) {
                *cell = self.read_raw(c);
            }
        }
        let phase_extremes = (0..MINMAX_SLOTS).map(|m| self.read_phase_raw(m, epoch)).collect();
        ShardCopy { epoch, counters, phase_extremes, buckets }
    }
}

impl ShardCopy {
    /// The phase epoch when the copy was taken.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Raw run-wide value of a counter (see [`Shards::read_raw`]).
    pub fn read_raw(&self, c: Counter) -> u64 {
        self.counters.get(c.slot as usize).copied().unwrap_or(0)
    }

    /// Raw per-phase extreme at min/max index `minmax`; only the copied
    /// epoch is kept, any other reads as untouched.
    pub fn read_phase_raw(&self, minmax: usize, epoch: u64) -> u64 {
        if epoch != self.epoch {
            return 0;
        }
        self.phase_extremes.get(minmax).copied().unwrap_or(0)
    }

    /// One bucket of a histogram, summed over shards.
    pub fn read_bucket(&self, hist_slot: usize, bucket: usize) -> u64 {
        if bucket >= BUCKETS {
            return 0;
        }
        self.buckets.get(hist_slot * BUCKETS + bucket).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{scheduler_lock, thread_placement};
    use crate::declare::MINMAX_SLOTS;

    fn shards() -> Box<Shards> {
        Box::new(Shards::new())
    }

    #[test]
    fn shard_is_cache_line_aligned() {
        assert_eq!(core::mem::align_of::<Shard>(), 64);
        assert_eq!(core::mem::size_of::<Shard>() % 64, 0);
    }

    #[test]
    fn sums_add_across_cpus() {
        let s = shards();
        s.add(0, scheduler_lock::acquisitions, 3);
        s.add(1, scheduler_lock::acquisitions, 4);
        s.add(15, scheduler_lock::acquisitions, 5);
        s.add(16, scheduler_lock::acquisitions, 100); // out of range: dropped
        s.add(0, thread_placement::selected.at(2usize), 7);
        assert_eq!(s.read(scheduler_lock::acquisitions.into()), 12);
        assert_eq!(s.read(thread_placement::selected.at(2usize)), 7);
        assert_eq!(s.read(thread_placement::selected.at(1usize)), 0);
        // Wrong-kind updates are ignored.
        s.add(0, scheduler_lock::wait_min, 1);
        s.min(0, scheduler_lock::wait_cycles, 1);
        assert_eq!(s.read(scheduler_lock::wait_min.into()), 0);
        assert_eq!(s.read(scheduler_lock::wait_cycles.into()), 0);
    }

    #[test]
    fn min_max_skip_untouched_shards() {
        let s = shards();
        assert_eq!(s.read(scheduler_lock::wait_min.into()), 0, "untouched min reads 0");
        s.min(2, scheduler_lock::wait_min, 50);
        s.min(3, scheduler_lock::wait_min, 70);
        s.min(2, scheduler_lock::wait_min, 60);
        s.max(2, scheduler_lock::wait_max, 50);
        s.max(5, scheduler_lock::wait_max, 90);
        assert_eq!(s.read(scheduler_lock::wait_min.into()), 50);
        assert_eq!(s.read(scheduler_lock::wait_max.into()), 90);
        s.min(4, scheduler_lock::wait_min, 0);
        assert_eq!(s.read(scheduler_lock::wait_min.into()), 0, "a real 0 minimum wins");
    }

    #[test]
    fn phase_extremes_reset_per_epoch() {
        let s = shards();
        let min: Counter = scheduler_lock::hold_min.into();
        let max: Counter = scheduler_lock::hold_max.into();
        s.min(0, min, 10);
        s.max(0, max, 1000);
        s.min(1, min, 20);
        assert_eq!(decode_extreme(Kind::Min, s.read_phase_raw(min.minmax as usize, 0)), 10);

        let ended = s.advance_epoch();
        assert_eq!(ended, 0);
        // Epoch 1: CPU 1 updates, CPU 0 is silent.
        s.min(1, min, 30);
        s.max(1, max, 40);
        assert_eq!(decode_extreme(Kind::Min, s.read_phase_raw(min.minmax as usize, 1)), 30);
        assert_eq!(decode_extreme(Kind::Max, s.read_phase_raw(max.minmax as usize, 1)), 40);
        // The ended epoch is still readable while the new one is written.
        assert_eq!(decode_extreme(Kind::Min, s.read_phase_raw(min.minmax as usize, 0)), 10);
        // Run-wide values never reset.
        assert_eq!(s.read(min), 10);
        assert_eq!(s.read(max), 1000);

        s.advance_epoch();
        // Epoch 2 reuses buffer 0: CPU 0's epoch-0 values must not leak in.
        assert_eq!(s.read_phase_raw(min.minmax as usize, 2), 0);
        s.max(0, max, 5);
        assert_eq!(decode_extreme(Kind::Max, s.read_phase_raw(max.minmax as usize, 2)), 5);
        assert_eq!(decode_extreme(Kind::Min, s.read_phase_raw(min.minmax as usize, 2)), 0);
        const { assert!(MINMAX_SLOTS >= 4) };
    }

    #[test]
    fn a_copy_keeps_its_values_while_shards_move_on() {
        let s = shards();
        let acq: Counter = scheduler_lock::acquisitions.into();
        let max: Counter = scheduler_lock::hold_max.into();
        let h: Hist = scheduler_lock::hold.into();
        s.add(0, acq, 3);
        s.add(1, acq, 4);
        s.max(1, max, 77);
        s.hist(0, h, 5);
        let copy = s.copy();
        s.add(0, acq, 100);
        s.max(0, max, 1000);
        s.hist(1, h, 5);
        assert_eq!(copy.read_raw(acq), 7);
        assert_eq!(decode_extreme(Kind::Max, copy.read_raw(max)), 77);
        assert_eq!(decode_extreme(Kind::Max, copy.read_phase_raw(max.minmax as usize, 0)), 77);
        assert_eq!(copy.read_phase_raw(max.minmax as usize, 1), 0, "only the copied epoch");
        assert_eq!(copy.read_bucket(h.slot as usize, 3), 1);
        assert_eq!(copy.read_bucket(h.slot as usize, BUCKETS), 0);
        assert_eq!(s.read(acq), 107, "the live shards moved on");
        assert_eq!(copy.epoch(), 0);
    }

    #[test]
    fn histograms_count_buckets() {
        let s = shards();
        let h: Hist = scheduler_lock::wait.into();
        for v in [0, 1, 2, 3, 1 << 63, u64::MAX] {
            s.hist(0, h, v);
        }
        s.hist(1, h, 3);
        assert_eq!(s.read_bucket(h.slot as usize, 0), 1);
        assert_eq!(s.read_bucket(h.slot as usize, 1), 1);
        assert_eq!(s.read_bucket(h.slot as usize, 2), 3);
        assert_eq!(s.read_bucket(h.slot as usize, 63), 2);
    }
}
