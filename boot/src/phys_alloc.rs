//! The loader's physical page allocator.
//!
//! Free space is the page-aligned usable E820 memory inside `[min, max)`
//! minus the ranges the caller says are busy (the loader image, the boot
//! archive). Allocation is first fit from low addresses. Every allocation is
//! remembered with its Limine type so the memory map can report it.

use crate::memmap::{e820_kind, usable_span, Typed, E820};
use crate::proto::MemoryKind;
use crate::{align_up, PAGE_SIZE};

pub const MAX_FREE: usize = 64;
pub const MAX_ALLOCS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Range {
    base: u64,
    end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    OutOfMemory {
        bytes: u64,
    },
    TooManyRanges,
    /// `reserve` was asked for memory that is not free.
    NotFree {
        base: u64,
    },
}

pub struct PhysAlloc {
    free: [Range; MAX_FREE],
    free_count: usize,
    allocs: [Typed; MAX_ALLOCS],
    alloc_count: usize,
}

impl PhysAlloc {
    pub fn new(e820: &[E820], busy: &[(u64, u64)], min: u64, max: u64) -> Result<Self, AllocError> {
        let mut a = PhysAlloc {
            free: [Range::default(); MAX_FREE],
            free_count: 0,
            allocs: [Typed { base: 0, length: 0, kind: MemoryKind::Usable }; MAX_ALLOCS],
            alloc_count: 0,
        };
        for e in e820.iter().filter(|e| e820_kind(e.kind) == MemoryKind::Usable) {
            if let Some((b, en)) = usable_span(e) {
                let (b, en) = (b.max(min), en.min(max));
                if b < en {
                    a.push_free(Range { base: b, end: en })?;
                }
            }
        }
        // Firmware entries of other types that overlap usable ones win.
        for e in e820.iter().filter(|e| e820_kind(e.kind) != MemoryKind::Usable && e.length > 0) {
            a.carve(e.base, e.base.saturating_add(e.length))?;
        }
        for &(b, en) in busy {
            a.carve(b, en)?;
        }
        Ok(a)
    }

    fn push_free(&mut self, r: Range) -> Result<(), AllocError> {
        if self.free_count == MAX_FREE {
            return Err(AllocError::TooManyRanges);
        }
        self.free[self.free_count] = r;
        self.free_count += 1;
        Ok(())
    }

    /// Removes `[base, end)` from the free ranges, rounding outwards to pages.
    fn carve(&mut self, base: u64, end: u64) -> Result<(), AllocError> {
        let (base, end) = (base & !(PAGE_SIZE - 1), align_up(end, PAGE_SIZE));
        let mut i = 0;
        while i < self.free_count {
            let r = self.free[i];
            if end <= r.base || base >= r.end {
                i += 1;
                continue;
            }
            // Keep the parts outside [base, end).
            self.free[i] = Range { base: r.base, end: base.max(r.base) };
            if r.end > end {
                self.push_free(Range { base: end, end: r.end })?;
            }
            if self.free[i].base >= self.free[i].end {
                self.free_count -= 1;
                self.free[i] = self.free[self.free_count];
                continue;
            }
            i += 1;
        }
        Ok(())
    }

    fn record(&mut self, base: u64, length: u64, kind: MemoryKind) -> Result<(), AllocError> {
        if let Some(last) = self.allocs[..self.alloc_count].last_mut() {
            if last.kind == kind && last.base + last.length == base {
                last.length += length;
                return Ok(());
            }
        }
        if self.alloc_count == MAX_ALLOCS {
            return Err(AllocError::TooManyRanges);
        }
        self.allocs[self.alloc_count] = Typed { base, length, kind };
        self.alloc_count += 1;
        Ok(())
    }

