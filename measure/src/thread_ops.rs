//! Per-thread, per-phase operation counts: system calls and ring SQEs.
//!
//! An open-addressing table shared by all CPUs, like the PC sample table:
//! the key packs `valid(1) | phase(3) | 0(12) | thread(48)`, where the
//! thread is the kernel's thread ref squeezed to 48 bits (slot index in the
//! low 16 bits, the low 32 bits of its generation above). A (thread, phase)
//! that finds no slot within [`MAX_PROBE`](crate::samples::MAX_PROBE) probes
//! is refused and the caller counts it (`syscalls.thread_overflow`).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::phase::Phase;
use crate::samples::{claim, Claims};

const VALID: u64 = 1 << 63;
const THREAD_MASK: u64 = (1 << 48) - 1;
const R: Ordering = Ordering::Relaxed;

/// What one count is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadOp {
    /// A system call (any number).
    Syscall,
    /// A submission-queue entry the kernel processed for the thread.
    RingSqe,
}

/// A kernel thread ref (`generation << 32 | index`) as the table keeps it;
/// `None` when the index does not fit 16 bits.
pub const fn thread_key(tref: u64) -> Option<u64> {
    let index = tref & 0xffff_ffff;
    if index > 0xffff {
        return None;
    }
    Some((tref >> 32) << 16 | index)
}

/// The inverse of [`thread_key`].
pub const fn thread_ref(key: u64) -> u64 {
    (key >> 16) << 32 | (key & 0xffff)
}

/// One (phase, thread) row: the thread's process and its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct ThreadOps {
    pub phase: Phase,
    /// The kernel's thread ref (as in trace events).
    pub thread: u64,
    pub pid: u32,
    pub syscalls: u64,
    pub ring_sqes: u64,
}

/// Rows by (phase, thread ref): how the report side keeps them.
pub type ThreadOpsRows = alloc::collections::BTreeMap<(Phase, u64), ThreadOps>;

/// Adds `t`'s counts to `rows` under `phase` (the row's own phase, or a
/// phase it is summed into): rows for one (phase, thread) add up.
pub fn add_to(rows: &mut ThreadOpsRows, phase: Phase, t: &ThreadOps) {
    let row = rows.entry((phase, t.thread)).or_insert(ThreadOps {
        phase,
        syscalls: 0,
        ring_sqes: 0,
        ..*t
    });
    row.syscalls = row.syscalls.saturating_add(t.syscalls);
    row.ring_sqes = row.ring_sqes.saturating_add(t.ring_sqes);
}

/// (phase, thread) -> (pid, syscalls, ring SQEs); `N` a power of two.
pub struct ThreadOpsTable<const N: usize> {
    keys: [AtomicU64; N],
    pids: [AtomicU32; N],
    syscalls: [AtomicU64; N],
    sqes: [AtomicU64; N],
    pub claims: Claims,
}

impl<const N: usize> Default for ThreadOpsTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ThreadOpsTable<N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two());

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::POWER_OF_TWO;
        ThreadOpsTable {
            keys: [const { AtomicU64::new(0) }; N],
            pids: [const { AtomicU32::new(0) }; N],
            syscalls: [const { AtomicU64::new(0) }; N],
            sqes: [const { AtomicU64::new(0) }; N],
            claims: Claims::new(),
        }
    }

    /// Adds `n` operations of `op` by thread `tref` of process `pid` in
    /// `phase`; `false` when the table has no room (or the ref is too big).
    pub fn record(&self, phase: Phase, tref: u64, pid: u32, op: ThreadOp, n: u64) -> bool {
        let Some(thread) = thread_key(tref) else { return false };
        let key = VALID | (phase as u64) << 60 | (thread & THREAD_MASK);
        let Some((i, claimed)) = claim(&self.keys, key, &self.claims) else { return false };
        if claimed {
            self.pids[i].store(pid, R);
        }
        let counts = match op {
            ThreadOp::Syscall => &self.syscalls[i],
            ThreadOp::RingSqe => &self.sqes[i],
        };
        counts.fetch_add(n, R);
        true
    }

    /// Every row recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = ThreadOps> + '_ {
        (0..N).filter_map(move |i| {
            let key = self.keys[i].load(R);
            if key & VALID == 0 {
                return None;
            }
            Some(ThreadOps {
                phase: Phase::from_id(((key >> 60) & 7) as u8)?,
                thread: thread_ref(key & THREAD_MASK),
                pid: self.pids[i].load(R),
                syscalls: self.syscalls[i].load(R),
                ring_sqes: self.sqes[i].load(R),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_thread_and_phase() {
        let t: ThreadOpsTable<16> = ThreadOpsTable::new();
        let a = 7u64 << 32 | 3;
        let b = 1u64 << 32 | 4;
        assert!(t.record(Phase::SpawnReady, a, 2, ThreadOp::Syscall, 1));
        assert!(t.record(Phase::Work, a, 2, ThreadOp::Syscall, 2));
        assert!(t.record(Phase::Work, a, 2, ThreadOp::RingSqe, 5));
        assert!(t.record(Phase::Work, b, 9, ThreadOp::Syscall, 1));
        let mut rows: Vec<ThreadOps> = t.entries().collect();
        rows.sort_by_key(|r| (r.phase, r.thread));
        assert_eq!(
            rows,
            vec![
                ThreadOps {
                    phase: Phase::SpawnReady,
                    thread: a,
                    pid: 2,
                    syscalls: 1,
                    ring_sqes: 0
                },
                ThreadOps { phase: Phase::Work, thread: b, pid: 9, syscalls: 1, ring_sqes: 0 },
                ThreadOps { phase: Phase::Work, thread: a, pid: 2, syscalls: 2, ring_sqes: 5 },
            ]
        );
    }

    #[test]
    fn refuses_when_full_or_the_ref_does_not_fit() {
        let t: ThreadOpsTable<2> = ThreadOpsTable::new();
        assert!(t.record(Phase::Work, 1, 1, ThreadOp::Syscall, 1));
        assert!(t.record(Phase::Work, 2, 1, ThreadOp::Syscall, 1));
        assert!(!t.record(Phase::Work, 3, 1, ThreadOp::Syscall, 1));
        assert!(!t.record(Phase::Work, 1 << 20, 1, ThreadOp::Syscall, 1));
        assert_eq!(t.entries().count(), 2);
    }

    #[test]
    fn thread_refs_round_trip_through_the_key() {
        for r in [0u64, 5, 0xffff, 0xdead_beef_u64 << 32 | 0x1234] {
            assert_eq!(thread_key(r).map(thread_ref), Some(r));
        }
        assert_eq!(thread_key(0x1_0000), None);
    }

    #[test]
    fn a_capped_table_refuses_new_rows_only() {
        let t: ThreadOpsTable<16> = ThreadOpsTable::new();
        t.claims.set_limit(1);
        assert!(t.record(Phase::Work, 1, 2, ThreadOp::Syscall, 1));
        assert!(!t.record(Phase::Work, 2, 2, ThreadOp::Syscall, 1));
        assert!(!t.record(Phase::Shutdown, 1, 2, ThreadOp::Syscall, 1));
        assert!(t.record(Phase::Work, 1, 2, ThreadOp::RingSqe, 4));
        assert_eq!(t.entries().count(), 1);
    }
}
