//! Everything x86-64 specific: asm, MSRs, descriptor tables, traps, timers.

pub mod backtrace;
pub mod context;
pub mod cpu;
pub mod debug_exit;
pub mod exceptions;
pub mod gdt;
pub mod hooks;
pub mod idt;
pub mod interrupts;
pub mod ipi;
pub mod lapic;
pub mod percpu;
pub mod pic;
pub mod serial;
pub mod smp;
pub mod syscall;
pub mod tlb;
pub mod trap;
pub mod tsc;
