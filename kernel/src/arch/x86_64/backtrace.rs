//! Frame-pointer backtraces of kernel code.
//!
//! The kernel is built with `-C force-frame-pointers=yes`: each frame starts
//! with `[rbp] = caller's rbp, [rbp+8] = return address`. The walk stops at a
//! zero frame pointer (the boot and thread entry points push one), at a frame
//! that does not move up the stack, at a non-kernel address, or after
//! [`MAX_FRAMES`]. Lines use the `bt #<i> 0x<addr>` shape from `capos_abi`
//! so the harness can symbolize them.

use capos_abi::guest::BACKTRACE_FRAME;

pub const MAX_FRAMES: usize = 32;

/// Lowest address a kernel frame may live at (the higher half).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Prints `first_pc` as frame 0, then the return addresses found from `rbp`.
pub fn print(first_pc: u64, mut rbp: u64) {
    crate::console::emergency_print(format_args!("{BACKTRACE_FRAME}0 {first_pc:#018x}\n"));
    for i in 1..MAX_FRAMES {
        if rbp < KERNEL_HALF || rbp % 8 != 0 {
            break;
        }
        // SAFETY: rbp is 8-aligned, in the kernel half, and (checked below)
        // strictly increasing, i.e. on the current stack above our frame.
        let (next, ret) = unsafe { ((rbp as *const u64).read(), ((rbp + 8) as *const u64).read()) };
        if ret == 0 {
            break;
        }
        crate::console::emergency_print(format_args!("{BACKTRACE_FRAME}{i} {ret:#018x}\n"));
        if next <= rbp {
            break;
        }
        rbp = next;
    }
}
