//! Per-CPU rings of samples in time order: for each sample interrupt, its
//! TSC and the id of the stack it recorded (see
//! [`crate::samples::StackTable::record_id`]; `0` when the table refused
//! the stack). The tables say how often each stack was seen; these rings say
//! when, which the timeline draws as a flame chart per thread.
//!
//! A ring is written only by its own CPU, in the sample interrupt (IRQs
//! masked), so plain relaxed stores suffice; it is read after the stop by
//! [`crate::Measure::freeze`]. A full ring keeps its first entries and
//! refuses the rest (the caller counts them as `timer.sample_ring_dropped`):
//! sized by [`crate::TIMED_SAMPLES_PER_CPU`] for a 10 s run at 1 kHz.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::MAX_CPUS;

const R: Ordering = Ordering::Relaxed;

/// One CPU's ring.
pub struct SampleRing<const N: usize> {
    tsc: [AtomicU64; N],
    stack: [AtomicU32; N],
    len: AtomicUsize,
}

impl<const N: usize> SampleRing<N> {
    const fn new() -> Self {
        SampleRing {
            tsc: [const { AtomicU64::new(0) }; N],
            stack: [const { AtomicU32::new(0) }; N],
            len: AtomicUsize::new(0),
        }
    }

    /// Entries kept so far.
    pub fn len(&self) -> usize {
        self.len.load(R).min(N)
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one sample unless `limit` entries are kept already. Owner
    /// CPU only.
    fn push(&self, limit: usize, tsc: u64, stack: u32) -> bool {
        let i = self.len.load(R);
        if i >= N.min(limit) {
            return false;
        }
        self.tsc[i].store(tsc, R);
        self.stack[i].store(stack, R);
        self.len.store(i + 1, R);
        true
    }

    /// (tsc, stack id) of every kept entry, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        (0..self.len()).map(|i| (self.tsc[i].load(R), self.stack[i].load(R)))
    }
}

/// One ring per CPU slot, and the entry limit every ring shares.
pub struct SampleRings<const N: usize> {
    rings: [SampleRing<N>; MAX_CPUS],
    /// `usize::MAX - limit` (zero bytes when unlimited, as [`crate::samples::Claims`]).
    headroom: AtomicUsize,
}

impl<const N: usize> Default for SampleRings<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SampleRings<N> {
    pub const fn new() -> Self {
        SampleRings {
            rings: [const { SampleRing::new() }; MAX_CPUS],
            headroom: AtomicUsize::new(0),
        }
    }

    /// At most `n` entries per ring from now on (the kernel's
    /// `measure_capacity=` word; set at boot, before any sample).
    pub fn set_limit(&self, n: usize) {
        self.headroom.store(usize::MAX - n, R);
    }

    /// Appends to `cpu`'s ring; `false` when it is full (or `cpu` has no
    /// slot). Owner CPU only, interrupts masked.
    pub fn push(&self, cpu: usize, tsc: u64, stack: u32) -> bool {
        let limit = usize::MAX - self.headroom.load(R);
        self.rings.get(cpu).is_some_and(|r| r.push(limit, tsc, stack))
    }

    /// `cpu`'s ring.
    pub fn ring(&self, cpu: usize) -> Option<&SampleRing<N>> {
        self.rings.get(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    #[test]
    fn rings_keep_order_and_refuse_when_full() {
        let r: Box<SampleRings<4>> = Box::default();
        for i in 0..6u64 {
            let kept = r.push(1, 100 + i, i as u32);
            assert_eq!(kept, i < 4, "entry {i}");
        }
        let got: Vec<_> = r.ring(1).unwrap().entries().collect();
        assert_eq!(got, [(100, 0), (101, 1), (102, 2), (103, 3)]);
        assert!(r.ring(0).unwrap().is_empty());
        assert!(!r.push(MAX_CPUS, 1, 1), "no slot past MAX_CPUS");
    }

    #[test]
    fn a_limit_caps_every_ring() {
        let r: Box<SampleRings<8>> = Box::default();
        r.set_limit(2);
        assert!(r.push(0, 1, 1) && r.push(0, 2, 1));
        assert!(!r.push(0, 3, 1));
        assert!(r.push(3, 1, 0), "the limit is per ring");
        assert_eq!(r.ring(0).unwrap().len(), 2);
    }
}
