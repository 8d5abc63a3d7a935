//! Per-CPU scheduler state (a field of the CPU's `PerCpu`).

use super::run_queue::RunQueue;
use super::thread::Thread;
use crate::arch::x86_64::percpu::MAX_CPUS;
use crate::mm::address_space::AddressSpace;
use crate::sync::{CpuCell, IrqSpinLock, LockClass};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

/// What each CPU's scheduler counts about itself for its own use and the
/// kernel tests; everything reports read lives in the measure catalogue.
pub struct CpuStats {
    /// Timer ticks taken (tests check every CPU gets them).
    pub ticks: AtomicU64,
    /// Context switches (the idle loop tells whether `schedule` ran anything).
    pub switches: AtomicU64,
    /// Self-test IPIs received (the IPI test counts them).
    pub test_ipis_received: AtomicU64,
}

impl CpuStats {
    const fn new() -> Self {
        CpuStats {
            ticks: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            test_ipis_received: AtomicU64::new(0),
        }
    }
}

pub struct CpuSched {
    pub(super) run_queue: IrqSpinLock<RunQueue>,
    /// Mirror of the run queue's length, readable without the lock.
    pub queue_len: AtomicUsize,
    pub(super) current: CpuCell<Option<Arc<Thread>>>,
    /// The thread just switched away from, for `finish_switch`.
    pub(super) prev: CpuCell<Option<Arc<Thread>>>,
    pub(super) idle: CpuCell<Option<Arc<Thread>>>,
    /// The address space whose tables are loaded (None = kernel only).
    pub(super) loaded_space: CpuCell<Option<Arc<AddressSpace>>>,
    pub running_idle: AtomicBool,
    /// Idle and halted in `hlt`: needs an IPI to notice new work.
    pub halted: AtomicBool,
    pub reschedule_pending: AtomicBool,
    /// The scheduler owns this CPU (set once its idle thread exists).
    pub active: AtomicBool,
    /// Timer fast-path continuations used since the last locked pass.
    pub(super) skips_used: AtomicU32,
    /// The timer interrupt is firing expired timed waits on this CPU (their
    /// wakeups have no waking thread).
    pub(super) in_timer_expiry: AtomicBool,
    pub stats: CpuStats,
}

/// Every CPU's scheduler state, by CPU index (the scheduler's own per-CPU
/// data: `arch`'s `PerCpu` knows nothing of it).
pub static CPUS: [CpuSched; MAX_CPUS] = [const { CpuSched::new() }; MAX_CPUS];

impl CpuSched {
    pub const fn new() -> Self {
        CpuSched {
            run_queue: IrqSpinLock::measured(RunQueue::new(), LockClass::Sched),
            queue_len: AtomicUsize::new(0),
            current: CpuCell::new(None),
            prev: CpuCell::new(None),
            idle: CpuCell::new(None),
            loaded_space: CpuCell::new(None),
            running_idle: AtomicBool::new(true),
            halted: AtomicBool::new(false),
            reschedule_pending: AtomicBool::new(false),
            active: AtomicBool::new(false),
            skips_used: AtomicU32::new(0),
            in_timer_expiry: AtomicBool::new(false),
            stats: CpuStats::new(),
        }
    }
}
