//! Building the Limine memory map from QEMU's E820 table.
//!
//! QEMU's table may be unsorted, may overlap and may hold zero-length
//! entries. The result is sorted by base, free of overlaps; usable and
//! bootloader-reclaimable entries are page aligned; the first page is never
//! usable. Memory the loader handed out is typed as the protocol says (the
//! kernel and modules as `ExecutableAndModules`, loader data as
//! `BootloaderReclaimable`) and takes precedence over the E820 type.

use crate::proto::{MemmapEntry, MemoryKind};
use crate::{align_down, align_up, PAGE_SIZE};

/// One E820 entry as the PVH start info reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct E820 {
    pub base: u64,
    pub length: u64,
    pub kind: u32,
}

/// A typed range the loader allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed {
    pub base: u64,
    pub length: u64,
    pub kind: MemoryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemmapError {
    /// More distinct ranges than the scratch space or output holds.
    TooManyEntries,
}

pub const MAX_BOUNDARIES: usize = 512;

pub fn e820_kind(kind: u32) -> MemoryKind {
    match kind {
        1 => MemoryKind::Usable,
        3 => MemoryKind::AcpiReclaimable,
        4 => MemoryKind::AcpiNvs,
        5 => MemoryKind::BadMemory,
        _ => MemoryKind::Reserved,
    }
}

/// How strongly a firmware type claims memory when entries overlap.
fn rank(k: MemoryKind) -> u8 {
    match k {
        MemoryKind::Usable => 0,
        MemoryKind::AcpiReclaimable => 1,
        MemoryKind::AcpiNvs => 2,
        MemoryKind::Reserved | MemoryKind::Framebuffer => 3,
        MemoryKind::BadMemory => 4,
        MemoryKind::BootloaderReclaimable | MemoryKind::ExecutableAndModules => 5,
    }
}

/// The usable part of an E820 entry: page aligned inwards, first page cut off.
pub fn usable_span(e: &E820) -> Option<(u64, u64)> {
    let end = e.base.checked_add(e.length)?;
    let (b, en) = (align_up(e.base.max(PAGE_SIZE), PAGE_SIZE), align_down(end, PAGE_SIZE));
    (b < en).then_some((b, en))
}

fn firmware_span(e: &E820) -> Option<(u64, u64)> {
    if e.length == 0 {
        return None;
    }
    if e820_kind(e.kind) == MemoryKind::Usable {
        return usable_span(e);
    }
    Some((e.base, e.base.saturating_add(e.length)))
}

fn kind_at(addr: u64, e820: &[E820], allocs: &[Typed]) -> Option<MemoryKind> {
    if let Some(a) = allocs.iter().find(|a| addr >= a.base && addr - a.base < a.length) {
        return Some(a.kind);
    }
    e820.iter()
        .filter_map(|e| {
            firmware_span(e).filter(|&(b, en)| addr >= b && addr < en).map(|_| e820_kind(e.kind))
        })
        .max_by_key(|&k| rank(k))
}

