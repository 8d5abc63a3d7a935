//! Kernel panics and system stop.

use crate::arch::x86_64::console::emergency_print;
use crate::arch::x86_64::{backtrace, cpu, percpu};

pub use crate::arch::x86_64::stop::stop_system;

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
