//! Attack child of smoke-dead-completion: calls an Endpoint and exits
//! before the answer. The call is submitted straight to the ring (with a
//! 20 KiB result buffer on this process's heap) and the process exits at
//! once, so the server ends up replying to a caller that no longer
//! exists. Caps: slot 0 Endpoint (call).
//! Exit code: 0 once the call was consumed by the kernel, 3 if not.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::{Endpoint, ENDPOINT_CALL};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, Ctx};
use capos_smokes::attacks::DYING_CALLER_MESSAGE;

capos_rt::main!(run);

/// Room for the largest reply, so a kernel that does deliver one writes
/// all of it into memory this process gave back.
const RESULT_BYTES: usize = 20 * 1024;

fn run(_ctx: &Ctx) -> i64 {
    let params = Endpoint::call_params(DYING_CALLER_MESSAGE);
    let result = alloc::vec![0u8; RESULT_BYTES];
    // The buffer must outlive the process: the kernel may write it later.
    let result = alloc::vec::Vec::leak(result);
    ring::submit(ring::call_sqe(0, ENDPOINT_CALL, &params, result, ring::next_user_data()));
    syscall::cap_enter(0, 0);
    let code = if Ring::current().sq_pending() == 0 { 0 } else { 3 };
    syscall::exit_process(code)
}
