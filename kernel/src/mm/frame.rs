//! Physical frame allocator: one bit per 4 KiB frame (1 = in use).
//!
//! Built from the memory map's usable entries; everything else (kernel,
//! modules, loader data, ACPI, MMIO) stays marked used. The bitmap itself
//! lives in the first usable run large enough for it. Single frames are
//! found next-fit; contiguous runs (heap, stacks) first-fit. Freeing a frame
//! that is not allocated is a kernel bug and panics with the address.

use super::{phys_to_virt, PAGE_SIZE};
use crate::sync::{IrqSpinLock, SharedClass};
use limine::memory_map::{Entry, EntryType};

struct Bitmap {
    words: &'static mut [u64],
    frames: usize,
    next: usize,
    free: usize,
    total_usable: usize,
    /// Fewest free frames ever (the high-water mark of frames in use).
    low_free: usize,
}

static FRAMES: IrqSpinLock<Option<Bitmap>> = IrqSpinLock::shared(None, SharedClass::FrameAlloc);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    pub total: usize,
    pub free: usize,
    /// Most frames ever in use at once (`total - fewest free`).
    pub peak_used: usize,
}

impl Bitmap {
    fn used(&self, f: usize) -> bool {
        self.words[f / 64] & (1 << (f % 64)) != 0
    }
    fn set(&mut self, f: usize, used: bool) {
        if used {
            self.words[f / 64] |= 1 << (f % 64);
        } else {
            self.words[f / 64] &= !(1 << (f % 64));
        }
    }
    fn run_free(&self, start: usize, count: usize) -> bool {
        (start..start + count).all(|f| !self.used(f))
    }
}

/// Builds the allocator from the boot memory map.
pub fn init(entries: &[&Entry]) {
    let usable = || entries.iter().filter(|e| e.entry_type == EntryType::USABLE);
    let top = usable().map(|e| e.base + e.length).max().unwrap_or(0);
    let frames = (top / PAGE_SIZE) as usize;
    let bytes = frames.div_ceil(64) * 8;
    let Some(home) = usable().find(|e| e.length >= bytes as u64) else {
        crate::panic::stop_system("no usable memory for the frame bitmap")
    };
    // SAFETY: `home` is usable RAM nobody else owns yet, reached through the
    // HHDM, large enough for `bytes`; u64-aligned because it is page aligned.
    let words =
        unsafe { core::slice::from_raw_parts_mut(phys_to_virt(home.base) as *mut u64, bytes / 8) };
    words.fill(u64::MAX);
    let mut b = Bitmap { words, frames, next: 0, free: 0, total_usable: 0, low_free: 0 };
    for e in usable() {
        for f in (e.base / PAGE_SIZE)..((e.base + e.length) / PAGE_SIZE) {
            b.set(f as usize, false);
            b.free += 1;
        }
    }
    b.total_usable = b.free;
    let first = (home.base / PAGE_SIZE) as usize;
    for f in first..first + bytes.div_ceil(PAGE_SIZE as usize) {
        b.set(f, true);
        b.free -= 1;
    }
    b.low_free = b.free;
    *FRAMES.lock() = Some(b);
}

/// Allocates one frame; returns its physical address.
pub fn alloc() -> Option<u64> {
    let mut g = FRAMES.lock();
    let b = g.as_mut()?;
    if b.free == 0 {
        return None;
    }
    for i in 0..b.frames {
        let f = (b.next + i) % b.frames;
        if !b.used(f) {
            b.set(f, true);
            b.free -= 1;
            b.low_free = b.low_free.min(b.free);
            b.next = f + 1;
            let used = (b.total_usable - b.free) as u64;
            drop(g);
            crate::m_max!(capos_measure::catalogue::memory::frames_peak, used);
            return Some(f as u64 * PAGE_SIZE);
        }
    }
    None
}

/// Allocates one zeroed frame.
pub fn alloc_zeroed() -> Option<u64> {
    let p = alloc()?;
    // SAFETY: the frame was just allocated to us and is mapped by the HHDM.
    unsafe { core::ptr::write_bytes(phys_to_virt(p), 0, PAGE_SIZE as usize) };
    Some(p)
}

/// Allocates `count` contiguous frames aligned to `align_frames` frames.
pub fn alloc_contiguous(count: usize, align_frames: usize) -> Option<u64> {
    let mut g = FRAMES.lock();
    let b = g.as_mut()?;
    let align = align_frames.max(1);
    let mut start = 0;
    while start + count <= b.frames {
        if b.run_free(start, count) {
            for f in start..start + count {
                b.set(f, true);
            }
            b.free -= count;
            b.low_free = b.low_free.min(b.free);
            let used = (b.total_usable - b.free) as u64;
            drop(g);
            crate::m_max!(capos_measure::catalogue::memory::frames_peak, used);
            return Some(start as u64 * PAGE_SIZE);
        }
        start += align;
    }
    None
}

/// Returns `count` frames starting at `phys`.
pub fn free_contiguous(phys: u64, count: usize) {
    let mut g = FRAMES.lock();
    let Some(b) = g.as_mut() else { return };
    let first = (phys / PAGE_SIZE) as usize;
    for f in first..first + count {
        if f >= b.frames || !b.used(f) {
            drop(g);
            panic!("freeing frame {:#x} that is not allocated", f as u64 * PAGE_SIZE);
        }
        b.set(f, false);
    }
    b.free += count;
    let used = (b.total_usable - b.free) as u64;
    drop(g);
    crate::m_min!(capos_measure::catalogue::memory::frames_low, used);
}

pub fn free(phys: u64) {
    free_contiguous(phys, 1)
}

pub fn stats() -> FrameStats {
    let g = FRAMES.lock();
    g.as_ref()
        .map(|b| FrameStats {
            total: b.total_usable,
            free: b.free,
            peak_used: b.total_usable - b.low_free,
        })
        .unwrap_or(FrameStats { total: 0, free: 0, peak_used: 0 })
}

#[cfg(feature = "ktest")]
mod tests {
    use crate::{kassert, kassert_eq, ktest};

    ktest!(
        fn frames_are_unique_and_reusable() -> KResult {
            let before = super::stats();
            let mut got = [0u64; 64];
            for g in got.iter_mut() {
                *g = super::alloc().ok_or("out of frames")?;
                kassert!(*g % 4096 == 0, "frame {:#x} not aligned", g);
            }
            for i in 0..got.len() {
                for j in i + 1..got.len() {
                    kassert!(got[i] != got[j], "frame {:#x} handed out twice", got[i]);
                }
            }
            kassert_eq!(super::stats().free, before.free - 64);
            for g in got {
                super::free(g);
            }
            kassert_eq!(super::stats().free, before.free);
            kassert!(
                super::stats().peak_used >= before.total - before.free + 64,
                "peak does not cover the 64 frames"
            );
            Ok(())
        }
    );

    ktest!(
        fn contiguous_runs_are_aligned_and_zeroed_frames_are_zero() -> KResult {
            let run = super::alloc_contiguous(16, 16).ok_or("no contiguous run")?;
            kassert_eq!(run % (16 * 4096), 0);
            super::free_contiguous(run, 16);
            let z = super::alloc_zeroed().ok_or("out of frames")?;
            // SAFETY: z is a frame we own, mapped through the HHDM.
            let page = unsafe { core::slice::from_raw_parts(crate::mm::phys_to_virt(z), 4096) };
            kassert!(page.iter().all(|&b| b == 0), "zeroed frame has data");
            super::free(z);
            Ok(())
        }
    );
}
