//! Everything x86-64 specific: asm, MSRs, descriptor tables, traps, timers.

pub mod backtrace;
pub mod cpu;
pub mod debug_exit;
pub mod exceptions;
pub mod gdt;
pub mod idt;
pub mod percpu;
pub mod serial;
pub mod smp;
pub mod trap;
pub mod tsc;
