//! The run-queue policy, chosen once at boot by the kernel command line
//! (`sched=percpu`, the default, or `sched=global`).
//!
//! `global` is the seed's design kept as an option so the measurement tools
//! can be shown to find its cost: every CPU queues to and picks from one run
//! queue under one lock (`global_queue.rs`). The flag is written before any
//! AP starts and read on every scheduling decision: one well-predicted
//! branch on a read-mostly byte.

use core::sync::atomic::{AtomicBool, Ordering};

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

/// Sets the policy. Called once on the BSP before the scheduler owns any
/// CPU: changing it while threads are queued would strand them.
pub fn set_policy(p: Policy) {
    GLOBAL.0.store(p == Policy::Global, Ordering::Relaxed);
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
