//! Kernel locks.
//!
//! [`IrqSpinLock`] masks interrupts on the local CPU for as long as the guard
//! lives, so a lock taken from thread context can never be re-entered by an
//! interrupt handler on the same CPU. It is a thin wrapper over `spin` so the
//! measure subsystem can later instrument every acquisition in one place.

mod irq_lock;

pub use irq_lock::IrqSpinLock;
