//! State the threads of one fuzz child share, and the child's slot layout.

use capos_fuzzplan::rng::Rng;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Slots of a fuzz child's table, in the order the parent grants them.
pub mod slot {
    pub const TIMER: u32 = 0;
    pub const SPAWNER: u32 = 1;
    pub const THREAD_SPAWNER: u32 = 2;
    pub const PARK: u32 = 3;
    pub const MEASURE: u32 = 4;
    /// Present when the parent has an endpoint to share (with receive).
    pub const ENDPOINT: u32 = 5;
    /// Slots granted when there is an endpoint.
    pub const WITH_ENDPOINT: u32 = 6;
}

/// Steps the workers of this child have started (reported in its exit
/// code, see capos_fuzzplan::outcome).
pub static STEPS: AtomicU64 = AtomicU64::new(0);

/// Words the threads park on and unpark (the `ParkSpace` traffic).
pub static PARK_WORDS: [AtomicU32; 16] = [const { AtomicU32::new(0) }; 16];

/// Worker threads of this child that have not finished their plan yet.
pub static WORKERS_LEFT: AtomicU32 = AtomicU32::new(0);

/// One worker less (never below zero, whatever order the news arrives in).
pub fn worker_done() {
    let _ = WORKERS_LEFT.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}

/// The ring page of the child's main thread, which lives as long as the
/// process: the only ring a result buffer may point into (0: none yet).
static MAIN_RING: AtomicU64 = AtomicU64::new(0);

pub fn set_main_ring(addr: u64) {
    MAIN_RING.store(addr, Ordering::Release);
}

/// The main ring, or an unmapped address while there is none (a write
/// there faults only in the kernel's copy, which reports BadAddress).
pub fn main_ring() -> u64 {
    match MAIN_RING.load(Ordering::Acquire) {
        0 => super::values::UNMAPPED,
        a => a,
    }
}

/// Marks a registry entry whose thread has exited (its ring may be gone).
const DEAD: u64 = 1 << 63;
const RING_SLOTS: usize = 256;

/// Ring pages of this child's threads, live and exited (for scribbling).
static RINGS: [AtomicU64; RING_SLOTS] = [const { AtomicU64::new(0) }; RING_SLOTS];
static NEXT_RING: AtomicUsize = AtomicUsize::new(0);

/// Records a thread's ring; returns its entry (None when the registry is full).
pub fn register_ring(addr: u64) -> Option<usize> {
    let i = NEXT_RING.fetch_add(1, Ordering::Relaxed);
    let e = RINGS.get(i)?;
    e.store(addr, Ordering::Release);
    Some(i)
}

/// Marks entry `i` as belonging to an exited thread.
pub fn retire_ring(i: Option<usize>) {
    if let Some(e) = i.and_then(|i| RINGS.get(i)) {
        e.fetch_or(DEAD, Ordering::AcqRel);
    }
}

/// A registered ring: (address, whether its thread has exited).
pub fn pick_ring(r: &mut Rng, want_dead: bool) -> Option<(u64, bool)> {
    let n = NEXT_RING.load(Ordering::Acquire).min(RING_SLOTS);
    if n == 0 {
        return None;
    }
    // A few tries to find one of the wanted kind, else whatever we hit.
    let mut last = None;
    for _ in 0..8 {
        let v = RINGS[r.below(n as u64) as usize].load(Ordering::Acquire);
        if v == 0 {
            continue;
        }
        let found = (v & !DEAD, v & DEAD != 0);
        if found.1 == want_dead {
            return Some(found);
        }
        last = Some(found);
    }
    last
}
