//! Per-thread block reached through FS base: `fs:[0]` points at it.

use alloc::boxed::Box;

#[repr(C)]
pub struct ThreadBlock {
    self_ptr: *const ThreadBlock,
    /// User address of this thread's ring page.
    pub ring: u64,
    /// 0 for the main thread, then in spawn order.
    pub index: u64,
    /// Free for the program's own per-thread data.
    pub user: [u64; 8],
    /// Completions that arrived while waiting for another one.
    pub stash: alloc::vec::Vec<capos_abi::ring::Cqe>,
    /// Next `user_data` for this thread's submissions.
    pub next_user_data: u64,
}

/// Installs a fresh block for the calling thread (leaked: threads own theirs).
pub fn install(ring: u64, index: u64) -> &'static mut ThreadBlock {
    let b = Box::leak(Box::new(ThreadBlock { self_ptr: core::ptr::null(), ring, index, user: [0; 8], stash: alloc::vec::Vec::new(), next_user_data: 1 }));
    b.self_ptr = b as *const ThreadBlock;
    crate::syscall::set_fs_base(b as *const ThreadBlock as u64);
    b
}

/// Makes an allocated block ready before the thread starts (the kernel sets
/// FS base from the spawn parameters).
pub fn prepare(index: u64) -> *mut ThreadBlock {
    let b = Box::leak(Box::new(ThreadBlock { self_ptr: core::ptr::null(), ring: 0, index, user: [0; 8], stash: alloc::vec::Vec::new(), next_user_data: 1 }));
    b.self_ptr = b as *const ThreadBlock;
    b
}

/// The calling thread's block.
pub fn current() -> &'static mut ThreadBlock {
    let p: *mut ThreadBlock;
    // SAFETY: every thread the runtime starts has FS base pointing at its
    // block, whose first word is its own address.
    unsafe { core::arch::asm!("mov {}, fs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    // SAFETY: as above; the block lives as long as the thread.
    unsafe { &mut *p }
}
