//! The capOS user-space runtime.
//!
//! A program links this crate and declares `capos_rt::main!(fn(&Ctx) -> i64)`.
//! The runtime provides `_start`, a growable heap, raw syscalls, the calling
//! thread's ring, typed clients for every capability interface, threads with
//! a TLS block, and a panic handler that reports and exits the process.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod clients;
mod entry;
mod heap;
pub mod ring;
pub mod syscall;
pub mod thread;
pub mod tls;

pub use capos_abi::error::Error;
pub use entry::Ctx;

use core::sync::atomic::{AtomicU32, Ordering};

/// Slot of a Console cap used for panic messages (u32::MAX: none).
static PANIC_CONSOLE: AtomicU32 = AtomicU32::new(u32::MAX);

/// Makes panics print through the Console in `slot`.
pub fn set_panic_console(slot: u32) {
    PANIC_CONSOLE.store(slot, Ordering::Relaxed);
}

/// Declares the program's entry: `capos_rt::main!(run);` with
/// `fn run(ctx: &capos_rt::Ctx) -> i64`.
#[macro_export]
macro_rules! main {
    ($f:path) => {
        #[no_mangle]
        extern "Rust" fn capos_main(ctx: &$crate::Ctx) -> i64 {
            $f(ctx)
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let slot = PANIC_CONSOLE.load(Ordering::Relaxed);
    if slot != u32::MAX {
        let msg = alloc::format!("panic: {info}\n");
        let _ = clients::Console(slot).write(&msg);
    }
    syscall::exit_process(101)
}
