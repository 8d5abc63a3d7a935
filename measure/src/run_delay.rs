//! Run-queue delay: per CPU, a histogram of how long each thread it
//! switched in had been runnable, and the worst such delay with its thread
//! and, for a woken thread, the waker's thread and kernel stack at the
//! wakeup.
//!
//! The delay is the thread's `runnable` stretch (see [`crate::thread_time`])
//! ending at its switch-in; it counts in the phase current at the switch-in,
//! on the CPU that switched it in (the owner CPU writes its own slots, so
//! relaxed atomics suffice). Two kinds: `wake` (runnable since a wakeup or
//! its creation) and `preempt` (runnable since it was preempted or
//! yielded).
//!
//! Buckets are log-linear, finer than the catalogue's log2 histograms: four
//! per power of two. Values 0..=3 have a bucket each; from 4 on, bucket
//! `4 + 4 (e - 2) + s` holds `[(4 + s) 2^(e-2), (5 + s) 2^(e-2))` where `e`
//! is the value's highest set bit: the bucket is at most 25% wide.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::phase::Phase;
use crate::samples::MAX_FRAMES;
use crate::MAX_CPUS;

const R: Ordering = Ordering::Relaxed;
/// Phase slots: `boot` to `final_total` (after the final mark).
const SLOTS: usize = 5;
/// Log-linear buckets (0..=3, then four per power of two up to 2^64).
pub const BUCKETS: usize = 252;

/// Why a switched-in thread was runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum DelayKind {
    /// Woken (or just created).
    Wake = 0,
    /// Preempted, or gave the CPU up while still runnable.
    Preempt = 1,
}

/// Number of delay kinds.
pub const KINDS: usize = 2;

impl DelayKind {
    pub const ALL: [DelayKind; KINDS] = [DelayKind::Wake, DelayKind::Preempt];

    pub const fn name(self) -> &'static str {
        match self {
            DelayKind::Wake => "wake",
            DelayKind::Preempt => "preempt",
        }
    }

    pub fn from_id(id: u64) -> Option<DelayKind> {
        DelayKind::ALL.get(usize::try_from(id).ok()?).copied()
    }

    pub fn from_name(name: &str) -> Option<DelayKind> {
        DelayKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The bucket of `v` cycles.
pub const fn bucket(v: u64) -> usize {
    if v < 4 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() as usize;
    4 + (e - 2) * 4 + ((v >> (e - 2)) & 3) as usize
}

/// The smallest value in bucket `b`.
pub const fn bucket_low(b: usize) -> u64 {
    if b < 4 {
        return b as u64;
    }
    let (e, s) = ((b - 4) / 4 + 2, (b - 4) % 4);
    (4 + s as u64) << (e - 2)
}

/// The worst delay of one (CPU, phase).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct WorstDelay {
    pub cycles: u64,
    /// A [`DelayKind`] id (named in text and JSON).
    #[cfg_attr(feature = "std", serde(skip))]
    pub kind: u8,
    /// The delayed thread's ref and process.
    pub thread: u64,
    pub pid: u32,
    /// Who woke it (a thread ref; 0 for the timer interrupt's expiry, or a
    /// preempted thread) and the waker's kernel stack there, leaf first.
    pub waker: u64,
    pub frames: alloc::vec::Vec<u64>,
}

struct WorstSlot {
    cycles: AtomicU64,
    kind: AtomicU8,
    thread: AtomicU64,
    pid: AtomicU64,
    waker: AtomicU64,
    n: AtomicU8,
    frames: [AtomicU64; MAX_FRAMES],
}

struct CpuDelays {
    counts: [[[AtomicU64; BUCKETS]; KINDS]; SLOTS],
    sums: [[AtomicU64; KINDS]; SLOTS],
    worst: [WorstSlot; SLOTS],
}

/// A thread ref and a kernel stack kept in a thread: who woke it (until its
/// switch-in), or where it blocked (until its wakeup).
#[derive(Debug, Default)]
pub struct StackNote {
    waker: AtomicU64,
    n: AtomicU8,
    frames: [AtomicU64; MAX_FRAMES],
}

impl StackNote {
    pub const fn new() -> Self {
        StackNote {
            waker: AtomicU64::new(0),
            n: AtomicU8::new(0),
            frames: [const { AtomicU64::new(0) }; MAX_FRAMES],
        }
    }

