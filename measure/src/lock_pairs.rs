//! "Contended with": who waited on a lock and who held it.
//!
//! At every contended acquisition of a measured lock the waiter records its
//! own site, the holder's site (read from the lock when the spin started),
//! whether the holder ran on another CPU, and the wait. A *site* is an index
//! into the lock class's dimension: a `SchedLockSite` for the scheduler
//! locks, the `SharedLock` itself for a shared kernel lock (whose holder is
//! then the same lock, or unknown). [`UNKNOWN_HOLDER`] is a holder that had
//! already released (or took the lock without statistics) when the waiter
//! looked.
//!
//! The table is indexed directly by (phase, class, waiter, holder): every
//! key has its own slot, so nothing is ever refused and there is nothing to
//! overflow. Three relaxed `fetch_add`s per contended acquisition.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::catalogue::{SchedLockSite, SharedLock};
use crate::phase::Phase;
use crate::record::ContentionClass;

/// Holder index of a holder the waiter could not see.
pub const UNKNOWN_HOLDER: u8 = u8::MAX;
/// `holder=` text of [`UNKNOWN_HOLDER`].
pub const UNKNOWN_LABEL: &str = "unknown";

/// Phases a probe can record in (`boot` .. `final_total`, as recorded).
const PHASES: usize = 5;
const SCHED: usize = SchedLockSite::ALL.len();
const SHARED: usize = SharedLock::ALL.len();
/// Slots of one class in one phase: waiters x (holders + unknown).
const SCHED_SLOTS: usize = SCHED * (SCHED + 1);
const SHARED_SLOTS: usize = SHARED * (SHARED + 1);
const PER_PHASE: usize = SCHED_SLOTS + SHARED_SLOTS;
/// Every key's slot.
pub const PAIR_SLOTS: usize = PHASES * PER_PHASE;

/// (phase, [`ContentionClass`] id, waiter index, holder index or
/// [`UNKNOWN_HOLDER`]).
pub type PairKey = (Phase, u8, u8, u8);

/// What the waits of one pair add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairSums {
    /// Contended acquisitions.
    pub count: u64,
    /// Their summed wait (TSC cycles).
    pub wait_cycles: u64,
    /// Of them, those whose holder was seen on another CPU.
    pub cross_cpu: u64,
}

impl PairSums {
    /// Adds `o` (saturating counts, wrapping cycles as the shards do).
    pub fn add(&mut self, o: &PairSums) {
        self.count = self.count.saturating_add(o.count);
        self.wait_cycles = self.wait_cycles.wrapping_add(o.wait_cycles);
        self.cross_cpu = self.cross_cpu.saturating_add(o.cross_cpu);
    }
}

/// One non-empty slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairEntry {
    pub key: PairKey,
    pub sums: PairSums,
}

/// The slot of a key, `None` when the phase, class, waiter or holder is
/// out of range.
fn slot_of(phase: Phase, class: u8, waiter: u8, holder: u8) -> Option<usize> {
    let p = phase as usize;
    let (base, n) = match ContentionClass::from_id(class)? {
        ContentionClass::SchedulerLock => (0, SCHED),
        ContentionClass::SharedKernelLock => (SCHED_SLOTS, SHARED),
    };
    let w = waiter as usize;
    let h = if holder == UNKNOWN_HOLDER { n } else { holder as usize };
    (p < PHASES && w < n && h <= n).then_some(p * PER_PHASE + base + w * (n + 1) + h)
}

/// The key of slot `i` (inverse of [`slot_of`]).
fn key_of(i: usize) -> PairKey {
    let (p, rest) = (i / PER_PHASE, i % PER_PHASE);
    let (class, n, rest) = if rest < SCHED_SLOTS {
        (ContentionClass::SchedulerLock, SCHED, rest)
    } else {
        (ContentionClass::SharedKernelLock, SHARED, rest - SCHED_SLOTS)
    };
    let (w, h) = (rest / (n + 1), rest % (n + 1));
    let holder = if h == n { UNKNOWN_HOLDER } else { h as u8 };
    (Phase::ALL[p], class as u8, w as u8, holder)
}

/// The waiter/holder table: one slot of three counters per key.
pub struct PairTable {
    count: [AtomicU64; PAIR_SLOTS],
    wait: [AtomicU64; PAIR_SLOTS],
    cross: [AtomicU64; PAIR_SLOTS],
}

impl Default for PairTable {
    fn default() -> Self {
        Self::new()
    }
}

