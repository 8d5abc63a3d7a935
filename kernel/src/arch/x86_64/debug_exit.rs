//! Ending the QEMU run through `isa-debug-exit` (the harness reads the status).

use capos_abi::guest::{GuestExit, DEBUG_EXIT_PORT};
use x86_64::instructions::port::Port;

pub fn exit(code: GuestExit) -> ! {
    // SAFETY: writing the debug-exit port makes QEMU exit; on a machine
    // without the device the write is ignored and we halt below.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code.code()) };
    super::cpu::halt_forever()
}
