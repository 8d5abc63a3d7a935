//! The human console: text lines on COM1.
//!
//! `kprintln!` takes the console lock with interrupts masked, so lines from
//! different CPUs never interleave. The panic and exception paths use
//! [`emergency_writer`], which waits a bounded time for the lock and then
//! writes anyway: a report must get out even if the CPU that died held it.

use crate::arch::x86_64::serial::Uart;
use crate::sync::IrqSpinLock;
use core::fmt::{self, Write};

static COM1: IrqSpinLock<Uart> = IrqSpinLock::new(Uart::new(0x3f8));

pub fn init() {
    COM1.lock().init();
}

pub fn print(args: fmt::Arguments) {
    let mut g = COM1.lock();
    let _ = g.write_fmt(args);
    crate::m_add!(capos_measure::catalogue::serial::bytes.at(capos_measure::catalogue::SerialChannel::Com1), g.take_written());
}

/// Writes `args` even if the console lock is stuck.
pub fn emergency_print(args: fmt::Arguments) {
    match COM1.try_lock_for_spins(10_000_000) {
        Some(mut g) => {
            let _ = g.write_fmt(args);
        }
        None => {
            let _ = Uart::new(0x3f8).write_fmt(args);
        }
    }
}

static SWITCH_LOGS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Turns scheduler transition lines (`switch_log!`) on or off.
pub fn set_switch_logs(on: bool) {
    SWITCH_LOGS.store(on, core::sync::atomic::Ordering::Relaxed);
}

pub fn switch_logs() -> bool {
    SWITCH_LOGS.load(core::sync::atomic::Ordering::Relaxed)
}

/// A scheduler transition line (process/thread start and exit): printed
/// unless the `suppress_switch_logs` command-line word turned them off.
#[macro_export]
macro_rules! switch_log {
    ($($arg:tt)*) => {
        if $crate::console::switch_logs() {
            $crate::kprintln!($($arg)*);
        }
    };
}

#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! kprintln {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
