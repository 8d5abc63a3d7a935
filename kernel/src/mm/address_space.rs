//! Address spaces: a PML4 whose upper half is the kernel's, a lower half of
//! its own, and the set of CPUs that have it loaded (the shootdown targets).

use super::paging::{kernel_pml4, mapper, TableFrames};
use super::{frame, phys_to_virt};
use crate::sync::{IrqSpinLock, LockClass, SharedClass};
use alloc::sync::Arc;
use core::sync::atomic::AtomicU64;
use x86_64::structures::paging::{Mapper, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

pub struct AddressSpace {
    pml4: u64,
    /// Bit i: CPU i has this address space loaded.
    pub active_cpus: AtomicU64,
    /// Serializes changes to the lower half.
    lock: IrqSpinLock<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    OutOfMemory,
    AlreadyMapped,
    NotUserHalf,
}

const USER_TOP: u64 = 0x0000_8000_0000_0000;

fn table(phys: u64) -> &'static mut PageTable {
    // SAFETY: `phys` is a page-table frame owned by an address space,
    // mapped through the HHDM; callers hold the space's lock or own it alone.
    unsafe { &mut *(phys_to_virt(phys) as *mut PageTable) }
}

impl AddressSpace {
    /// A new address space sharing the kernel half.
    pub fn new() -> Option<Arc<AddressSpace>> {
        let pml4 = frame::alloc_zeroed()?;
        let kernel = table(kernel_pml4());
        let new = table(pml4);
        for i in 256..512 {
            new[i] = kernel[i].clone();
        }
        Some(Arc::new(AddressSpace { pml4, active_cpus: AtomicU64::new(0), lock: IrqSpinLock::measured((), LockClass::Shared(SharedClass::AddressSpace)) }))
    }

    pub fn pml4(&self) -> u64 {
        self.pml4
    }

    /// Maps the 4 KiB page at `virt` to `phys`. The caller does the TLB
    /// shootdown when it replaces a mapping another CPU may cache.
    pub fn map(&self, virt: u64, phys: u64, flags: PageTableFlags) -> Result<(), MapError> {
        if virt >= USER_TOP {
            return Err(MapError::NotUserHalf);
        }
        let _g = self.lock.lock();
        // SAFETY: we hold the lock, so this is the only mapper over the tables.
        let mut m = unsafe { mapper(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        let f = PhysFrame::containing_address(PhysAddr::new(phys));
        // SAFETY: the lower half belongs to this space; the frame is the caller's.
        match unsafe { m.map_to(page, f, flags | PageTableFlags::PRESENT, &mut TableFrames) } {
            Ok(flush) => {
                flush.ignore();
                Ok(())
            }
            Err(x86_64::structures::paging::mapper::MapToError::FrameAllocationFailed) => Err(MapError::OutOfMemory),
            Err(_) => Err(MapError::AlreadyMapped),
        }
    }

    /// Removes the mapping at `virt`; returns the frame it mapped. No TLB
    /// flush is done here (see `tlb::shootdown`).
    pub fn unmap(&self, virt: u64) -> Option<u64> {
        let _g = self.lock.lock();
        // SAFETY: as in `map`.
        let mut m = unsafe { mapper(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        m.unmap(page).ok().map(|(f, flush)| {
            flush.ignore();
            f.start_address().as_u64()
        })
    }
}

impl Drop for AddressSpace {
    /// Frees the lower half's page tables (not the frames they map, which
    /// their owners free) and the PML4.
    fn drop(&mut self) {
        fn free_level(phys: u64, level: u8) {
            if level > 1 {
                for e in table(phys).iter() {
                    if e.flags().contains(PageTableFlags::PRESENT) && !e.flags().contains(PageTableFlags::HUGE_PAGE) {
                        free_level(e.addr().as_u64(), level - 1);
                    }
                }
            }
            frame::free(phys);
        }
        for e in table(self.pml4).iter().take(256) {
            if e.flags().contains(PageTableFlags::PRESENT) {
                free_level(e.addr().as_u64(), 3);
            }
        }
        frame::free(self.pml4);
    }
}
