//! The run-queue policy, chosen once at boot by the kernel command line
//! (`sched=percpu`, the default, or `sched=global`).
//!
//! `global` is the seed's design kept as an option so the measurement tools
//! can be shown to find its cost: every CPU queues to and picks from one run
//! queue under one lock (`global_queue.rs`). The flag is written before any
//! AP starts and read on every scheduling decision: one well-predicted
//! branch on a read-mostly byte.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// One run queue per CPU, placement on wakeup, stealing when dry.
    PerCpu,
    /// One run queue (CPU 0's) shared by every CPU; nothing to steal.
    Global,
}

impl Policy {
    /// The command-line value (`sched=<name>`) and the boot line's name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::PerCpu => "percpu",
            Policy::Global => "global",
        }
    }

    /// The policy a `sched=` value names, if any.
    pub fn from_name(s: &str) -> Option<Policy> {
        [Policy::PerCpu, Policy::Global].into_iter().find(|p| p.name() == s)
    }
}

/// The flag on a cache line of its own, so no write to a neighbour ever
/// makes the per-CPU path's read of it miss.
#[repr(align(64))]
struct Flag(AtomicBool);

static GLOBAL: Flag = Flag(AtomicBool::new(false));

/// Whether the per-CPU policy balances load: an idle (or dry) CPU takes
/// work queued on another, and a wakeup or preemption requeues a thread on
/// the least busy CPU. On by default; `balance=off` turns both off (a
/// thread that has run is always requeued on its last CPU) to plant a load
/// imbalance the measurement must find (idle time beside run-queue delay).
static BALANCE: Flag = Flag(AtomicBool::new(true));

/// Sets the policy. Called once on the BSP before the scheduler owns any
/// CPU: changing it while threads are queued would strand them.
pub fn set_policy(p: Policy) {
    GLOBAL.0.store(p == Policy::Global, Ordering::Relaxed);
}

/// Turns load balancing on or off. Called once on the BSP before the
/// scheduler owns any CPU, like [`set_policy`].
pub fn set_balance(on: bool) {
    BALANCE.0.store(on, Ordering::Relaxed);
}

/// Whether the per-CPU policy balances load (see [`BALANCE`]).
#[inline(always)]
pub fn balance() -> bool {
    BALANCE.0.load(Ordering::Relaxed)
}

/// Extra TSC cycles every run-queue pick holds its lock (`sched_hold=`):
/// the same critical section under either policy, so a scenario can
/// plant a run-queue lock's cost that only sharing turns into waiting.
static PICK_HOLD: AtomicU64 = AtomicU64::new(0);

/// Sets [`PICK_HOLD`]. Called once on the BSP before the scheduler owns
/// any CPU.
pub fn set_pick_hold(cycles: u64) {
    PICK_HOLD.store(cycles, Ordering::Relaxed);
}

/// Spins out the planted hold (nothing when `sched_hold=` is 0). Called
/// with the run-queue lock held.
#[inline]
pub(super) fn pad_pick_hold() {
    let cycles = PICK_HOLD.load(Ordering::Relaxed);
    if cycles == 0 {
        return;
    }
    let start = crate::arch::x86_64::cpu::rdtsc();
    while crate::arch::x86_64::cpu::rdtsc().wrapping_sub(start) < cycles {
        core::hint::spin_loop();
    }
}

/// The policy in force.
pub fn policy() -> Policy {
    if global() {
        Policy::Global
    } else {
        Policy::PerCpu
    }
}

/// Whether every CPU shares the one run queue.
#[inline(always)]
pub(super) fn global() -> bool {
    GLOBAL.0.load(Ordering::Relaxed)
}