impl PairTable {
    pub const fn new() -> Self {
        PairTable {
            count: [const { AtomicU64::new(0) }; PAIR_SLOTS],
            wait: [const { AtomicU64::new(0) }; PAIR_SLOTS],
            cross: [const { AtomicU64::new(0) }; PAIR_SLOTS],
        }
    }

    /// Counts one contended acquisition; `false` when the key is out of
    /// range (nothing counted).
    pub fn record(
        &self,
        phase: Phase,
        class: u8,
        waiter: u8,
        holder: u8,
        wait: u64,
        cross_cpu: bool,
    ) -> bool {
        let Some(i) = slot_of(phase, class, waiter, holder) else {
            return false;
        };
        self.count[i].fetch_add(1, Ordering::Relaxed);
        self.wait[i].fetch_add(wait, Ordering::Relaxed);
        if cross_cpu {
            self.cross[i].fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Every key with a count, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = PairEntry> + '_ {
        (0..PAIR_SLOTS).filter_map(|i| {
            let count = self.count[i].load(Ordering::Relaxed);
            (count != 0).then(|| PairEntry {
                key: key_of(i),
                sums: PairSums {
                    count,
                    wait_cycles: self.wait[i].load(Ordering::Relaxed),
                    cross_cpu: self.cross[i].load(Ordering::Relaxed),
                },
            })
        })
    }
}

/// `waiter=` / `holder=` text of index `i` in `class` (numbers when unknown
/// to this build).
pub fn site_name(class: u8, i: u8) -> alloc::string::String {
    use alloc::string::ToString;
    if i == UNKNOWN_HOLDER {
        return UNKNOWN_LABEL.to_string();
    }
    ContentionClass::from_id(class)
        .and_then(|c| c.lock_name(i))
        .map_or_else(|| i.to_string(), |s| s.to_string())
}

/// Inverse of [`site_name`] for a known class.
pub fn site_index(class: ContentionClass, name: &str) -> Option<u8> {
    if name == UNKNOWN_LABEL {
        return Some(UNKNOWN_HOLDER);
    }
    class.lock_index(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHED_ID: u8 = ContentionClass::SchedulerLock as u8;
    const SHARED_ID: u8 = ContentionClass::SharedKernelLock as u8;

    #[test]
    fn every_slot_round_trips_through_its_key() {
        for i in 0..PAIR_SLOTS {
            let (p, c, w, h) = key_of(i);
            assert_eq!(slot_of(p, c, w, h), Some(i), "slot {i}");
        }
    }

    #[test]
    fn records_sum_per_key_and_refuse_out_of_range() {
        let t = PairTable::new();
        let steal = SchedLockSite::Steal as u8;
        let wake = SchedLockSite::WakeUnblock as u8;
        assert!(t.record(Phase::Work, SCHED_ID, wake, steal, 100, true));
        assert!(t.record(Phase::Work, SCHED_ID, wake, steal, 50, false));
        assert!(t.record(Phase::Work, SCHED_ID, wake, UNKNOWN_HOLDER, 7, false));
        let heap = SharedLock::Heap as u8;
        assert!(t.record(Phase::Boot, SHARED_ID, heap, heap, 9, true));
        assert!(!t.record(Phase::Work, 2, 0, 0, 1, true));
        assert!(!t.record(Phase::Work, SCHED_ID, SCHED as u8, 0, 1, true));
        assert!(!t.record(Phase::Aggregate, SCHED_ID, 0, 0, 1, true));
        let got: Vec<PairEntry> = t.entries().collect();
        let s = |count, wait_cycles, cross_cpu| PairSums { count, wait_cycles, cross_cpu };
        assert_eq!(
            got,
            vec![
                PairEntry { key: (Phase::Boot, SHARED_ID, heap, heap), sums: s(1, 9, 1) },
                PairEntry { key: (Phase::Work, SCHED_ID, wake, steal), sums: s(2, 150, 1) },
                PairEntry { key: (Phase::Work, SCHED_ID, wake, UNKNOWN_HOLDER), sums: s(1, 7, 0) },
            ]
        );
    }

    #[test]
    fn names_read_back() {
        let c = ContentionClass::SchedulerLock;
        assert_eq!(site_name(SCHED_ID, SchedLockSite::Steal as u8), "steal");
        assert_eq!(site_name(SCHED_ID, UNKNOWN_HOLDER), "unknown");
        assert_eq!(site_name(SCHED_ID, 200), "200");
        assert_eq!(site_index(c, "steal"), Some(SchedLockSite::Steal as u8));
        assert_eq!(site_index(c, "unknown"), Some(UNKNOWN_HOLDER));
        assert_eq!(site_index(c, "nope"), None);
    }
}
