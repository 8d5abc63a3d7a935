//! Thread context switch and FPU/SSE state.
//!
//! `context_switch` saves the callee-saved registers on the old stack,
//! stores the old RSP, loads the new one and pops the new thread's
//! registers; a new thread's stack is laid out so the first switch "returns"
//! into `thread_entry_trampoline`. FPU/SSE state is saved with `fxsave64`
//! into the thread's 512-byte area and restored with `fxrstor64`.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.context, "ax"
    .global context_switch
context_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .global thread_entry_trampoline
thread_entry_trampoline:
    xor ebp, ebp
    call {start}
    ud2
    .text
"#,
    start = sym thread_first_code,
);

/// Where `thread_entry_trampoline` goes: the kernel's thread start hook.
extern "C" fn thread_first_code() -> ! {
    (super::hooks::hooks().thread_start)()
}

extern "C" {
    /// Saves the current context, storing RSP at `save_rsp`, and resumes the
    /// context whose RSP is `load_rsp`.
    pub fn context_switch(save_rsp: *mut u64, load_rsp: u64);
    static thread_entry_trampoline: u8;
}

/// Builds the initial stack of a new thread whose stack ends at `top`
/// (16-byte aligned); returns the RSP to store in its context.
///
/// Layout (high to low): padding, a zero "return address" ending backtraces,
/// the trampoline as the return address of `context_switch`, six zeroed
/// callee-saved registers. After the `ret`, RSP = top - 16 (16-aligned), as
/// the ABI wants before the trampoline's `call`.
///
/// # Safety
/// `[top - 72, top)` must be writable memory owned by the new thread.
pub unsafe fn prepare_stack(top: u64) -> u64 {
    let words = top as *mut u64;
    // SAFETY: per the contract.
    unsafe {
        words.sub(1).write(0);
        words.sub(2).write(0);
        words.sub(3).write(&raw const thread_entry_trampoline as u64);
        for i in 4..=9 {
            words.sub(i).write(0);
        }
    }
    top - 72
}

/// 512-byte `fxsave` area, 16-byte aligned.
#[repr(C, align(16))]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The power-on default: x87 control word 0x37f, MXCSR 0x1f80 (all
    /// exceptions masked).
    pub const fn new() -> Self {
        let mut b = [0u8; 512];
        b[0] = 0x7f;
        b[1] = 0x03;
        b[24] = 0x80;
        b[25] = 0x1f;
        FpuState(b)
    }

    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes, 16-aligned, owned by the caller.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack)) };
    }

    pub fn restore(&self) {
        // SAFETY: the area holds a valid image (default or saved by fxsave64).
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack)) };
    }
}

/// Lets this CPU use SSE: CR0.MP set, EM and TS clear; CR4.OSFXSR and
/// OSXMMEXCPT set.
pub fn enable_sse() {
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    let mut c0 = Cr0::read();
    c0.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
    c0.insert(Cr0Flags::MONITOR_COPROCESSOR);
    let mut c4 = Cr4::read();
    c4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
    // SAFETY: enabling SSE state management changes no memory mappings.
    unsafe {
        Cr0::write(c0);
        Cr4::write(c4);
        core::arch::asm!("fninit", options(nomem, nostack));
    }
}
