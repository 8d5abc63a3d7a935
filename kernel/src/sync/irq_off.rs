//! Interrupt masking as a value: the one save/restore of the interrupt flag.
//!
//! An [`IrqOff`] exists only while interrupts are masked on the CPU that
//! made it (it is neither `Send` nor `Sync`), so code that needs "no
//! interrupt handler can run here" (per-CPU cells, spin locks that handlers
//! also take) asks for one by reference instead of trusting a comment.

use core::marker::PhantomData;
use x86_64::instructions::interrupts;

/// Masks interrupts for its lifetime and restores the previous state.
pub struct IrqOff {
    were_enabled: bool,
    /// Not Send/Sync: the proof is about this CPU only.
    _cpu_bound: PhantomData<*mut ()>,
}

impl IrqOff {
    pub fn new() -> Self {
        let were_enabled = interrupts::are_enabled();
        interrupts::disable();
        IrqOff { were_enabled, _cpu_bound: PhantomData }
    }
}

impl Drop for IrqOff {
    fn drop(&mut self) {
        if self.were_enabled {
            interrupts::enable();
        }
    }
}
