//! Address spaces: a PML4 whose upper half is the kernel's, a lower half of
//! its own, and the set of CPUs that have it loaded (the shootdown targets).
//!
//! Ownership (docs/architecture/memory-ownership.md):
//! * A leaf entry marked [`OWNED`] maps a frame that belongs to this space:
//!   the space allocated it and frees it when the entry goes.
//! * Any other leaf entry maps a frame borrowed from a kernel object whose
//!   lifetime covers the mapping (a thread's ring page); that object unmaps
//!   it, has the TLBs flushed, and only then frees the frame.
//! * A frame leaves a mapping in three steps: the entry is cleared under the
//!   space lock, every CPU that has the space loaded flushes
//!   ([`tlb::shootdown`]), then the frame is freed. Page-table frames follow
//!   the same rule at [`AddressSpace::teardown`].
//! * The kernel reads and writes user memory only through
//!   [`AddressSpace::access`], which holds the lock across the page walk and
//!   the copy, so no frame can be unmapped and freed under a copy.
//!
//! Without PCIDs a CR3 load flushes every user translation, so a CPU that
//! switched away from a space caches nothing of it: `active_cpus` is exactly
//! the set of CPUs a shootdown must reach.

use super::paging::{kernel_pml4, mapper, TableFrames};
use super::{frame, phys_to_virt, PAGE_SIZE};
use crate::arch::x86_64::tlb;
use crate::sync::{IrqSpinLock, SharedClass};
use alloc::sync::Arc;
use capos_abi::layout::USER_TOP;
use core::sync::atomic::AtomicU64;
use x86_64::structures::paging::mapper::TranslateResult;
use x86_64::structures::paging::{
    Mapper, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Software PTE bit: the frame belongs to the address space.
pub const OWNED: PageTableFlags = PageTableFlags::BIT_9;

/// Pages unmapped per lock hold and per shootdown when releasing a range
/// (matches the shootdown's per-page `invlpg` limit).
const RELEASE_BATCH: usize = 32;

struct Tables {
    /// Frames mapped with [`OWNED`].
    owned: usize,
    /// Torn down: the lower half is gone and nothing may be mapped again.
    dead: bool,
}

pub struct AddressSpace {
    pml4: u64,
    /// Bit i: CPU i has this address space loaded.
    pub active_cpus: AtomicU64,
    /// Most frames the space may own (the process memory limit).
    frame_limit: usize,
    /// Serializes every walk and change of the lower half.
    tables: IrqSpinLock<Tables>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    OutOfMemory,
    AlreadyMapped,
    NotUserHalf,
    /// The space already owns `frame_limit` frames.
    Limit,
    /// The space was torn down (its process exited).
    Dead,
}

/// A user range that is not mapped with the rights an access needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmapped;

fn table(phys: u64) -> &'static mut PageTable {
    // SAFETY: `phys` is a page-table frame owned by an address space,
    // mapped through the HHDM; callers hold the space's lock or own it alone.
    unsafe { &mut *(phys_to_virt(phys) as *mut PageTable) }
}

fn page(virt: u64) -> Page<Size4KiB> {
    Page::containing_address(VirtAddr::new(virt))
}

impl AddressSpace {
    /// A new address space sharing the kernel half, owning at most
    /// `frame_limit` frames.
    pub fn new(frame_limit: usize) -> Option<Arc<AddressSpace>> {
        let pml4 = frame::alloc_zeroed()?;
        let kernel = table(kernel_pml4());
        let new = table(pml4);
        for i in 256..512 {
            new[i] = kernel[i].clone();
        }
        Some(Arc::new(AddressSpace {
            pml4,
            active_cpus: AtomicU64::new(0),
            frame_limit,
            tables: IrqSpinLock::shared(
                Tables { owned: 0, dead: false },
                SharedClass::AddressSpace,
            ),
        }))
    }

    pub fn pml4(&self) -> u64 {
        self.pml4
    }

