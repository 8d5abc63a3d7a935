//! Fidelity workload peer of `fid-samelink`: a second program linked at the
//! same address, spinning in `planted_spin_b` for twice `spin_ms` (default
//! 300) from its start, so it runs through its driver's work phase. Takes
//! no phase marks. Prints PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{rdtsc, tsc_per_ms, CONSOLE};
use capos_smokes::Checks;
use core::hint::black_box;

capos_rt::main!(run);

const NAME: &str = "fid-samelink-peer";

#[inline(never)]
fn planted_spin_b(end: u64) {
    while rdtsc() < end {
        black_box(end);
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let spin_ms = number(ctx.args, "spin_ms").unwrap_or(300);
    match tsc_per_ms(20) {
        Ok(per_ms) => {
            planted_spin_b(rdtsc() + 2 * spin_ms * per_ms);
            c.check(true, "spun");
        }
        Err(_) => c.check(false, "tsc rate unavailable"),
    }
    c.finish()
}
