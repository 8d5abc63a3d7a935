//! The kernel heap: `linked_list_allocator` over one contiguous frame run.

use super::{frame, phys_to_virt, PAGE_SIZE};
use crate::sync::{IrqSpinLock, SharedClass};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use linked_list_allocator::Heap;

/// Most heap bytes ever in use at once.
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Heap bytes in use and the heap's size, kept beside the allocator so the
/// per-SQE admission check reads them without taking the heap lock.
static USED: AtomicUsize = AtomicUsize::new(0);
static SIZE: AtomicUsize = AtomicUsize::new(0);

/// The heap behind an interrupt-masking, measured lock (`lock=heap`).
struct KernelHeap(IrqSpinLock<Heap>);

// SAFETY: every block comes from `Heap`, which hands out disjoint ranges of
// the region given to it at init; the lock serializes all access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut h = self.0.lock();
        let p = h.allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr());
        let used = h.used();
        USED.store(used, Ordering::Relaxed);
        drop(h);
        PEAK.fetch_max(used, Ordering::Relaxed);
        crate::m_max!(capos_measure::catalogue::memory::heap_peak, used as u64);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            let mut h = self.0.lock();
            // SAFETY: `ptr` came from `alloc` with this layout.
            unsafe { h.deallocate(p, layout) };
            let used = h.used();
            USED.store(used, Ordering::Relaxed);
            drop(h);
            crate::m_min!(capos_measure::catalogue::memory::heap_low, used as u64);
        }
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(IrqSpinLock::shared(Heap::empty(), SharedClass::Heap));

/// Heap size: an eighth of usable memory, between 4 MiB and 64 MiB.
pub fn init() -> usize {
    let total = frame::stats().total as u64 * PAGE_SIZE;
    let size = (total / 8).clamp(4 << 20, 64 << 20);
    let frames = (size / PAGE_SIZE) as usize;
    let Some(phys) = frame::alloc_contiguous(frames, 1) else {
        crate::panic::stop_system("no contiguous memory for the kernel heap")
    };
    // SAFETY: the run was just allocated for the heap alone and is mapped
    // through the HHDM; init runs once, before anything allocates.
    unsafe { HEAP.0.lock().init(phys_to_virt(phys), size as usize) };
    SIZE.store(size as usize, Ordering::Relaxed);
    size as usize
}

pub fn used() -> usize {
    HEAP.0.lock().used()
}

/// Gives back most of a collection's spare capacity once a burst is over
/// (thread context only: it reallocates), so a storm of pending entries
/// does not keep its peak footprint on the heap for good.
pub fn trim<T>(v: &mut alloc::vec::Vec<T>) {
    if v.capacity() > 64 && v.len() < v.capacity() / 4 {
        v.shrink_to(v.capacity() / 2);
    }
}

/// Most heap bytes ever in use at once since boot.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Heap bytes kept back from user-driven work, so the kernel's own
/// bookkeeping (exits, wakeups, reports) never runs dry because a process
/// filled the heap.
pub const USER_RESERVE: usize = 512 * 1024;

/// Admits a user-driven allocation of about `bytes`: `OutOfResources` if it
/// would eat into [`USER_RESERVE`]. User paths call this before allocating,
/// so heap exhaustion is an error in the completion, never a panic.
pub fn admit(bytes: usize) -> Result<(), capos_abi::error::Error> {
    // `used` is stored under the heap lock at every change; a momentarily
    // stale reading only moves the refusal point by one concurrent block.
    let free = SIZE.load(Ordering::Relaxed).saturating_sub(USED.load(Ordering::Relaxed));
    if test_room(free.saturating_sub(USER_RESERVE)) < bytes {
        crate::m_add!(capos_measure::catalogue::memory::heap_refusals);
        return Err(capos_abi::error::Error::OutOfResources);
    }
    Ok(())
}

/// Measure kernel, for tests: the most heap room above the reserve that
/// user-driven allocations see (kernel word `heap_room=<KiB>`), so a short
/// run can meet the reserve's refusal with a large request; unlimited
/// unless set.
#[cfg(feature = "measure")]
static TEST_ROOM: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Limits user-driven allocations to `bytes` of room above the reserve
/// (measure kernel only; set at boot, before the first process).
#[cfg(feature = "measure")]
pub fn set_test_room(bytes: usize) {
    TEST_ROOM.store(bytes, Ordering::Relaxed);
}

#[cfg(feature = "measure")]
fn test_room(room: usize) -> usize {
    room.min(TEST_ROOM.load(Ordering::Relaxed))
}

/// The normal kernel has no test room: the real room.
#[cfg(not(feature = "measure"))]
#[inline(always)]
fn test_room(room: usize) -> usize {
    room
}

#[cfg(feature = "ktest")]
mod tests {
    use crate::{kassert, kassert_eq, ktest};
    use alloc::vec::Vec;

    ktest!(
        fn heap_allocations_round_trip_and_are_returned() -> KResult {
            let before = super::used();
            {
                let v: Vec<u64> = (0..10_000).collect();
                kassert_eq!(v.iter().sum::<u64>(), 49_995_000);
                let boxes: Vec<alloc::boxed::Box<[u8; 1000]>> =
                    (0..100).map(|i| alloc::boxed::Box::new([i as u8; 1000])).collect();
                kassert!(
                    boxes.iter().enumerate().all(|(i, b)| b[999] == i as u8),
                    "box contents corrupted"
                );
            }
            kassert_eq!(super::used(), before);
            Ok(())
        }
    );
}
