//! Per-CPU cells: state one CPU owns and changes with interrupts masked.
//!
//! A [`CpuCell`] lives in a CPU's `PerCpu` slot. It hands out `&mut T` only
//! inside [`CpuCell::with`], which needs an [`IrqOff`] (so no handler on
//! this CPU can reach the cell meanwhile) and refuses re-entry (so two
//! `&mut` never coexist); the reference cannot escape the closure. Only the
//! owning CPU calls `with` (cells are reached through `percpu::current()`,
//! never through another CPU's slot); everything other CPUs read is atomic.

use super::IrqOff;
use core::cell::{Cell, UnsafeCell};

pub struct CpuCell<T> {
    value: UnsafeCell<T>,
    borrowed: Cell<bool>,
}

// SAFETY: only the owning CPU touches the cell, with interrupts masked
// (an `IrqOff` is required) and never re-entrantly (checked), so accesses
// never overlap even though the slot is reachable from every CPU.
unsafe impl<T: Send> Sync for CpuCell<T> {}

impl<T> CpuCell<T> {
    pub const fn new(value: T) -> Self {
        CpuCell { value: UnsafeCell::new(value), borrowed: Cell::new(false) }
    }

    /// Runs `f` with exclusive access to the value.
    pub fn with<R>(&self, _irq: &IrqOff, f: impl FnOnce(&mut T) -> R) -> R {
        if self.borrowed.replace(true) {
            panic!("a per-CPU cell was entered twice");
        }
        // SAFETY: interrupts are masked on this CPU (the token proves it),
        // only this CPU reaches the cell, and the flag above rules out a
        // second borrow, so this is the only reference to the value.
        let r = f(unsafe { &mut *self.value.get() });
        self.borrowed.set(false);
        r
    }
}
