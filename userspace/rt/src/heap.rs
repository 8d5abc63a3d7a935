//! The heap: `linked_list_allocator` over the process heap region, grown
//! with `grow_heap` when an allocation does not fit.

use crate::syscall;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;
use spin::Mutex;

const MIN_GROWTH: usize = 1 << 20;

struct Growing(Mutex<(Heap, bool)>);

#[global_allocator]
static HEAP: Growing = Growing(Mutex::new((Heap::empty(), false)));

// SAFETY: every block comes from `Heap`, which hands out disjoint ranges of
// memory the kernel mapped for this process.
unsafe impl GlobalAlloc for Growing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut g = self.0.lock();
        loop {
            if let Ok(p) = g.0.allocate_first_fit(layout) {
                return p.as_ptr();
            }
            let grow = (layout.size() + layout.align() + 64).next_multiple_of(4096).max(MIN_GROWTH);
            let old = syscall::grow_heap(grow as u64);
            if old < 0 {
                return core::ptr::null_mut();
            }
            if !g.1 {
                // SAFETY: the kernel just mapped [old, old + grow) for us.
                unsafe { g.0.init(old as *mut u8, grow) };
                g.1 = true;
            } else {
                // SAFETY: the region continues the heap contiguously.
                unsafe { g.0.extend(grow) };
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout.
            unsafe { self.0.lock().0.deallocate(p, layout) };
        }
    }
}
