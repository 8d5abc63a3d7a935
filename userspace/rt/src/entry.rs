//! `_start`: the first instruction of a process.

use core::arch::global_asm;

/// What the kernel handed the process.
pub struct Ctx {
    /// Number of capability slots granted (slot i = manifest cap i).
    pub caps: u32,
    /// The argument string (empty if none).
    pub args: &'static str,
}

global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    xor ebp, ebp
    and rsp, -16
    call {start}
    ud2
    .text
"#,
    start = sym rt_start,
);

extern "Rust" {
    fn capos_main(ctx: &Ctx) -> i64;
}

extern "C" fn rt_start(ring: u64, caps: u64, args: u64) -> ! {
    crate::tls::install(ring, 0);
    let args = if args == 0 {
        ""
    } else {
        // SAFETY: the kernel copied a NUL-terminated string to `args` on our stack.
        let c = unsafe { core::ffi::CStr::from_ptr(args as *const core::ffi::c_char) };
        c.to_str().unwrap_or("")
    };
    let ctx = Ctx { caps: caps as u32, args };
    // SAFETY: the program defines `capos_main` through `capos_rt::main!`.
    let code = unsafe { capos_main(&ctx) };
    crate::syscall::exit_process(code)
}
