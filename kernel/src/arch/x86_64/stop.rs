//! Stopping the machine: every other CPU halts (NMI), the report goes out
//! on COM1, and QEMU exits with `GuestExit::Panic`.

use super::console::emergency_print;
use super::{debug_exit, ipi, percpu};
use capos_abi::guest::GuestExit;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

/// Whether some CPU is stopping the system (NMIs then mean "halt").
pub fn panicking() -> bool {
    PANICKING.load(Ordering::Acquire)
}

/// Stops the machine: the harness sees `GuestExit::Panic`.
pub fn stop_system(reason: &str) -> ! {
    x86_64::instructions::interrupts::disable();
    if !PANICKING.swap(true, Ordering::AcqRel) {
        ipi::stop_others();
    }
    emergency_print(format_args!(
        "!!! kernel stopped on cpu {}: {}\n",
        percpu::cpu_index(),
        reason
    ));
    debug_exit::exit(GuestExit::Panic)
}
