//! Memory a thread hands to the kernel: parameter messages the kernel reads
//! and result buffers it writes, possibly long after the SQE was submitted
//! (pending calls complete late, even after the submitting thread exited).
//! So an arena is never freed, and user code only touches it through
//! byte atomics (the kernel may write it at any moment).
//!
//! Layout: the first half holds parameters, its last [`SPAWN_AREA`] bytes
//! reserved for thread-spawn parameters (see `threads`); the second half
//! holds result buffers, starting with the endpoint receive buffer.

use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicU8, Ordering};

/// Bytes at the end of the params half kept for ThreadSpawner messages.
pub const SPAWN_AREA: usize = 256;

pub struct Arena {
    mem: &'static [AtomicU8],
    /// Next free params offset: the messages of one batch of SQEs must not
    /// overwrite each other before the kernel reads them.
    cursor: Cell<usize>,
}

impl Arena {
    /// A fresh arena of `bytes` (at least 2 * SPAWN_AREA), leaked on purpose.
    pub fn new(bytes: usize) -> Arena {
        let bytes = bytes.max(4 * SPAWN_AREA);
        let v: Vec<AtomicU8> = (0..bytes).map(|_| AtomicU8::new(0)).collect();
        Arena { mem: alloc::boxed::Box::leak(v.into_boxed_slice()), cursor: Cell::new(0) }
    }

    pub fn len(&self) -> usize {
        self.mem.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    pub fn base(&self) -> u64 {
        self.mem.as_ptr() as u64
    }

    /// User address of byte `off` (clamped into the arena).
    pub fn addr(&self, off: usize) -> u64 {
        self.base() + off.min(self.len() - 1) as u64
    }

    /// Bytes available for general parameter messages: `0..params_end()`.
    pub fn params_end(&self) -> usize {
        self.len() / 2 - SPAWN_AREA
    }

    /// Reserves `len` bytes of the params half (8-aligned, wrapping to the
    /// start when the half is used up); returns their offset.
    pub fn alloc_params(&self, len: usize) -> usize {
        let at = self.cursor.get().next_multiple_of(8);
        let at = if at + len > self.params_end() { 0 } else { at };
        self.cursor.set((at + len).min(self.params_end()));
        at
    }

    /// Offset of the thread-spawn parameter area.
    pub fn spawn_area(&self) -> usize {
        self.len() / 2 - SPAWN_AREA
    }

    /// First byte of the result half.
    pub fn results(&self) -> usize {
        self.len() / 2
    }

    /// Copies `bytes` to `off` of the params half, cut where the spawn area
    /// starts (only `put_spawn` writes there); returns the address. The
    /// length an SQE claims may still run past what was written.
    pub fn put(&self, off: usize, bytes: &[u8]) -> u64 {
        let off = off.min(self.params_end());
        for (cell, b) in self.mem[off..self.params_end()].iter().zip(bytes) {
            cell.store(*b, Ordering::Relaxed);
        }
        self.base() + off as u64
    }

    /// Copies a ThreadSpawner message (cut to SPAWN_AREA) into the spawn
    /// area; returns its address and length.
    pub fn put_spawn(&self, bytes: &[u8]) -> (u64, u32) {
        let n = bytes.len().min(SPAWN_AREA);
        for (cell, b) in self.mem[self.spawn_area()..].iter().zip(&bytes[..n]) {
            cell.store(*b, Ordering::Relaxed);
        }
        (self.base() + self.spawn_area() as u64, n as u32)
    }

    /// A copy of `len` bytes from `off` (cut at the end of the arena).
    pub fn read(&self, off: usize, len: usize) -> Vec<u8> {
        let off = off.min(self.len());
        self.mem[off..].iter().take(len).map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// Bytes from user address `addr` to the end of the arena, if inside it.
    pub fn room_after(&self, addr: u64) -> Option<u64> {
        let end = self.base() + self.len() as u64;
        (self.base()..end).contains(&addr).then(|| end - addr)
    }
}
