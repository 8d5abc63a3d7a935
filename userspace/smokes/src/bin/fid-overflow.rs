//! Fidelity workload: every measure table overflows.
//!
//! Booted with the kernel word `measure_capacity=` (a few entries per
//! sample table; harness/src/fidelity/overflow.rs) on two CPUs, with a peer
//! process running the same program (`peer=1`). Each process makes `calls`
//! (default 10000) `Timer.now` calls as fast as it can: many distinct user
//! and kernel PCs and stacks, threads in several phases, and contention on
//! the kernel heap lock the two processes share, so every table fills and
//! the rest of its samples overflow.
//!
//! The driver marks the phases around its calls and prints `[fid-overflow]
//! planted calls=<n>`; the peer only calls. Both print PASS. Caps: see
//! `capos_smokes::fidelity`.
#![no_std]
#![no_main]

use capos_rt::Ctx;

capos_rt::main!(run);

fn run(ctx: &Ctx) -> i64 {
    capos_smokes::fidelity::timer_hammer(ctx.args, "fid-overflow", 10_000)
}
