//! Sibling threads with their own stack, TLS block and ring.
//!
//! [`spawn`] returns a [`JoinHandle`] that owns the thread's stack and TLS
//! block. [`JoinHandle::join`] frees both once the kernel reports the thread
//! has exited: a completed join means the thread is gone from user mode for
//! good, so nothing can touch that memory any more. A handle dropped without
//! a join leaks them on purpose, since the thread may still be running.

use crate::clients::{ThreadHandle, ThreadSpawner};
use crate::tls::{self, ThreadBlock};
use alloc::boxed::Box;
use capos_abi::error::Error;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// Stack bytes of each thread the runtime starts.
pub const STACK_BYTES: usize = 64 * 1024;

static NEXT_INDEX: AtomicU64 = AtomicU64::new(1);

type Body = Box<dyn FnOnce() -> i64 + Send>;

extern "C" fn trampoline(arg: u64, ring: u64) -> ! {
    // SAFETY: `arg` is the body `spawn` leaked for this thread alone.
    let f = unsafe { Box::from_raw(arg as *mut Body) };
    // FS already points at the block `spawn` prepared for this thread.
    tls::current().set_ring(ring);
    let code = f();
    crate::syscall::exit_thread(code)
}

/// A started thread and the memory it runs on. Dropping it without a
/// completed join frees nothing (the thread may still use that memory).
#[must_use = "dropping a JoinHandle leaks the thread's stack and TLS block"]
pub struct JoinHandle {
    handle: ThreadHandle,
    /// The thread's stack (the kernel only knows its top).
    stack: NonNull<[u128]>,
    /// The thread's TLS block (FS base points at it).
    block: *mut ThreadBlock,
}

// SAFETY: the handle only names the thread's memory; it touches it solely
// to free it after the thread has exited, which any thread may do (the
// allocator is global).
unsafe impl Send for JoinHandle {}

impl JoinHandle {
    /// The kernel handle, for raw use (joining through it bypasses the
    /// freeing: the memory then stays leaked).
    pub fn raw(&self) -> ThreadHandle {
        self.handle
    }

    /// Waits for the thread and returns its exit code. On success the
    /// thread's stack and TLS block are freed; on error (the thread may
    /// still be running) they are left alone.
    pub fn join(self) -> Result<i64, Error> {
        let code = self.handle.join()?;
        // SAFETY: the join completed, so the thread has exited and never
        // runs user code again; both allocations came from `spawn` and are
        // freed exactly once (`self` is consumed, `Drop` does not free).
        unsafe {
            drop(Box::from_raw(self.stack.as_ptr()));
            tls::free(self.block);
        }
        Ok(code)
    }
}

/// Starts `f` on a new thread through `spawner`.
pub fn spawn(
    spawner: ThreadSpawner,
    f: impl FnOnce() -> i64 + Send + 'static,
) -> Result<JoinHandle, Error> {
    let index = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    let block = tls::prepare(index);
    let stack: Box<[u128]> = alloc::vec![0u128; STACK_BYTES / 16].into_boxed_slice();
    let stack = NonNull::from(Box::leak(stack));
    let top = stack.as_ptr() as *mut u128 as u64 + STACK_BYTES as u64;
    let body: Box<Body> = Box::new(Box::new(f));
    let arg = Box::into_raw(body);
    let entry = trampoline as extern "C" fn(u64, u64) -> ! as usize as u64;
    match spawner.spawn_raw(entry, arg as u64, top, block as u64) {
        Ok(handle) => Ok(JoinHandle { handle, stack, block }),
        Err(e) => {
            // SAFETY: the thread was not created, so we still own all three.
            unsafe {
                drop(Box::from_raw(arg));
                drop(Box::from_raw(stack.as_ptr()));
                tls::free(block);
            }
            Err(e)
        }
    }
}
