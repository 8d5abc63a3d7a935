//! Fidelity workload: lock contention at a known site.
//!
//! Two processes run this program at once, one per CPU (the fidelity
//! manifest starts the driver and a peer with `peer=1`). Each makes `calls`
//! (default 20000) `Timer.now` calls as fast as it can. Every call goes
//! through the same kernel path, one SQE through the process's own ring,
//! capability table and address space, and the kernel heap, which is the
//! only lock the two processes share. The driver marks the phases around
//! its calls and prints `[fid-lock] planted calls=<n>`; the peer only calls.
//! Both print PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

use capos_rt::Ctx;

capos_rt::main!(run);

fn run(ctx: &Ctx) -> i64 {
    capos_smokes::fidelity::timer_hammer(ctx.args, "fid-lock", 20_000)
}
