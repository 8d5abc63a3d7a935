//! Frame-pointer stack walks of kernel (and, through a checked reader, user) code.
//!
//! The kernel is built with `-C force-frame-pointers=yes`: each frame starts
//! with `[rbp] = caller's rbp, [rbp+8] = return address`. A walk stops at a
//! zero frame pointer or return address (the boot and thread entry points
//! push zeros), at a frame that does not move up the stack, at a frame the
//! reader refuses, or when the output is full. Backtrace lines use the
//! `bt #<i> 0x<addr>` shape from `capos_abi` so the harness can symbolize them.

use capos_abi::guest::BACKTRACE_FRAME;

pub const MAX_FRAMES: usize = 32;

/// Lowest address a kernel frame may live at (the higher half).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Walks frames from `rbp`, writing return addresses into `out` from index
/// 1 on (index 0 is the caller's PC); `read(rbp)` returns `(next rbp,
/// return address)` or `None` if the frame cannot be read. Returns the
/// number of entries of `out` filled (at least 1).
pub fn walk(mut rbp: u64, out: &mut [u64], read: impl Fn(u64) -> Option<(u64, u64)>) -> usize {
    let mut n = 1;
    while n < out.len() && rbp != 0 && rbp.is_multiple_of(8) {
        let Some((next, ret)) = read(rbp) else { break };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    n
}

/// Reads a kernel frame: only 8-aligned kernel-half addresses.
pub fn read_kernel_frame(rbp: u64) -> Option<(u64, u64)> {
    if rbp < KERNEL_HALF {
        return None;
    }
    // SAFETY: rbp is an 8-aligned kernel-half address on the current or
    // interrupted kernel stack (frame pointers are forced on), and `walk`
    // only moves up the stack from the caller's own frame.
    Some(unsafe { ((rbp as *const u64).read(), ((rbp + 8) as *const u64).read()) })
}

/// Prints `first_pc` as frame 0, then the return addresses found from `rbp`.
pub fn print(first_pc: u64, rbp: u64) {
    let mut frames = [0u64; MAX_FRAMES];
    frames[0] = first_pc;
    let n = walk(rbp, &mut frames, read_kernel_frame);
    for (i, pc) in frames[..n].iter().enumerate() {
        super::console::emergency_print(format_args!("{BACKTRACE_FRAME}{i} {pc:#018x}\n"));
    }
}
