//! Trap entry: 256 stubs, one common save/restore path, one dispatcher.
//!
//! Each stub pushes a zero error code where the CPU pushes none, then its
//! vector, and jumps to `trap_common`, which does `swapgs` when the trap came
//! from user mode (CPL 3), saves the general registers into a [`TrapFrame`]
//! and calls [`trap_dispatch`]. Stubs are 16 bytes apart so the IDT can
//! compute their addresses.

use core::arch::global_asm;

/// Register state at a trap, in the order `trap_common` pushes it.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

global_asm!(
    r#"
    .section .text.traps, "ax"
    .p2align 4
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push 0
    .endif
    .byte 0x68
    .long vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    test byte ptr [rsp + 24], 3
    jz 1f
    swapgs
1:  push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call {dispatch}
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    test byte ptr [rsp + 8], 3
    jz 2f
    swapgs
2:  iretq
    .text
"#,
    dispatch = sym trap_dispatch,
);

extern "C" {
    static trap_stubs: u8;
}

/// Address of the stub for `vector`.
pub fn stub_address(vector: u8) -> u64 {
    &raw const trap_stubs as u64 + 16 * vector as u64
}

extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        0..=31 => super::exceptions::handle(frame),
        _ => super::interrupts::handle(frame),
    }
}
