//! Kernel panics and system stop.

use crate::arch::x86_64::{backtrace, cpu, debug_exit, percpu};
use crate::console::emergency_print;
use capos_abi::guest::GuestExit;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

/// Whether some CPU is stopping the system (NMIs then mean "halt").
pub fn panicking() -> bool {
    PANICKING.load(Ordering::Acquire)
}

/// Address of the caller's next instruction (frame 0 of a panic backtrace).
#[inline(always)]
fn current_pc() -> u64 {
    let pc: u64;
    // SAFETY: `lea` of RIP has no side effects.
    unsafe {
        core::arch::asm!("lea {}, [rip]", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    pc
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    emergency_print(format_args!("!!! PANIC cpu={}: {}\n", percpu::cpu_index(), info));
    backtrace::print(current_pc(), cpu::frame_pointer());
    #[cfg(feature = "ktest")]
    crate::ktest::on_panic();
    stop_system("panic")
}

/// Stops the machine: the harness sees `GuestExit::Panic`.
pub fn stop_system(reason: &str) -> ! {
    x86_64::instructions::interrupts::disable();
    if !PANICKING.swap(true, Ordering::AcqRel) {
        crate::arch::x86_64::ipi::stop_others();
    }
    emergency_print(format_args!(
        "!!! kernel stopped on cpu {}: {}\n",
        percpu::cpu_index(),
        reason
    ));
    debug_exit::exit(GuestExit::Panic)
}
