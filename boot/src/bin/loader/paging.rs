//! The page tables the kernel starts on.
//!
//! * identity map of the first 4 GiB (2 MiB pages): the loader's own code,
//!   the AP trampoline and the parked APs keep running after CR3 switches;
//! * the HHDM at [`HHDM_OFFSET`] over all physical memory the memory map
//!   names (at least 4 GiB, so MMIO such as the LAPIC is reachable), NX;
//! * the kernel's segments at their link addresses with 4 KiB pages: writable
//!   only if the segment is, executable only if the segment is.
//!
//! Tables come from the loader's allocator as bootloader-reclaimable memory;
//! the kernel must build its own before reclaiming it.

use capos_boot::elf_plan::LoadPlan;
use capos_boot::phys_alloc::{AllocError, PhysAlloc};
use capos_boot::proto::{MemoryKind, HHDM_OFFSET};
use capos_boot::{align_up, PAGE_SIZE};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const HUGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const MIB2: u64 = 2 * 1024 * 1024;

pub struct PageTables<'a> {
    pub pml4: u64,
    alloc: &'a mut PhysAlloc,
}

fn table(phys: u64) -> &'static mut [u64; 512] {
    // SAFETY: every table address comes from `new_table`, which allocated a
    // zeroed, page-aligned page below 4 GiB that the identity map covers and
    // that nothing else references.
    unsafe { &mut *(phys as *mut [u64; 512]) }
}

impl<'a> PageTables<'a> {
    pub fn new(alloc: &'a mut PhysAlloc) -> Result<Self, AllocError> {
        let pml4 = Self::new_table(alloc)?;
        Ok(PageTables { pml4, alloc })
    }

    fn new_table(alloc: &mut PhysAlloc) -> Result<u64, AllocError> {
        let p = alloc.alloc(PAGE_SIZE, PAGE_SIZE, MemoryKind::BootloaderReclaimable)?;
        table(p).fill(0);
        Ok(p)
    }

    /// Returns the next-level table under `entry`, creating it if needed.
    fn next(&mut self, parent: u64, index: usize) -> Result<u64, AllocError> {
        let e = table(parent)[index];
        if e & PRESENT != 0 {
            return Ok(e & ADDR_MASK);
        }
        let t = Self::new_table(self.alloc)?;
        // Intermediate entries are permissive; leaf entries carry the rights.
        table(parent)[index] = t | PRESENT | WRITABLE;
        Ok(t)
    }

    fn map_2m(&mut self, virt: u64, phys: u64, flags: u64) -> Result<(), AllocError> {
        let pdpt = self.next(self.pml4, ((virt >> 39) & 511) as usize)?;
        let pd = self.next(pdpt, ((virt >> 30) & 511) as usize)?;
        table(pd)[((virt >> 21) & 511) as usize] = phys | flags | PRESENT | HUGE;
        Ok(())
    }

    fn map_4k(&mut self, virt: u64, phys: u64, flags: u64) -> Result<(), AllocError> {
        let pdpt = self.next(self.pml4, ((virt >> 39) & 511) as usize)?;
        let pd = self.next(pdpt, ((virt >> 30) & 511) as usize)?;
        let pt = self.next(pd, ((virt >> 21) & 511) as usize)?;
        table(pt)[((virt >> 12) & 511) as usize] = phys | flags | PRESENT;
        Ok(())
    }

    /// Identity map of [0, 4 GiB) and the HHDM of [0, max(4 GiB, phys_end)).
    pub fn map_low_and_hhdm(&mut self, phys_end: u64) -> Result<(), AllocError> {
        let four_gib = 4u64 << 30;
        for p in (0..four_gib).step_by(MIB2 as usize) {
            self.map_2m(p, p, WRITABLE)?;
        }
        for p in (0..align_up(phys_end.max(four_gib), MIB2)).step_by(MIB2 as usize) {
            self.map_2m(HHDM_OFFSET + p, p, WRITABLE | NO_EXECUTE)?;
        }
        Ok(())
    }

    /// Maps the kernel image loaded at `phys_base` following `plan`.
    pub fn map_kernel(&mut self, plan: &LoadPlan, phys_base: u64) -> Result<(), AllocError> {
        for s in plan.segments() {
            let start = s.vaddr & !(PAGE_SIZE - 1);
            let end = align_up(s.vaddr + s.mem_size, PAGE_SIZE);
            let mut flags = if s.writable { WRITABLE } else { 0 };
            if !s.executable {
                flags |= NO_EXECUTE;
            }
            for v in (start..end).step_by(PAGE_SIZE as usize) {
                self.map_4k(v, phys_base + (v - plan.virtual_base), flags)?;
            }
        }
        Ok(())
    }
}
