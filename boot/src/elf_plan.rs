//! Where the kernel's ELF segments go.
//!
//! The kernel is a fixed-address ELF (higher half). The loader places the
//! whole span of its `PT_LOAD` segments in one physically contiguous block, so
//! `phys = physical_base + (vaddr - virtual_base)` holds for every byte, as
//! the executable-address response promises.

use crate::{align_down, align_up, PAGE_SIZE};
use object::elf::{FileHeader64, PF_W, PF_X, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian;

pub const MAX_SEGMENTS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub writable: bool,
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    pub entry: u64,
    /// Page-aligned start of the lowest segment.
    pub virtual_base: u64,
    /// Page-aligned size of the span from `virtual_base` to the end of the highest segment.
    pub span: u64,
    pub segments: [Segment; MAX_SEGMENTS],
    pub segment_count: usize,
}

impl LoadPlan {
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.segment_count]
    }

    /// Offset of `vaddr` inside the loaded block, if the span covers it.
    pub fn offset_of(&self, vaddr: u64) -> Option<u64> {
        vaddr.checked_sub(self.virtual_base).filter(|&o| o < self.span)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    NotElf64,
    NotX86_64,
    NoLoadSegments,
    TooManySegments,
    /// A segment's file bytes lie outside the file or file size > memory size.
    BadSegment {
        index: usize,
    },
    /// The kernel must live in the higher half (top 2 GiB).
    NotHigherHalf,
    Overlap,
    EntryOutsideImage,
}

/// Builds the load plan for `elf`.
pub fn plan(elf: &[u8]) -> Result<LoadPlan, PlanError> {
    let header = FileHeader64::<LittleEndian>::parse(elf).map_err(|_| PlanError::NotElf64)?;
    let endian = header.endian().map_err(|_| PlanError::NotElf64)?;
    if header.e_machine(endian) != object::elf::EM_X86_64 {
        return Err(PlanError::NotX86_64);
    }
    let phdrs = header.program_headers(endian, elf).map_err(|_| PlanError::NotElf64)?;
    let mut p = LoadPlan {
        entry: header.e_entry(endian),
        virtual_base: u64::MAX,
        span: 0,
        segments: [Segment::default(); MAX_SEGMENTS],
        segment_count: 0,
    };
    let mut end = 0u64;
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type(endian) != PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        if p.segment_count == MAX_SEGMENTS {
            return Err(PlanError::TooManySegments);
        }
        let s = Segment {
            vaddr: ph.p_vaddr(endian),
            mem_size: ph.p_memsz(endian),
            file_offset: ph.p_offset(endian),
            file_size: ph.p_filesz(endian),
            writable: ph.p_flags(endian) & PF_W != 0,
            executable: ph.p_flags(endian) & PF_X != 0,
        };
        let file_end = s.file_offset.checked_add(s.file_size);
        let mem_end = s.vaddr.checked_add(s.mem_size);
        if s.file_size > s.mem_size
            || file_end.is_none_or(|e| e > elf.len() as u64)
            || mem_end.is_none()
        {
            return Err(PlanError::BadSegment { index });
        }
        if s.vaddr < 0xffff_ffff_8000_0000 {
            return Err(PlanError::NotHigherHalf);
        }
        p.virtual_base = p.virtual_base.min(align_down(s.vaddr, PAGE_SIZE));
        end = end.max(mem_end.unwrap_or(0));
        p.segments[p.segment_count] = s;
        p.segment_count += 1;
    }
    if p.segment_count == 0 {
        return Err(PlanError::NoLoadSegments);
    }
    // end may be 2^64 - x; align_up of the top page would overflow.
    p.span = align_up(end - p.virtual_base, PAGE_SIZE);
    let segs = p.segments();
    for (i, a) in segs.iter().enumerate() {
        for b in &segs[i + 1..] {
            if a.vaddr < b.vaddr + b.mem_size && b.vaddr < a.vaddr + a.mem_size {
                return Err(PlanError::Overlap);
            }
        }
    }
    if !segs.iter().any(|s| s.executable && p.entry >= s.vaddr && p.entry < s.vaddr + s.mem_size) {
        return Err(PlanError::EntryOutsideImage);
    }
    Ok(p)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 with the given (vaddr, memsz, filesz, flags) segments.
    pub fn synth_elf(entry: u64, segs: &[(u64, u64, u64, u32)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_off = phoff + 56 * segs.len() as u64;
        let mut out = vec![0u8; data_off as usize];
        out[0..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little endian
        out[6] = 1;
        out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        let mut off = data_off;
        for (i, &(vaddr, memsz, filesz, flags)) in segs.iter().enumerate() {
            let ph = &mut out[(phoff as usize + 56 * i)..(phoff as usize + 56 * (i + 1))];
            ph[0..4].copy_from_slice(&1u32.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&off.to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[24..32].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&filesz.to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            ph[48..56].copy_from_slice(&4096u64.to_le_bytes());
            off += filesz;
        }
        for (i, &(_, _, filesz, _)) in segs.iter().enumerate() {
            out.extend(std::iter::repeat_n(i as u8 + 1, filesz as usize));
        }
        out
    }

    const K: u64 = 0xffff_ffff_8000_0000;

    #[test]
    fn plans_text_and_data() {
        let elf = synth_elf(K + 0x10, &[(K, 0x1800, 0x1800, 5), (K + 0x2000, 0x3000, 0x100, 6)]);
        let p = plan(&elf).unwrap();
        assert_eq!(p.virtual_base, K);
        assert_eq!(p.span, 0x5000);
        assert_eq!(p.segment_count, 2);
        assert!(p.segments()[0].executable && !p.segments()[0].writable);
        assert!(p.segments()[1].writable && !p.segments()[1].executable);
        assert_eq!(p.offset_of(K + 0x2010), Some(0x2010));
        assert_eq!(p.offset_of(K + 0x5000), None);
    }

    #[test]
    fn rejects_bad_kernels() {
        assert_eq!(plan(b"not an elf"), Err(PlanError::NotElf64));
        assert_eq!(
            plan(&synth_elf(0x1000, &[(0x1000, 0x1000, 0x10, 5)])),
            Err(PlanError::NotHigherHalf)
        );
        assert_eq!(plan(&synth_elf(K, &[])), Err(PlanError::NoLoadSegments));
        assert_eq!(
            plan(&synth_elf(K + 0x9000, &[(K, 0x1000, 0x10, 5)])),
            Err(PlanError::EntryOutsideImage)
        );
        assert_eq!(
            plan(&synth_elf(K, &[(K, 0x2000, 0x10, 5), (K + 0x1000, 0x1000, 0x10, 6)])),
            Err(PlanError::Overlap)
        );
        let mut elf = synth_elf(K, &[(K, 0x1000, 0x10, 5)]);
        elf.truncate(elf.len() - 4);
        assert_eq!(plan(&elf), Err(PlanError::BadSegment { index: 0 }));
        let mut m = synth_elf(K, &[(K, 0x1000, 0x10, 5)]);
        m[18] = 3; // EM_386
        assert_eq!(plan(&m), Err(PlanError::NotX86_64));
    }

    #[test]
    fn truncations_never_panic() {
        let elf = synth_elf(K + 0x10, &[(K, 0x1800, 0x1800, 5), (K + 0x2000, 0x3000, 0x100, 6)]);
        for n in 0..elf.len() {
            let _ = plan(&elf[..n]);
        }
    }
}
