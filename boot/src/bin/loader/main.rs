//! capOS PVH loader: boots a Limine-protocol kernel under QEMU `-kernel`.
//!
//! Order of work (see docs/architecture/boot.md): copy the PVH boot data out
//! of low memory; read `boot/limine.conf` from the `-initrd` archive; load
//! the kernel ELF into contiguous memory; load the modules; scan the kernel's
//! requests; build page tables; answer the requests; start and park the APs;
//! write the memory map last (it must describe every allocation); jump.
#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]

mod arena;
mod entry;
mod pit;
mod pvh;
#[macro_use]
mod serial;
mod paging;
mod responses;
mod smp;

use capos_abi::guest::{GuestExit, DEBUG_EXIT_PORT};
use core::fmt;

extern "C" {
    static __loader_start: u8;
    static __loader_end: u8;
}

/// A fatal boot error: printed, then QEMU is told the boot failed.
pub fn fail(msg: fmt::Arguments) -> ! {
    say!("FATAL: {msg}");
    exit(GuestExit::Panic)
}

fn exit(code: GuestExit) -> ! {
    // SAFETY: writing the debug-exit port ends the VM; nothing runs after it.
    unsafe { x86_64::instructions::port::Port::<u32>::new(DEBUG_EXIT_PORT).write(code.code()) };
    loop {
        x86_64::instructions::hlt();
    }
}

/// `object` (ELF parsing) links `alloc`; a small heap in .bss serves it.
#[global_allocator]
static HEAP: linked_list_allocator::LockedHeap = linked_list_allocator::LockedHeap::empty();
static mut HEAP_SPACE: [u8; 256 * 1024] = [0; 256 * 1024];

#[no_mangle]
extern "C" fn loader_main(start_info: u32) -> ! {
    let tsc_entry = pit::rdtsc();
    serial::init();
    // SAFETY: HEAP_SPACE is used by nothing but the heap, initialised once here
    // before anything allocates.
    unsafe { HEAP.lock().init(&raw mut HEAP_SPACE as *mut u8, 256 * 1024) };
    // SAFETY: EBX at the PVH entry held the start-info address; low memory is
    // identity mapped by the entry stub.
    let boot = match unsafe { pvh::read(start_info as u64) } {
        Ok(b) => b,
        Err(e) => fail(format_args!("bad PVH start info: {e:?}")),
    };
    let loader = (&raw const __loader_start as u64, &raw const __loader_end as u64);
    responses::boot(&boot, loader, tsc_entry)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fail(format_args!("loader panic: {info}"))
}
