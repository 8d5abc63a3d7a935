//! Running a test so that a fault or panic returns to the runner.
//!
//! `ktest_call` saves the callee-saved registers and the stack pointer, then
//! calls the test. `ktest_abort` restores them and returns from `ktest_call`
//! with a non-zero code, abandoning every frame in between.

use core::arch::global_asm;
use core::cell::UnsafeCell;

#[repr(C)]
pub struct JumpBuf([u64; 7]);

global_asm!(
    r#"
    .section .text.ktest_guard, "ax"
    .global ktest_call
ktest_call:
    push rbp
    mov rbp, rsp
    mov [rdi], rbx
    mov [rdi + 8], rbp
    mov [rdi + 16], r12
    mov [rdi + 24], r13
    mov [rdi + 32], r14
    mov [rdi + 40], r15
    mov [rdi + 48], rsp
    mov rdi, rdx
    call rsi
    xor eax, eax
    pop rbp
    ret

    .global ktest_abort
ktest_abort:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    mov eax, esi
    pop rbp
    ret
    .text
"#
);

extern "C" {
    fn ktest_call(buf: *mut JumpBuf, f: extern "C" fn(*mut u8), arg: *mut u8) -> u32;
    fn ktest_abort(buf: *mut JumpBuf, code: u32) -> !;
}

pub struct Guard(UnsafeCell<JumpBuf>);

// SAFETY: only the BSP's test runner and handlers running on the BSP while
// a test is active touch the buffer.
unsafe impl Sync for Guard {}

impl Guard {
    pub const fn new() -> Self {
        Guard(UnsafeCell::new(JumpBuf([0; 7])))
    }
}

struct Call<'a> {
    f: &'a mut dyn FnMut(),
}

extern "C" fn invoke(arg: *mut u8) {
    // SAFETY: `arg` is the `Call` that `call` passed, alive for this call.
    let c = unsafe { &mut *(arg as *mut Call) };
    (c.f)();
}

/// Runs `f`; returns 0 if it returned, or the code given to [`abort`].
pub fn call(g: &Guard, mut f: impl FnMut()) -> u32 {
    let mut c = Call { f: &mut f };
    // SAFETY: the buffer outlives the call; `invoke` receives the `Call`.
    unsafe { ktest_call(g.0.get(), invoke, &mut c as *mut Call as *mut u8) }
}

/// Returns to the pending [`call`] with `code` (non-zero).
///
/// # Safety
/// Must run on the CPU inside `call(g, ..)`, on a stack at or below it (a
/// handler nested in the test, or an IST stack of that CPU).
pub unsafe fn abort(g: &Guard, code: u32) -> ! {
    // SAFETY: per the contract the saved stack frame is still live.
    unsafe { ktest_abort(g.0.get(), code) }
}
