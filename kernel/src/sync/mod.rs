//! Kernel locks.
//!
//! [`IrqSpinLock`] masks interrupts on the local CPU for as long as the guard
//! lives, so a lock taken from thread context can never be re-entered by an
//! interrupt handler on the same CPU. It is a thin wrapper over `spin`; in
//! `measure` builds a lock created with [`IrqSpinLock::measured`] reports
//! acquisitions, contention, spin loops, wait and hold cycles (Linux
//! lock_stat vocabulary) under its [`LockClass`]. [`SpinLock`] is the same
//! without masking interrupts, for the locks held across a TLB shootdown.

mod cpu_local;
mod irq_lock;
mod irq_off;
mod lock_class;
#[cfg(feature = "measure")]
pub mod lock_probe;
mod spin_lock;

pub use cpu_local::CpuCell;
pub use irq_lock::IrqSpinLock;
pub use irq_off::IrqOff;
pub use lock_class::{LockClass, SchedSite, SharedClass};
pub use spin_lock::SpinLock;
