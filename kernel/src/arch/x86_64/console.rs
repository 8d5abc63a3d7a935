//! COM1, the human console: whole writes under one interrupt-masking lock,
//! so lines from different CPUs never interleave. The panic and exception
//! paths use [`emergency_print`], which waits a bounded time for the lock
//! and then writes anyway: a report must get out even if the CPU that died
//! held it.

use super::serial::Uart;
use crate::sync::IrqSpinLock;
use core::fmt::{self, Write};

static COM1: IrqSpinLock<Uart> =
    IrqSpinLock::shared(Uart::new(0x3f8), crate::sync::SharedClass::Console);

pub fn init() {
    COM1.lock().init();
}

pub fn print(args: fmt::Arguments) {
    let mut g = COM1.lock();
    let _ = g.write_fmt(args);
    let _written = g.take_written();
    #[cfg(feature = "measure")]
    super::hooks::event(super::hooks::ArchEvent::Com1Bytes(_written));
}

/// Writes `args` even if the console lock is stuck. The bytes count as
/// COM1 bytes like any other write.
pub fn emergency_print(args: fmt::Arguments) {
    let _written = match COM1.try_lock_for_spins(10_000_000) {
        Some(mut g) => {
            let _ = g.write_fmt(args);
            g.take_written()
        }
        None => {
            let mut raw = Uart::new(0x3f8);
            let _ = raw.write_fmt(args);
            raw.take_written()
        }
    };
    #[cfg(feature = "measure")]
    super::hooks::event(super::hooks::ArchEvent::Com1Bytes(_written));
}