    /// Allocates `bytes` (rounded up to pages) aligned to `align` (a power of
    /// two, at least a page), lowest address first.
    pub fn alloc(&mut self, bytes: u64, align: u64, kind: MemoryKind) -> Result<u64, AllocError> {
        let len = align_up(bytes.max(1), PAGE_SIZE);
        let align = align.max(PAGE_SIZE);
        let best = self.free[..self.free_count]
            .iter()
            .filter_map(|r| {
                let b = align_up(r.base, align);
                (b.checked_add(len)? <= r.end).then_some(b)
            })
            .min()
            .ok_or(AllocError::OutOfMemory { bytes: len })?;
        self.carve(best, best + len)?;
        self.record(best, len, kind)?;
        Ok(best)
    }

    /// Claims exactly `[base, base + bytes)`, which must be free.
    pub fn reserve(&mut self, base: u64, bytes: u64, kind: MemoryKind) -> Result<(), AllocError> {
        let len = align_up(bytes, PAGE_SIZE);
        if !self.free[..self.free_count].iter().any(|r| base >= r.base && base + len <= r.end) {
            return Err(AllocError::NotFree { base });
        }
        self.carve(base, base + len)?;
        self.record(base, len, kind)
    }

    /// Records memory the loader already occupies (its own image).
    pub fn note(&mut self, base: u64, bytes: u64, kind: MemoryKind) -> Result<(), AllocError> {
        self.carve(base, base + bytes)?;
        self.record(base, align_up(bytes, PAGE_SIZE), kind)
    }

    pub fn allocations(&self) -> &[Typed] {
        &self.allocs[..self.alloc_count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(base: u64, length: u64, kind: u32) -> E820 {
        E820 { base, length, kind }
    }

    #[test]
    fn allocates_around_busy_ranges_and_records_types() {
        let map = [e(0, 0x9fc00, 1), e(0x100000, 0x1000000, 1)];
        let mut a = PhysAlloc::new(&map, &[(0x100000, 0x180000)], 0x100000, u64::MAX).unwrap();
        let k = a.alloc(0x3000, 0x1000, MemoryKind::ExecutableAndModules).unwrap();
        assert_eq!(k, 0x180000);
        let t = a.alloc(1, 0x200000, MemoryKind::BootloaderReclaimable).unwrap();
        assert_eq!(t, 0x200000);
        let k2 = a.alloc(0x1000, 0x1000, MemoryKind::ExecutableAndModules).unwrap();
        assert_eq!(k2, 0x183000);
        assert_eq!(
            a.allocations(),
            &[
                Typed { base: 0x180000, length: 0x3000, kind: MemoryKind::ExecutableAndModules },
                Typed { base: 0x200000, length: 0x1000, kind: MemoryKind::BootloaderReclaimable },
                Typed { base: 0x183000, length: 0x1000, kind: MemoryKind::ExecutableAndModules },
            ]
        );
    }

    #[test]
    fn reserve_requires_free_memory_and_oom_is_reported() {
        let map = [e(0, 0x9fc00, 1), e(0x100000, 0x10000, 1), e(0x8000, 0x100, 2)];
        let mut a = PhysAlloc::new(&map, &[], 0, 0x110000).unwrap();
        assert_eq!(
            a.reserve(0x8000, 0x1000, MemoryKind::BootloaderReclaimable),
            Err(AllocError::NotFree { base: 0x8000 })
        );
        assert_eq!(a.reserve(0x7000, 0x1000, MemoryKind::BootloaderReclaimable), Ok(()));
        assert_eq!(
            a.reserve(0x7000, 0x1000, MemoryKind::BootloaderReclaimable),
            Err(AllocError::NotFree { base: 0x7000 })
        );
        assert!(matches!(
            a.alloc(0x100000, 0x1000, MemoryKind::Usable),
            Err(AllocError::OutOfMemory { .. })
        ));
        // The first page is never handed out.
        let first = a.alloc(0x1000, 0x1000, MemoryKind::BootloaderReclaimable).unwrap();
        assert_eq!(first, 0x1000);
    }
}