/// Writes the Limine memory map into `out`; returns the number of entries.
pub fn build(
    e820: &[E820],
    allocs: &[Typed],
    out: &mut [MemmapEntry],
) -> Result<usize, MemmapError> {
    let mut points = [0u64; MAX_BOUNDARIES];
    let mut n = 0;
    let spans = e820
        .iter()
        .filter_map(firmware_span)
        .chain(allocs.iter().filter(|a| a.length > 0).map(|a| (a.base, a.base + a.length)));
    for (b, e) in spans {
        for p in [b, e] {
            if n == MAX_BOUNDARIES {
                return Err(MemmapError::TooManyEntries);
            }
            points[n] = p;
            n += 1;
        }
    }
    let points = &mut points[..n];
    points.sort_unstable();
    let mut count = 0usize;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a == b {
            continue;
        }
        let Some(kind) = kind_at(a, e820, allocs) else { continue };
        if count > 0 {
            let last = &mut out[count - 1];
            if last.kind == kind as u64 && last.base + last.length == a {
                last.length = b - last.base;
                continue;
            }
        }
        if count == out.len() {
            return Err(MemmapError::TooManyEntries);
        }
        out[count] = MemmapEntry { base: a, length: b - a, kind: kind as u64 };
        count += 1;
    }
    // Usable and reclaimable entries must be page aligned; trim inwards.
    let mut kept = 0;
    for i in 0..count {
        let mut e = out[i];
        if e.kind == MemoryKind::Usable as u64 || e.kind == MemoryKind::BootloaderReclaimable as u64
        {
            let (b, en) = (
                align_up(e.base.max(PAGE_SIZE), PAGE_SIZE),
                align_down(e.base + e.length, PAGE_SIZE),
            );
            if b >= en {
                continue;
            }
            e.base = b;
            e.length = en - b;
        }
        out[kept] = e;
        kept += 1;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(base: u64, length: u64, kind: u32) -> E820 {
        E820 { base, length, kind }
    }

    fn kinds(m: &[MemmapEntry]) -> Vec<(u64, u64, u64)> {
        m.iter().map(|x| (x.base, x.length, x.kind)).collect()
    }

    #[test]
    fn sorts_drops_empty_and_aligns() {
        // QEMU-like: unsorted, a zero-length entry, unaligned usable edges.
        let map = [
            e(0x100000, 0x1ff00000 - 0x80, 1),
            e(0, 0x9fc00, 1),
            e(0x5000, 0, 1),
            e(0xf0000, 0x10000, 2),
            e(0x9fc00, 0x400, 2),
        ];
        let mut out = [MemmapEntry { base: 0, length: 0, kind: 0 }; 16];
        let n = build(&map, &[], &mut out).unwrap();
        assert_eq!(
            kinds(&out[..n]),
            vec![
                (0x1000, 0x9e000, 0),
                (0x9fc00, 0x400, 1),
                (0xf0000, 0x10000, 1),
                (0x100000, 0x1feff000, 0)
            ]
        );
        for w in out[..n].windows(2) {
            assert!(w[0].base + w[0].length <= w[1].base);
        }
    }

    #[test]
    fn allocations_override_and_split_usable() {
        let map = [e(0x100000, 0x400000, 1)];
        let allocs = [
            Typed { base: 0x100000, length: 0x10000, kind: MemoryKind::BootloaderReclaimable },
            Typed { base: 0x200000, length: 0x3000, kind: MemoryKind::ExecutableAndModules },
        ];
        let mut out = [MemmapEntry { base: 0, length: 0, kind: 0 }; 16];
        let n = build(&map, &allocs, &mut out).unwrap();
        assert_eq!(
            kinds(&out[..n]),
            vec![
                (0x100000, 0x10000, 5),
                (0x110000, 0xf0000, 0),
                (0x200000, 0x3000, 6),
                (0x203000, 0x2fd000, 0)
            ]
        );
    }

    #[test]
    fn overlapping_firmware_entries_take_the_stronger_type() {
        let map = [e(0x100000, 0x100000, 1), e(0x180000, 0x1000, 2)];
        let mut out = [MemmapEntry { base: 0, length: 0, kind: 0 }; 16];
        let n = build(&map, &[], &mut out).unwrap();
        assert_eq!(
            kinds(&out[..n]),
            vec![(0x100000, 0x80000, 0), (0x180000, 0x1000, 1), (0x181000, 0x7f000, 0)]
        );
    }

    #[test]
    fn adjacent_usable_entries_merge_and_overflow_is_an_error() {
        let map = [e(0x1000, 0x1000, 1), e(0x2000, 0x1000, 1)];
        let mut out = [MemmapEntry { base: 0, length: 0, kind: 0 }; 1];
        assert_eq!(build(&map, &[], &mut out), Ok(1));
        assert_eq!(kinds(&out), vec![(0x1000, 0x2000, 0)]);
        let many: Vec<E820> =
            (0..8).map(|i| e(0x10000 * i, 0x1000, if i % 2 == 0 { 1 } else { 2 })).collect();
        assert_eq!(build(&many, &[], &mut out), Err(MemmapError::TooManyEntries));
    }
}
