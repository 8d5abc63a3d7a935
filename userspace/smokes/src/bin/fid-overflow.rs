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

extern crate alloc;

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, TIMER};
use capos_smokes::Checks;

capos_rt::main!(run);

const NAME: &str = "fid-overflow";

fn hammer(calls: u64) -> u64 {
    (0..calls).filter(|_| TIMER.now().is_ok()).count() as u64
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let calls = number(ctx.args, "calls").unwrap_or(10_000);
    if number(ctx.args, "peer") == Some(1) {
        c.check(hammer(calls) == calls, "every call completed (peer)");
        return c.finish();
    }
    match work(calls) {
        Ok(done) => c.check(done == calls, "every call completed"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(calls: u64) -> Result<u64, alloc::string::String> {
    mark("spawn_ready")?;
    mark("work")?;
    let done = hammer(calls);
    mark("shutdown")?;
    print_planted(NAME, &[("calls", calls)]);
    mark("final_total")?;
    Ok(done)
}