    /// Notes the waker and its stack (leaf first, at most 16 frames).
    pub fn set(&self, waker: u64, frames: &[u64]) {
        let n = frames.len().min(MAX_FRAMES);
        for (slot, f) in self.frames.iter().zip(&frames[..n]) {
            slot.store(*f, R);
        }
        self.n.store(n as u8, R);
        self.waker.store(waker, R);
    }

    /// Copies the frames into `out`; returns how many.
    pub fn frames(&self, out: &mut [u64; MAX_FRAMES]) -> usize {
        let n = (self.n.load(R) as usize).min(MAX_FRAMES);
        for (dst, src) in out.iter_mut().zip(&self.frames[..n]) {
            *dst = src.load(R);
        }
        n
    }

    /// Forgets the waker (the thread was preempted, not woken).
    pub fn clear(&self) {
        self.n.store(0, R);
        self.waker.store(0, R);
    }
}

/// Every CPU's run-queue delays.
pub struct RunDelays {
    cpus: [CpuDelays; MAX_CPUS],
}

impl Default for RunDelays {
    fn default() -> Self {
        Self::new()
    }
}

/// One (phase, CPU, kind) histogram: non-zero buckets and the sum.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct DelayHist {
    pub phase: Phase,
    pub cpu: u8,
    pub kind: u8,
    pub sum: u64,
    /// (bucket, count), ascending bucket.
    pub buckets: alloc::vec::Vec<(u8, u64)>,
}

/// Delay histograms by (phase, CPU, kind id): (sum, bucket -> count).
#[cfg(feature = "std")]
pub type DelayRows =
    std::collections::BTreeMap<(Phase, u8, u8), (u64, std::collections::BTreeMap<u8, u64>)>;

impl DelayHist {
    pub fn count(&self) -> u64 {
        self.buckets.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n))
    }
}

impl RunDelays {
    pub const fn new() -> Self {
        RunDelays {
            cpus: [const {
                CpuDelays {
                    counts: [const { [const { [const { AtomicU64::new(0) }; BUCKETS] }; KINDS] };
                        SLOTS],
                    sums: [const { [const { AtomicU64::new(0) }; KINDS] }; SLOTS],
                    worst: [const {
                        WorstSlot {
                            cycles: AtomicU64::new(0),
                            kind: AtomicU8::new(0),
                            thread: AtomicU64::new(0),
                            pid: AtomicU64::new(0),
                            waker: AtomicU64::new(0),
                            n: AtomicU8::new(0),
                            frames: [const { AtomicU64::new(0) }; MAX_FRAMES],
                        }
                    }; SLOTS],
                }
            }; MAX_CPUS],
        }
    }

