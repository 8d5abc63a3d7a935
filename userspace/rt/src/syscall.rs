//! Raw system calls (see `capos_abi::syscall`).

use capos_abi::syscall as nr;
use core::arch::asm;

/// # Safety
/// The arguments must be valid for syscall `n` (the kernel checks them, so
/// the worst a wrong argument does is return an error).
#[inline(always)]
pub unsafe fn syscall2(n: u64, a: u64, b: u64) -> i64 {
    let r: i64;
    // SAFETY: `syscall` clobbers rcx and r11; the kernel preserves the rest.
    unsafe {
        asm!("syscall", inlateout("rax") n as i64 => r, in("rdi") a, in("rsi") b,
             lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    r
}

pub fn cap_enter(min_complete: u64, timeout_ns: u64) -> i64 {
    // SAFETY: plain integers.
    unsafe { syscall2(nr::CAP_ENTER, min_complete, timeout_ns) }
}

pub fn exit_thread(code: i64) -> ! {
    // SAFETY: plain integer; the call does not return.
    unsafe { syscall2(nr::EXIT_THREAD, code as u64, 0) };
    loop {
        core::hint::spin_loop();
    }
}

pub fn exit_process(code: i64) -> ! {
    // SAFETY: plain integer; the call does not return.
    unsafe { syscall2(nr::EXIT_PROCESS, code as u64, 0) };
    loop {
        core::hint::spin_loop();
    }
}

pub fn set_fs_base(addr: u64) -> i64 {
    // SAFETY: the kernel checks the address.
    unsafe { syscall2(nr::SET_FS_BASE, addr, 0) }
}

pub fn ring_info() -> i64 {
    // SAFETY: no arguments.
    unsafe { syscall2(nr::RING_INFO, 0, 0) }
}

pub fn yield_now() {
    // SAFETY: no arguments.
    unsafe { syscall2(nr::YIELD, 0, 0) };
}

pub fn grow_heap(bytes: u64) -> i64 {
    // SAFETY: plain integer.
    unsafe { syscall2(nr::GROW_HEAP, bytes, 0) }
}

/// Any syscall number, for tests of the kernel's checks.
pub fn raw(n: u64, a: u64, b: u64) -> i64 {
    // SAFETY: the kernel validates every argument.
    unsafe { syscall2(n, a, b) }
}
