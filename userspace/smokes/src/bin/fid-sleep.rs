//! Fidelity workload: known sleeps.
//!
//! The work phase is `sleeps` rounds (default 20) of: spin `spin_ms`
//! (default 20) in `planted_busy`, then sleep `sleep_ms` (default 50) on the
//! kernel timer. The only thread of the only process sleeps, so during its
//! sleeps the CPU runs its idle loop.
//!
//! Prints `[fid-sleep] planted slept=<cycles> spun=<cycles> sleeps=<n>
//! tsc_per_ms=<rate>` (TSC cycles around the `Timer.sleep` calls and in
//! `planted_busy`), then PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, rdtsc, tsc_per_ms, CONSOLE, TIMER};
use capos_smokes::Checks;
use core::hint::black_box;

capos_rt::main!(run);

const NAME: &str = "fid-sleep";

#[inline(never)]
fn planted_busy(end: u64) {
    while rdtsc() < end {
        black_box(end);
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let sleeps = number(ctx.args, "sleeps").unwrap_or(20);
    let sleep_ms = number(ctx.args, "sleep_ms").unwrap_or(50);
    let spin_ms = number(ctx.args, "spin_ms").unwrap_or(20);
    match work(sleeps, sleep_ms, spin_ms) {
        Ok(()) => c.check(true, "work phase ran"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(sleeps: u64, sleep_ms: u64, spin_ms: u64) -> Result<(), alloc::string::String> {
    mark("spawn_ready")?;
    let per_ms = tsc_per_ms(20).map_err(|e| alloc::format!("tsc rate: {e:?}"))?;
    let (mut slept, mut spun) = (0u64, 0u64);
    mark("work")?;
    for _ in 0..sleeps {
        let t0 = rdtsc();
        planted_busy(t0 + spin_ms * per_ms);
        let t1 = rdtsc();
        TIMER.sleep(sleep_ms * 1_000_000).map_err(|e| alloc::format!("sleep: {e:?}"))?;
        let t2 = rdtsc();
        spun += t1 - t0;
        slept += t2 - t1;
    }
    mark("shutdown")?;
    print_planted(
        NAME,
        &[("slept", slept), ("spun", spun), ("sleeps", sleeps), ("tsc_per_ms", per_ms)],
    );
    mark("final_total")?;
    Ok(())
}
