//! Memory management: physical frames, the kernel's page tables, the heap.
//!
//! All physical memory is reached through the higher-half direct map (HHDM)
//! at the offset the boot protocol reports (`arch::x86_64::hhdm`, re-exported
//! here).

pub mod address_space;
pub mod frame;
pub mod heap;
pub mod paging;

pub use crate::arch::x86_64::hhdm::{hhdm_offset, phys_to_virt, set_hhdm};

pub const PAGE_SIZE: u64 = 4096;
