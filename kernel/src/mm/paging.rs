//! The kernel's own page tables, built from scratch at boot.
//!
//! * the HHDM over all physical memory below `max(4 GiB, end of RAM)`, 2 MiB
//!   pages, writable, never executable;
//! * the kernel image at its link address with per-section rights: text
//!   R-X, rodata R--, data/bss RW- (`W^X`).
//!
//! The loader's tables (and its identity map) are dropped: every CPU
//! switches to [`kernel_pml4`] as soon as it enters the kernel. The upper
//! half of this PML4 is shared by every address space later on.

use super::{frame, hhdm_offset, phys_to_virt, PAGE_SIZE};
use crate::arch::x86_64::tlb;
use limine::memory_map::{Entry, EntryType};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable, PageTableFlags as F,
    PhysFrame, Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Frames for page tables come from the kernel frame allocator.
pub struct TableFrames;

// SAFETY: `frame::alloc_zeroed` returns frames that are unused and zeroed.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frame::alloc_zeroed().map(|p| PhysFrame::containing_address(PhysAddr::new(p)))
    }
}

/// A mapper over the page table whose root is at physical `pml4`.
///
/// # Safety
/// `pml4` must be a valid PML4 the caller may modify, and no other mapper
/// over it may be alive at the same time.
pub unsafe fn mapper(pml4: u64) -> OffsetPageTable<'static> {
    // SAFETY: per the contract; the HHDM maps the table.
    let table = unsafe { &mut *(phys_to_virt(pml4) as *mut PageTable) };
    // SAFETY: the HHDM maps all physical memory at hhdm_offset().
    unsafe { OffsetPageTable::new(table, VirtAddr::new(hhdm_offset())) }
}

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __kernel_end: u8;
}

/// Builds the kernel page tables and switches the calling CPU (the BSP) to them.
pub fn init(entries: &[&Entry], phys_base: u64, virt_base: u64) {
    let Some(pml4) = frame::alloc_zeroed() else {
        crate::panic::stop_system("no frame for the kernel PML4")
    };
    // SAFETY: pml4 is a fresh zeroed frame only we know about.
    let mut m = unsafe { mapper(pml4) };
    let ram_end = entries
        .iter()
        .filter(|e| e.entry_type != EntryType::RESERVED && e.entry_type != EntryType::BAD_MEMORY)
        .map(|e| e.base + e.length)
        .max()
        .unwrap_or(0)
        .max(4 << 30);
    let huge = Size2MiB::SIZE;
    for p in (0..ram_end.div_ceil(huge) * huge).step_by(huge as usize) {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(hhdm_offset() + p));
        let f = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(p));
        // SAFETY: the HHDM maps each frame once at its fixed offset.
        match unsafe {
            m.map_to(
                page,
                f,
                F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL,
                &mut TableFrames,
            )
        } {
            Ok(flush) => flush.ignore(),
            Err(_) => crate::panic::stop_system("cannot build the HHDM"),
        }
    }
    let sections = [
        (&raw const __text_start as u64, &raw const __text_end as u64, F::PRESENT | F::GLOBAL),
        (
            &raw const __rodata_start as u64,
            &raw const __rodata_end as u64,
            F::PRESENT | F::GLOBAL | F::NO_EXECUTE,
        ),
        (
            &raw const __data_start as u64,
            &raw const __kernel_end as u64,
            F::PRESENT | F::GLOBAL | F::WRITABLE | F::NO_EXECUTE,
        ),
    ];
    for (start, end, flags) in sections {
        let mut v = start & !(PAGE_SIZE - 1);
        while v < end {
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(v));
            let f = PhysFrame::containing_address(PhysAddr::new(phys_base + (v - virt_base)));
            // SAFETY: maps the kernel's own image at its link address.
            match unsafe { m.map_to(page, f, flags, &mut TableFrames) } {
                Ok(flush) => flush.ignore(),
                Err(_) => crate::panic::stop_system("cannot map the kernel image"),
            }
            v += PAGE_SIZE;
        }
    }
    tlb::set_kernel_root(pml4);
    activate();
}

pub fn kernel_pml4() -> u64 {
    tlb::kernel_root()
}

/// Switches the calling CPU to the kernel page tables.
pub fn activate() {
    tlb::load_kernel_root();
}

/// Translates a kernel virtual address through the active kernel tables.
pub fn translate(virt: u64) -> Option<u64> {
    // SAFETY: read-only use of the kernel tables; translation never writes.
    let m = unsafe { mapper(kernel_pml4()) };
    m.translate_addr(VirtAddr::new(virt)).map(|p| p.as_u64())
}

#[cfg(feature = "ktest")]
mod tests {
    use crate::{kassert, kassert_eq, ktest};

    ktest!(
        fn kernel_image_is_w_xor_x_and_hhdm_translates() -> KResult {
            let text = tests_marker as fn() as usize as u64;
            kassert!(super::translate(text).is_some(), "kernel text not mapped");
            let p = crate::mm::frame::alloc().ok_or("out of frames")?;
            let v = crate::mm::phys_to_virt(p) as u64;
            kassert_eq!(super::translate(v + 0x123), Some(p + 0x123));
            crate::mm::frame::free(p);
            // Writing to text must fault: checked by flags, not by faulting.
            // SAFETY: read-only walk of the kernel tables.
            let m = unsafe { super::mapper(super::kernel_pml4()) };
            use x86_64::structures::paging::{
                mapper::TranslateResult, PageTableFlags as F, Translate,
            };
            match m.translate(x86_64::VirtAddr::new(text)) {
                TranslateResult::Mapped { flags, .. } => {
                    kassert!(!flags.contains(F::WRITABLE), "text is writable");
                    kassert!(!flags.contains(F::NO_EXECUTE), "text is not executable");
                }
                _ => return Err("text not mapped".into()),
            }
            Ok(())
        }
    );

    fn tests_marker() {}
}
