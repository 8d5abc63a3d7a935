//! The user virtual range where the kernel places rings and thread stacks.
//!
//! Ranges are handed out from `USER_MMAP_BASE` upward, each followed by an
//! unmapped guard page, and taken back when their thread exits; a freed
//! range is reused for the next request of the same size, so a process that
//! starts and joins threads forever keeps reusing the same few addresses
//! (and the page tables under them) instead of walking up the address space.

use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::layout::{USER_HEAP_BASE, USER_MMAP_BASE};

const PAGE: u64 = 4096;

pub struct UserVa {
    next: u64,
    /// Freed `(base, bytes)` ranges, reused first.
    free: Vec<(u64, u64)>,
}

impl UserVa {
    /// An allocator whose free list can hold `capacity` ranges without
    /// allocating (more are simply not reused).
    pub fn new(capacity: usize) -> UserVa {
        UserVa { next: USER_MMAP_BASE, free: Vec::with_capacity(capacity) }
    }

    /// A page-aligned range of `bytes` (rounded up to pages).
    pub fn alloc(&mut self, bytes: u64) -> Result<u64, Error> {
        let bytes =
            bytes.checked_next_multiple_of(PAGE).filter(|&b| b > 0).ok_or(Error::BadParams)?;
        if let Some(i) = self.free.iter().position(|&(_, b)| b == bytes) {
            return Ok(self.free.swap_remove(i).0);
        }
        let base = self.next;
        let next = base
            .checked_add(bytes + PAGE)
            .filter(|&n| n <= USER_HEAP_BASE)
            .ok_or(Error::OutOfResources)?;
        self.next = next;
        Ok(base)
    }

    /// Drops the free list (the process has exited).
    pub fn forget(&mut self) {
        self.free = Vec::new();
    }

    /// Returns a range (already unmapped) for reuse.
    pub fn free(&mut self, base: u64, bytes: u64) {
        let bytes = bytes.next_multiple_of(PAGE);
        if self.free.len() < self.free.capacity() {
            self.free.push((base, bytes));
        }
    }
}
