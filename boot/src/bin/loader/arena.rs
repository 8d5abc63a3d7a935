//! Bump arena in bootloader-reclaimable memory for responses and their data.

use capos_boot::proto::HHDM_OFFSET;

pub struct Arena {
    base: u64,
    next: u64,
    end: u64,
}

#[derive(Debug)]
pub struct ArenaFull;

impl Arena {
    /// `base` must be identity-mapped, zeroed memory of `size` bytes that the
    /// loader owns for the rest of the boot.
    pub fn new(base: u64, size: u64) -> Self {
        Arena { base, next: base, end: base + size }
    }

    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64, ArenaFull> {
        let at = (self.next + align - 1) & !(align - 1);
        if at + size > self.end {
            return Err(ArenaFull);
        }
        self.next = at + size;
        Ok(at)
    }

    /// Stores `v`; returns its physical address.
    pub fn put<T>(&mut self, v: T) -> Result<u64, ArenaFull> {
        let at = self.alloc(size_of::<T>() as u64, align_of::<T>() as u64)?;
        // SAFETY: `at` is inside the arena, suitably aligned, and unused.
        unsafe { (at as *mut T).write(v) };
        Ok(at)
    }

    /// Stores `s` NUL-terminated; returns its HHDM address.
    pub fn put_str(&mut self, s: &str) -> Result<u64, ArenaFull> {
        let at = self.alloc(s.len() as u64 + 1, 1)?;
        // SAFETY: `at` has room for the bytes plus the terminator.
        unsafe {
            core::ptr::copy_nonoverlapping(s.as_ptr(), at as *mut u8, s.len());
            ((at + s.len() as u64) as *mut u8).write(0);
        }
        Ok(hhdm(at))
    }

    pub fn used(&self) -> u64 {
        self.next - self.base
    }
}

pub const fn hhdm(phys: u64) -> u64 {
    phys + HHDM_OFFSET
}