    /// Flushes `pages` pages from `start` (0: all) on every CPU that has the
    /// space loaded, and waits for them.
    pub fn shootdown(&self, start: u64, pages: u64) {
        tlb::shootdown(self.pml4, &self.active_cpus, start, pages);
    }

    /// Frames the space owns now.
    pub fn owned_frames(&self) -> usize {
        self.tables.lock().owned
    }

    fn map_locked(
        &self,
        t: &Tables,
        virt: u64,
        phys: u64,
        flags: PageTableFlags,
    ) -> Result<(), MapError> {
        if t.dead {
            return Err(MapError::Dead);
        }
        if virt >= USER_TOP {
            return Err(MapError::NotUserHalf);
        }
        // SAFETY: the caller holds the lock, so this is the only mapper.
        let mut m = unsafe { mapper(self.pml4) };
        let f = PhysFrame::containing_address(PhysAddr::new(phys));
        // SAFETY: the lower half belongs to this space; the frame is either
        // fresh (owned) or kept alive by the borrowing object.
        match unsafe { m.map_to(page(virt), f, flags | PageTableFlags::PRESENT, &mut TableFrames) }
        {
            Ok(flush) => {
                // A new entry: no CPU can cache a translation for it.
                flush.ignore();
                Ok(())
            }
            Err(x86_64::structures::paging::mapper::MapToError::FrameAllocationFailed) => {
                Err(MapError::OutOfMemory)
            }
            Err(_) => Err(MapError::AlreadyMapped),
        }
    }

    /// Maps the page at `virt` to `phys`, a frame the caller keeps owning
    /// (it must `unmap_borrowed` it before freeing it).
    pub fn map(&self, virt: u64, phys: u64, flags: PageTableFlags) -> Result<(), MapError> {
        let t = self.tables.lock();
        self.map_locked(&t, virt, phys, flags & !OWNED)
    }

    /// Maps a fresh zeroed frame, owned by the space, at `virt`; `fill`
    /// may write its initial contents first.
    pub fn map_owned(
        &self,
        virt: u64,
        flags: PageTableFlags,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), MapError> {
        let f = frame::alloc_zeroed().ok_or(MapError::OutOfMemory)?;
        // SAFETY: the frame was just allocated to us and is mapped by the HHDM.
        fill(unsafe { core::slice::from_raw_parts_mut(phys_to_virt(f), PAGE_SIZE as usize) });
        let mut t = self.tables.lock();
        let r = if t.owned >= self.frame_limit {
            Err(MapError::Limit)
        } else {
            self.map_locked(&t, virt, f, flags | OWNED)
        };
        match r {
            Ok(()) => t.owned += 1,
            Err(_) => {
                drop(t);
                frame::free(f);
            }
        }
        r
    }

    /// Removes the borrowed mapping at `virt` (if it maps `phys`) and flushes
    /// it from every CPU that has the space loaded. Afterwards no CPU can
    /// reach `phys` through this space, whoever cleared the entry.
    pub fn unmap_borrowed(&self, virt: u64, phys: u64) {
        {
            let t = self.tables.lock();
            if !t.dead {
                // SAFETY: we hold the lock.
                let mut m = unsafe { mapper(self.pml4) };
                if let TranslateResult::Mapped { frame, flags, .. } =
                    m.translate(VirtAddr::new(virt))
                {
                    if frame.start_address().as_u64() == phys && !flags.contains(OWNED) {
                        if let Ok((_, flush)) = m.unmap(page(virt)) {
                            flush.ignore(); // the shootdown below flushes every CPU
                        }
                    }
                }
            }
        }
        self.shootdown(virt, 1);
    }

    /// Removes a borrowed mapping without any flush (kernel tests that do
    /// their own shootdown); returns the frame it mapped.
    pub fn unmap(&self, virt: u64) -> Option<u64> {
        let _t = self.tables.lock();
        // SAFETY: we hold the lock.
        let mut m = unsafe { mapper(self.pml4) };
        m.unmap(page(virt)).ok().map(|(f, flush)| {
            flush.ignore();
            f.start_address().as_u64()
        })
    }

