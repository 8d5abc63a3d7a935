//! Sibling threads with their own stack, TLS block and ring.

use crate::clients::{ThreadHandle, ThreadSpawner};
use crate::tls::{self, ThreadBlock};
use alloc::boxed::Box;
use alloc::vec::Vec;
use capos_abi::error::Error;
use core::sync::atomic::{AtomicU64, Ordering};

/// Stack bytes of each thread the runtime starts.
pub const STACK_BYTES: usize = 64 * 1024;

static NEXT_INDEX: AtomicU64 = AtomicU64::new(1);

struct Start {
    f: Box<dyn FnOnce() -> i64 + Send>,
    block: *mut ThreadBlock,
    _stack: Vec<u128>,
}

extern "C" fn trampoline(arg: u64, ring: u64) -> ! {
    // SAFETY: `arg` is the `Start` leaked by `spawn` for this thread alone.
    let start = unsafe { Box::from_raw(arg as *mut Start) };
    // SAFETY: the block was prepared for this thread and FS points at it.
    unsafe { (*start.block).ring = ring };
    let Start { f, _stack, .. } = *start;
    // The stack buffer must outlive the thread: leak it deliberately.
    core::mem::forget(_stack);
    let code = f();
    crate::syscall::exit_thread(code)
}

/// Starts `f` on a new thread through `spawner`.
pub fn spawn(spawner: ThreadSpawner, f: impl FnOnce() -> i64 + Send + 'static) -> Result<ThreadHandle, Error> {
    let index = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    let block = tls::prepare(index);
    let stack: Vec<u128> = alloc::vec![0; STACK_BYTES / 16];
    let top = stack.as_ptr() as u64 + STACK_BYTES as u64;
    let start = Box::into_raw(Box::new(Start { f: Box::new(f), block, _stack: stack }));
    let entry = trampoline as extern "C" fn(u64, u64) -> ! as usize as u64;
    spawner.spawn_raw(entry, start as u64, top, block as u64).inspect_err(|_| {
        // SAFETY: the thread was not created, so we still own `start`.
        drop(unsafe { Box::from_raw(start) });
    })
}
