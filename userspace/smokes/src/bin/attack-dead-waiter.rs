//! Attack child of smoke-dead-completion: waits on a process and exits
//! before the answer. It starts a grandchild (`exit-child linger`, which
//! sleeps 200 ms), submits ProcessHandle.wait on it straight to the ring
//! (result buffer on this process's heap) and exits at once, so the
//! grandchild's exit is reported to a waiter that no longer exists.
//! Caps: slot 0 ProcessSpawner, slot 1 Timer (passed to the grandchild).
//! Exit code: 0 once the wait was consumed by the kernel, 2 if the
//! grandchild could not be started, 3 if the wait was not consumed.
#![no_std]
#![no_main]

extern crate alloc;

use capos_abi::rights::Rights;
use capos_rt::clients::{Spawner, PROCESS_WAIT};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, Ctx};

capos_rt::main!(run);

fn run(_ctx: &Ctx) -> i64 {
    let Ok(grandchild) = Spawner(0).spawn("exit-child", "linger", &[(1, Rights::CALL.0)]) else {
        return 2;
    };
    // The buffer must outlive the process: the kernel may write it later.
    let result = alloc::vec::Vec::leak(alloc::vec![0u8; 64]);
    ring::submit(ring::call_sqe(grandchild.0, PROCESS_WAIT, &[], result, ring::next_user_data()));
    syscall::cap_enter(0, 0);
    let code = if Ring::current().sq_pending() == 0 { 0 } else { 3 };
    syscall::exit_process(code)
}