    /// Unmaps `pages` pages from `start`: owned frames are freed once every
    /// CPU that has the space loaded has flushed them.
    pub fn release(&self, start: u64, pages: u64) {
        let mut done = 0u64;
        while done < pages {
            let n = (pages - done).min(RELEASE_BATCH as u64);
            let base = start + done * PAGE_SIZE;
            let mut freed = [0u64; RELEASE_BATCH];
            let mut k = 0;
            {
                let mut t = self.tables.lock();
                if t.dead {
                    return;
                }
                // SAFETY: we hold the lock.
                let mut m = unsafe { mapper(self.pml4) };
                for i in 0..n {
                    let va = base + i * PAGE_SIZE;
                    if let TranslateResult::Mapped { flags, .. } = m.translate(VirtAddr::new(va)) {
                        if let Ok((f, flush)) = m.unmap(page(va)) {
                            flush.ignore(); // flushed by the shootdown below
                            if flags.contains(OWNED) {
                                freed[k] = f.start_address().as_u64();
                                k += 1;
                                t.owned -= 1;
                            }
                        }
                    }
                }
            }
            self.shootdown(base, n);
            freed[..k].iter().for_each(|&f| frame::free(f));
            done += n;
        }
    }

    /// Removes the whole lower half when the process exits: clears it under
    /// the lock, flushes every CPU that has the space loaded, then frees the
    /// owned frames and the page tables. Idempotent; later maps fail `Dead`
    /// and later accesses find nothing mapped.
    pub fn teardown(&self) {
        let roots = self.detach_lower_half();
        self.shootdown(0, 0);
        free_roots(&roots);
    }

    fn detach_lower_half(&self) -> [u64; 256] {
        let mut roots = [0u64; 256];
        let mut t = self.tables.lock();
        if t.dead {
            return roots;
        }
        t.dead = true;
        t.owned = 0;
        for (i, e) in table(self.pml4).iter_mut().take(256).enumerate() {
            if e.flags().contains(PageTableFlags::PRESENT) {
                roots[i] = e.addr().as_u64();
            }
            e.set_unused();
        }
        roots
    }

    /// Runs `f(hhdm_ptr, offset, n)` over `[addr, addr + len)` page by page
    /// with the lock held, once every page is checked to be mapped user
    /// accessible (and writable if `write`).
    pub fn access(
        &self,
        addr: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), Unmapped> {
        let end = addr.checked_add(len as u64).ok_or(Unmapped)?;
        if end > USER_TOP {
            return Err(Unmapped);
        }
        let _t = self.tables.lock();
        // SAFETY: we hold the lock; translation only reads the tables.
        let m = unsafe { mapper(self.pml4) };
        let mut done = 0usize;
        while done < len {
            let a = addr + done as u64;
            let n = ((PAGE_SIZE - a % PAGE_SIZE) as usize).min(len - done);
            let phys = match m.translate(VirtAddr::new(a)) {
                TranslateResult::Mapped { frame, offset, flags }
                    if flags.contains(PageTableFlags::USER_ACCESSIBLE)
                        && (!write || flags.contains(PageTableFlags::WRITABLE)) =>
                {
                    frame.start_address().as_u64() + offset
                }
                _ => return Err(Unmapped),
            };
            f(phys_to_virt(phys), done, n);
            done += n;
        }
        Ok(())
    }
}

/// Frees the page-table trees under the detached PML4 entries `roots`:
/// owned leaf frames, then the tables themselves.
fn free_roots(roots: &[u64; 256]) {
    fn free_level(phys: u64, level: u8) {
        for e in table(phys).iter() {
            let flags = e.flags();
            if !flags.contains(PageTableFlags::PRESENT) {
                continue;
            }
            if level > 1 && !flags.contains(PageTableFlags::HUGE_PAGE) {
                free_level(e.addr().as_u64(), level - 1);
            } else if level == 1 && flags.contains(OWNED) {
                frame::free(e.addr().as_u64());
            }
        }
        frame::free(phys);
    }
    roots.iter().filter(|&&r| r != 0).for_each(|&r| free_level(r, 3));
}

