//! Loading a user ELF (a boot module) into a fresh address space.
//!
//! Only static, non-PIE x86-64 executables are accepted: every `PT_LOAD`
//! segment must lie in the user half, file bytes must be inside the file,
//! and the entry point must be in an executable segment. Each page gets its
//! own zeroed frame mapped with the segment's rights (W only if writable, NX
//! unless executable, always USER); the address space owns the frames, so
//! they are freed with it (also when loading fails half way).

use crate::mm::address_space::{AddressSpace, MapError};
use crate::mm::PAGE_SIZE;
use capos_abi::layout::USER_MMAP_BASE;
use object::elf::{FileHeader64, PF_W, PF_X, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian;
use x86_64::structures::paging::PageTableFlags as F;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    NotX86_64,
    NoSegments,
    BadSegment,
    EntryNotExecutable,
    OutOfMemory,
}

pub struct Loaded {
    pub entry: u64,
    /// Start of the lowest segment (page aligned): the load map's base.
    #[cfg_attr(not(feature = "measure"), allow(dead_code))]
    pub base: u64,
}

/// Maps `elf` into `space` (which owns every frame it maps).
pub fn load(space: &AddressSpace, elf: &[u8]) -> Result<Loaded, ElfError> {
    let h = FileHeader64::<LittleEndian>::parse(elf).map_err(|_| ElfError::NotElf)?;
    let e = h.endian().map_err(|_| ElfError::NotElf)?;
    if h.e_machine(e) != object::elf::EM_X86_64 {
        return Err(ElfError::NotX86_64);
    }
    let entry = h.e_entry(e);
    let phdrs = h.program_headers(e, elf).map_err(|_| ElfError::NotElf)?;
    let mut entry_ok = false;
    let mut base = u64::MAX;
    let mut any = false;
    for ph in phdrs.iter().filter(|p| p.p_type(e) == PT_LOAD && p.p_memsz(e) > 0) {
        any = true;
        let (vaddr, memsz, off, filesz, flags) =
            (ph.p_vaddr(e), ph.p_memsz(e), ph.p_offset(e), ph.p_filesz(e), ph.p_flags(e));
        let end = vaddr.checked_add(memsz).ok_or(ElfError::BadSegment)?;
        let file_end = off.checked_add(filesz).ok_or(ElfError::BadSegment)?;
        if vaddr < PAGE_SIZE
            || end > USER_MMAP_BASE
            || filesz > memsz
            || file_end > elf.len() as u64
        {
            return Err(ElfError::BadSegment);
        }
        if flags & PF_X != 0 && (vaddr..end).contains(&entry) {
            entry_ok = true;
        }
        let mut pflags = F::USER_ACCESSIBLE;
        if flags & PF_W != 0 {
            pflags |= F::WRITABLE;
        }
        if flags & PF_X == 0 {
            pflags |= F::NO_EXECUTE;
        }
        let first = vaddr & !(PAGE_SIZE - 1);
        let mut page = first;
        while page < end {
            // Copy the part of the file that lands in this page.
            let (lo, hi) = (page.max(vaddr), (page + PAGE_SIZE).min(vaddr + filesz));
            let fill = |frame: &mut [u8]| {
                if lo < hi {
                    let src = &elf[(off + (lo - vaddr)) as usize..(off + (hi - vaddr)) as usize];
                    frame[(lo - page) as usize..(hi - page) as usize].copy_from_slice(src);
                }
            };
            match space.map_owned(page, pflags, fill) {
                Ok(()) => {}
                Err(MapError::OutOfMemory | MapError::Limit) => return Err(ElfError::OutOfMemory),
                Err(_) => return Err(ElfError::BadSegment), // overlapping segments
            }
            page += PAGE_SIZE;
        }
        base = base.min(first);
    }
    if !any {
        return Err(ElfError::NoSegments);
    }
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable);
    }
    Ok(Loaded { entry, base })
}
