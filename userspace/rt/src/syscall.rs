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

/// The calling thread's own counts: system calls made (every call but this
/// one) and ring SQEs the kernel consumed for it. Reads around a section
/// give exactly that section's counts.
pub fn thread_stats() -> ThreadStats {
    // SAFETY: plain integers; the kernel reads only its own counters.
    let read = |which| unsafe { syscall2(nr::THREAD_STAT, which, 0) }.max(0) as u64;
    ThreadStats {
        syscalls: read(nr::thread_stat::SYSCALLS),
        ring_sqes: read(nr::thread_stat::RING_SQES),
    }
}

/// What [`thread_stats`] reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadStats {
    pub syscalls: u64,
    pub ring_sqes: u64,
}

impl ThreadStats {
    /// Counts since `earlier`.
    pub fn since(self, earlier: ThreadStats) -> ThreadStats {
        ThreadStats {
            syscalls: self.syscalls.wrapping_sub(earlier.syscalls),
            ring_sqes: self.ring_sqes.wrapping_sub(earlier.ring_sqes),
        }
    }
}

/// Any syscall number, for tests of the kernel's checks.
pub fn raw(n: u64, a: u64, b: u64) -> i64 {
    // SAFETY: the kernel validates every argument.
    unsafe { syscall2(n, a, b) }
}

/// Names the calling thread for the measurement views (flamegraphs,
/// timeline, who-ran-where): 1 to `THREAD_NAME_MAX` bytes, one token (no
/// whitespace, control characters, `=` or `,`). A later call renames it.
pub fn set_thread_name(name: &str) -> Result<(), capos_abi::error::Error> {
    // SAFETY: the kernel only reads `name.len()` bytes at `name`'s address
    // through its checked user-copy path.
    let r = unsafe { syscall2(nr::SET_THREAD_NAME, name.as_ptr() as u64, name.len() as u64) };
    capos_abi::error::check(r)
        .map(|_| ())
        .map_err(|e| e.unwrap_or(capos_abi::error::Error::BadSyscall))
}