    /// `cpu` switched in thread `thread` (of `pid`) after `cycles` runnable
    /// of `kind`, in phase slot `phase`; `note` says who woke it. Owner CPU.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        cpu: usize,
        phase: Phase,
        kind: DelayKind,
        cycles: u64,
        thread: u64,
        pid: u32,
        note: &StackNote,
    ) {
        let Some(c) = self.cpus.get(cpu) else { return };
        let p = (phase as usize).min(SLOTS - 1);
        c.counts[p][kind as usize][bucket(cycles)].fetch_add(1, R);
        c.sums[p][kind as usize].fetch_add(cycles, R);
        let w = &c.worst[p];
        if cycles < w.cycles.load(R) || (cycles == 0 && w.thread.load(R) != 0) {
            return;
        }
        w.cycles.store(cycles, R);
        w.kind.store(kind as u8, R);
        w.thread.store(thread, R);
        w.pid.store(pid as u64, R);
        let n = note.n.load(R) as usize;
        for (dst, src) in w.frames.iter().zip(&note.frames[..n.min(MAX_FRAMES)]) {
            dst.store(src.load(R), R);
        }
        w.n.store(n as u8, R);
        w.waker.store(note.waker.load(R), R);
    }

    /// Every (phase slot, CPU, kind) histogram with a count.
    pub fn hists(&self) -> impl Iterator<Item = DelayHist> + '_ {
        (0..MAX_CPUS).flat_map(move |cpu| {
            (0..SLOTS).flat_map(move |p| {
                (0..KINDS).filter_map(move |k| {
                    let c = &self.cpus[cpu];
                    let buckets: alloc::vec::Vec<(u8, u64)> = (0..BUCKETS)
                        .map(|b| (b as u8, c.counts[p][k][b].load(R)))
                        .filter(|(_, n)| *n != 0)
                        .collect();
                    (!buckets.is_empty()).then(|| DelayHist {
                        phase: Phase::from_id(p as u8).unwrap_or(Phase::FinalTotal),
                        cpu: cpu as u8,
                        kind: k as u8,
                        sum: c.sums[p][k].load(R),
                        buckets,
                    })
                })
            })
        })
    }

    /// Every (phase slot, CPU) worst delay, where any thread was switched in.
    pub fn worst(&self) -> impl Iterator<Item = (Phase, u8, WorstDelay)> + '_ {
        (0..MAX_CPUS).flat_map(move |cpu| {
            (0..SLOTS).filter_map(move |p| {
                let w = &self.cpus[cpu].worst[p];
                let thread = w.thread.load(R);
                if thread == 0 {
                    return None;
                }
                let n = (w.n.load(R) as usize).min(MAX_FRAMES);
                Some((
                    Phase::from_id(p as u8).unwrap_or(Phase::FinalTotal),
                    cpu as u8,
                    WorstDelay {
                        cycles: w.cycles.load(R),
                        kind: w.kind.load(R),
                        thread,
                        pid: w.pid.load(R) as u32,
                        waker: w.waker.load(R),
                        frames: w.frames[..n].iter().map(|f| f.load(R)).collect(),
                    },
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;

    #[test]
    fn buckets_are_log_linear_and_contiguous() {
        assert_eq!(
            [bucket(0), bucket(3), bucket(4), bucket(7), bucket(8), bucket(9)],
            [0, 3, 4, 7, 8, 8]
        );
        assert_eq!([bucket(10), bucket(15), bucket(16), bucket(1_000)], [9, 11, 12, 35]);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        for b in 0..BUCKETS {
            assert_eq!(bucket(bucket_low(b)), b, "low end of {b}");
            if b + 1 < BUCKETS {
                assert_eq!(bucket(bucket_low(b + 1) - 1), b, "high end of {b}");
                // At most 25% wide from 4 on.
                let width = bucket_low(b + 1) - bucket_low(b);
                assert!(b < 4 || width * 4 <= bucket_low(b), "{b}");
            }
        }
        assert_eq!(bucket_low(35), 896);
    }

    #[test]
    fn records_per_cpu_phase_and_kind_and_keeps_the_worst() {
        let d: Box<RunDelays> = Box::default();
        let note = StackNote::new();
        note.set(0x1_0000_0002, &[0xffff_ffff_8000_1000, 0xffff_ffff_8000_2000]);
        d.record(1, Phase::Work, DelayKind::Wake, 1_000, 7, 3, &note);
        d.record(1, Phase::Work, DelayKind::Wake, 1_010, 8, 3, &StackNote::new());
        d.record(1, Phase::Work, DelayKind::Preempt, 5, 9, 3, &StackNote::new());
        d.record(1, Phase::Work, DelayKind::Wake, 700, 7, 3, &StackNote::new());
        let hists: Vec<DelayHist> = d.hists().collect();
        assert_eq!(hists.len(), 2);
        assert_eq!(
            hists[0],
            DelayHist {
                phase: Phase::Work,
                cpu: 1,
                kind: 0,
                sum: 2_710,
                buckets: vec![(33, 1), (35, 2)]
            }
        );
        assert_eq!((hists[1].kind, hists[1].count(), hists[1].sum), (1, 1, 5));
        let worst: Vec<_> = d.worst().collect();
        assert_eq!(worst.len(), 1);
        let (phase, cpu, w) = &worst[0];
        assert_eq!((*phase, *cpu), (Phase::Work, 1));
        assert_eq!(
            *w,
            WorstDelay { cycles: 1_010, kind: 0, thread: 8, pid: 3, waker: 0, frames: vec![] }
        );
        d.record(1, Phase::Work, DelayKind::Wake, 2_000, 7, 3, &note);
        let w = d.worst().next().unwrap().2;
        assert_eq!((w.cycles, w.waker, w.frames.len()), (2_000, 0x1_0000_0002, 2));
    }

    #[test]
    fn kinds_round_trip() {
        for k in DelayKind::ALL {
            assert_eq!(DelayKind::from_name(k.name()), Some(k));
            assert_eq!(DelayKind::from_id(k as u64), Some(k));
        }
    }
}
