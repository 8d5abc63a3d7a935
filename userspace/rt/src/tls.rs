//! Per-thread block reached through FS base: `fs:[0]` points at it.
//!
//! Only the owning thread ever looks at its block (the block is `!Sync`, so
//! a reference to it cannot cross threads), and it only ever hands out
//! shared references: the mutable parts are `Cell`s and a `RefCell`, so two
//! callers on one thread can never hold aliasing `&mut`s to the block.

use alloc::boxed::Box;
use alloc::vec::Vec;
use capos_abi::ring::Cqe;
use core::cell::{Cell, RefCell};

#[repr(C)]
pub struct ThreadBlock {
    /// Must stay the first field: `fs:[0]` reads it.
    self_ptr: *const ThreadBlock,
    /// User address of this thread's ring page.
    ring: Cell<u64>,
    /// 0 for the main thread, then in spawn order.
    pub index: u64,
    /// Free for the program's own per-thread data.
    pub user: [Cell<u64>; 8],
    /// Completions that arrived while waiting for another one.
    stash: RefCell<Vec<Cqe>>,
    /// Last `user_data` handed out for this thread's submissions.
    last_user_data: Cell<u64>,
}

impl ThreadBlock {
    fn new(ring: u64, index: u64) -> ThreadBlock {
        ThreadBlock {
            self_ptr: core::ptr::null(),
            ring: Cell::new(ring),
            index,
            user: Default::default(),
            stash: RefCell::new(Vec::new()),
            last_user_data: Cell::new(1),
        }
    }

    /// User address of this thread's ring page.
    pub fn ring(&self) -> u64 {
        self.ring.get()
    }

    /// Records the ring the kernel gave a freshly started thread.
    pub(crate) fn set_ring(&self, ring: u64) {
        self.ring.set(ring);
    }

    /// A `user_data` value not used before on this thread.
    pub(crate) fn fresh_user_data(&self) -> u64 {
        let v = self.last_user_data.get() + 1;
        self.last_user_data.set(v);
        v
    }

    /// Removes and returns the stashed completion for `user_data`.
    pub(crate) fn unstash(&self, user_data: u64) -> Option<Cqe> {
        let mut s = self.stash.borrow_mut();
        let i = s.iter().position(|c| c.user_data == user_data)?;
        Some(s.swap_remove(i))
    }

    /// Keeps `c` for a later `unstash` or `take_stash`.
    pub(crate) fn stash(&self, c: Cqe) {
        self.stash.borrow_mut().push(c);
    }

    /// Every stashed completion, oldest first; leaves the stash empty.
    pub(crate) fn take_stash(&self) -> Vec<Cqe> {
        core::mem::take(&mut *self.stash.borrow_mut())
    }
}

/// Allocates a block whose first word is its own address.
fn allocate(ring: u64, index: u64) -> *mut ThreadBlock {
    let p = Box::into_raw(Box::new(ThreadBlock::new(ring, index)));
    // SAFETY: `p` is a fresh, exclusively owned allocation.
    unsafe { (*p).self_ptr = p };
    p
}

/// Installs a fresh block for the calling (main) thread; it lives as long
/// as the process, so it is never freed.
pub fn install(ring: u64, index: u64) -> &'static ThreadBlock {
    let p = allocate(ring, index);
    crate::syscall::set_fs_base(p as u64);
    // SAFETY: never freed, and from now on only shared references exist.
    unsafe { &*p }
}

/// Makes an allocated block ready before a thread starts (the kernel sets
/// FS base from the spawn parameters). The caller owns it and frees it with
/// [`free`] once the thread is known to have exited.
pub(crate) fn prepare(index: u64) -> *mut ThreadBlock {
    allocate(0, index)
}

/// Frees a block from [`prepare`].
///
/// # Safety
/// `p` came from `prepare`, is freed once, and the thread that used it has
/// exited (nothing refers to the block any more).
pub(crate) unsafe fn free(p: *mut ThreadBlock) {
    // SAFETY: the caller's contract: we own the allocation and nobody uses it.
    drop(unsafe { Box::from_raw(p) });
}

/// The calling thread's block.
///
/// `'static` only in the sense that the block outlives every use the thread
/// can make of it: the block is freed after its thread has exited, and the
/// reference cannot be sent to another thread (`ThreadBlock` is `!Sync`).
pub fn current() -> &'static ThreadBlock {
    let p: *const ThreadBlock;
    // SAFETY: every thread the runtime starts has FS base pointing at its
    // block, whose first word is its own address.
    unsafe {
        core::arch::asm!("mov {}, fs:[0]", out(reg) p, options(nostack, readonly, preserves_flags))
    };
    // SAFETY: as above; the block lives as long as the thread, and only
    // shared references to it are ever made.
    unsafe { &*p }
}
