//! Everything x86-64 specific: asm, MSRs, descriptor tables, traps, timers.

pub mod backtrace;
pub mod console;
pub mod context;
pub mod cpu;
pub mod debug_exit;
pub mod exceptions;
pub mod gdt;
pub mod hhdm;
pub mod hooks;
pub mod idt;
pub mod interrupts;
pub mod ipi;
pub mod lapic;
pub mod percpu;
pub mod pic;
pub mod serial;
pub mod smp;
pub mod stop;
pub mod syscall;
pub mod tlb;
pub mod trap;
pub mod tsc;