impl Drop for AddressSpace {
    /// No CPU has the space loaded (each CPU's loaded space holds a
    /// reference), so nothing is cached anywhere: free without a shootdown.
    fn drop(&mut self) {
        let roots = self.detach_lower_half();
        free_roots(&roots);
        frame::free(self.pml4);
    }
}

#[cfg(feature = "ktest")]
mod tests {
    use super::{AddressSpace, MapError, Unmapped};
    use crate::{kassert, kassert_eq, ktest};
    use x86_64::structures::paging::PageTableFlags as F;

    const VA: u64 = 0x1000_0000;
    const RW: F = F::USER_ACCESSIBLE.union(F::WRITABLE).union(F::NO_EXECUTE);

    ktest!(
        fn owned_frames_are_freed_by_release_and_teardown_and_never_reachable_after() -> KResult {
            let before = crate::mm::frame::stats().free;
            let space = AddressSpace::new(8).ok_or("no memory for an address space")?;
            for i in 0..8 {
                space
                    .map_owned(VA + i * 4096, RW, |f| f[0] = i as u8)
                    .map_err(|e| alloc::format!("{e:?}"))?;
            }
            kassert_eq!(space.map_owned(VA + 8 * 4096, RW, |_| {}), Err(MapError::Limit));
            kassert_eq!(space.owned_frames(), 8);
            let mut got = [0u8; 1];
            space
                .access(VA + 3 * 4096, 1, false, |p, _, _| {
                    // SAFETY: `access` hands us one mapped byte through the HHDM.
                    got[0] = unsafe { *p }
                })
                .map_err(|_| "page 3 not readable")?;
            kassert_eq!(got[0], 3);
            kassert!(
                space.access(VA + 4095, 2, true, |_, _, _| {}).is_ok(),
                "a write straddling two owned pages failed"
            );
            space.release(VA, 4);
            kassert_eq!(space.owned_frames(), 4);
            kassert_eq!(space.access(VA, 1, false, |_, _, _| {}), Err(Unmapped));
            kassert!(
                space.access(VA + 4 * 4096, 1, false, |_, _, _| {}).is_ok(),
                "release took too much"
            );
            space.teardown();
            kassert_eq!(space.owned_frames(), 0);
            kassert_eq!(space.access(VA + 4 * 4096, 1, false, |_, _, _| {}), Err(Unmapped));
            kassert_eq!(space.map_owned(VA, RW, |_| {}), Err(MapError::Dead));
            drop(space);
            kassert_eq!(crate::mm::frame::stats().free, before);
            Ok(())
        }
    );

    ktest!(
        fn user_access_is_refused_outside_the_user_half_and_without_rights() -> KResult {
            let space = AddressSpace::new(2).ok_or("no memory for an address space")?;
            space
                .map_owned(VA, F::USER_ACCESSIBLE | F::NO_EXECUTE, |_| {})
                .map_err(|e| alloc::format!("{e:?}"))?;
            kassert!(
                space.access(VA, 8, false, |_, _, _| {}).is_ok(),
                "read-only page not readable"
            );
            kassert_eq!(space.access(VA, 8, true, |_, _, _| {}), Err(Unmapped));
            kassert_eq!(space.access(u64::MAX - 4, 8, false, |_, _, _| {}), Err(Unmapped));
            kassert_eq!(space.access(0xffff_8000_0000_0000, 8, false, |_, _, _| {}), Err(Unmapped));
            kassert_eq!(
                space.map_owned(0xffff_8000_0000_0000, F::USER_ACCESSIBLE, |_| {}),
                Err(MapError::NotUserHalf)
            );
            Ok(())
        }
    );
}
