//! CPU exceptions: a clear report, then recovery (kernel tests) or a halt.
//!
//! The report names the CPU, vector, mnemonic, error code, RIP, CR2, RSP and
//! a frame-pointer backtrace. A kernel test that expects a fault is resumed
//! by the test runner; any other kernel-mode exception stops the system.

use super::console::emergency_print;
use super::stop::{panicking, stop_system};
use super::trap::TrapFrame;
use super::{backtrace, percpu};
use x86_64::registers::control::Cr2;

const NAMES: [&str; 32] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
];

pub fn name(vector: u64) -> &'static str {
    NAMES.get(vector as usize).copied().unwrap_or("external interrupt")
}

/// Prints the exception report with its backtrace.
pub fn report(frame: &TrapFrame) {
    let cr2 = Cr2::read_raw();
    emergency_print(format_args!(
        "!!! EXCEPTION cpu={} vector={} ({}) error={:#x} rip={:#018x} cr2={:#x} rsp={:#018x} cs={:#x} rflags={:#x}\n",
        percpu::cpu_index(),
        frame.vector,
        name(frame.vector),
        frame.error_code,
        frame.rip,
        cr2,
        frame.rsp,
        frame.cs,
        frame.rflags
    ));
    backtrace::print(frame.rip, frame.rbp);
}

pub fn handle(frame: &mut TrapFrame) {
    if frame.vector == 2 && panicking() {
        super::cpu::halt_forever(); // another CPU panicked and stopped us
    }
    if frame.cs & 3 == 3 {
        let addr = if frame.vector == 14 { Cr2::read_raw() } else { 0 };
        (super::hooks::hooks().user_fault)(frame.vector, frame.rip, addr, frame.rbp);
    }
    report(frame);
    if let Some(h) = super::hooks::try_hooks() {
        (h.kernel_fault)(frame.vector);
    }
    stop_system("kernel exception")
}

pub fn unexpected_vector(frame: &mut TrapFrame) {
    emergency_print(format_args!(
        "!!! unexpected interrupt vector {} on cpu {}\n",
        frame.vector,
        percpu::cpu_index()
    ));
    stop_system("unexpected interrupt")
}
