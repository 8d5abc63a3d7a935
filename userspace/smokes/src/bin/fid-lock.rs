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

extern crate alloc;

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, TIMER};
use capos_smokes::Checks;

capos_rt::main!(run);

const NAME: &str = "fid-lock";

fn hammer(calls: u64) -> u64 {
    (0..calls).filter(|_| TIMER.now().is_ok()).count() as u64
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let calls = number(ctx.args, "calls").unwrap_or(20_000);
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
