//! capOS boot loader: the pure parts.
//!
//! The loader binary (`src/bin/loader/`) runs on bare metal under QEMU's PVH
//! entry and implements the Limine boot protocol for the kernel. Everything
//! here is free of hardware access so it is unit-tested on the host:
//!
//! 1. [`archive`]: the ustar archive QEMU hands over as the PVH module.
//! 2. [`conf`]: the subset of `limine.conf` the loader honours.
//! 3. [`elf_plan`]: where each kernel segment goes and with which rights.
//! 4. [`requests`]: finding the kernel's Limine requests in its loaded image.
//! 5. [`memmap`]: turning QEMU's E820 map plus the loader's allocations into a
//!    sorted, aligned Limine memory map.
//! 6. [`phys_alloc`]: the page allocator the loader uses before the kernel runs.
//! 7. [`acpi`]: RSDP -> (X)SDT -> MADT, for the list of CPUs to start.
//! 8. [`proto`]: Limine protocol numbers and response layouts.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod acpi;
pub mod archive;
pub mod conf;
pub mod elf_plan;
pub mod memmap;
pub mod phys_alloc;
pub mod proto;
pub mod requests;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `x` up to a multiple of `align` (a power of two).
pub const fn align_up(x: u64, align: u64) -> u64 {
    (x + align - 1) & !(align - 1)
}

/// Rounds `x` down to a multiple of `align` (a power of two).
pub const fn align_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}
