//! The PVH `hvm_start_info` handed over by QEMU, copied out of low memory.
//!
//! QEMU leaves the start info, the module list and the E820 table in low
//! memory that E820 itself reports as usable, so everything needed later is
//! copied into the loader's own .bss before any page is allocated.

use capos_boot::memmap::E820;

const MAGIC: u32 = 0x336e_c578;
pub const MAX_E820: usize = 128;

#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

#[repr(C)]
struct ModlistEntry {
    paddr: u64,
    size: u64,
    cmdline_paddr: u64,
    reserved: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

pub struct BootData {
    pub rsdp: u64,
    pub archive: (u64, u64),
    pub e820: [E820; MAX_E820],
    pub e820_count: usize,
}

impl BootData {
    pub fn e820(&self) -> &[E820] {
        &self.e820[..self.e820_count]
    }
}

#[derive(Debug)]
#[allow(dead_code)] // fields are read through Debug in the fatal message
pub enum PvhError {
    BadMagic(u32),
    /// Version 0 start info has no memory map.
    NoMemoryMap,
    /// No `-initrd` archive was given.
    NoArchive,
}

/// Copies what the loader needs out of the start info at `paddr`.
///
/// # Safety
/// `paddr` must be the start-info address QEMU passed in EBX, identity mapped.
pub unsafe fn read(paddr: u64) -> Result<BootData, PvhError> {
    // SAFETY: the caller guarantees the start info is mapped; QEMU wrote it
    // with the layout above and nothing else touches it yet.
    let si = unsafe { &*(paddr as *const StartInfo) };
    if si.magic != MAGIC {
        return Err(PvhError::BadMagic(si.magic));
    }
    if si.version < 1 || si.memmap_paddr == 0 {
        return Err(PvhError::NoMemoryMap);
    }
    if si.nr_modules == 0 || si.modlist_paddr == 0 {
        return Err(PvhError::NoArchive);
    }
    // SAFETY: QEMU's modlist has nr_modules (>= 1) entries at modlist_paddr.
    let m = unsafe { &*(si.modlist_paddr as *const ModlistEntry) };
    let mut d = BootData {
        rsdp: si.rsdp_paddr,
        archive: (m.paddr, m.size),
        e820: [E820::default(); MAX_E820],
        e820_count: 0,
    };
    let n = (si.memmap_entries as usize).min(MAX_E820);
    for i in 0..n {
        // SAFETY: the table holds memmap_entries entries; we read at most that many.
        let e = unsafe { *(si.memmap_paddr as *const MemmapEntry).add(i) };
        d.e820[i] = E820 { base: e.addr, length: e.size, kind: e.kind };
    }
    d.e820_count = n;
    Ok(d)
}
