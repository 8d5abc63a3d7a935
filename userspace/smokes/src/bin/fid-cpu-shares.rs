//! Fidelity workload: known CPU shares.
//!
//! The work phase lasts `ms` milliseconds (default 2000) of one thread's
//! CPU time, spent in rounds; each round spends `a`/`b`/`c` percent
//! (default 60/30/10) of its length, by the TSC, in `planted_share_a`,
//! `planted_share_b` and `planted_share_c`. Round lengths are drawn
//! uniformly from [0.5, 3.5] ms so the rounds never beat against the
//! periodic sampling tick. Nothing else runs in the work phase but the
//! loop around the three calls; its cycles are printed as `other`.
//!
//! The TSC runs on while the vCPU does not (under TCG, when the host
//! deschedules QEMU's vCPU thread), and ticks that fall due meanwhile
//! coalesce into one, so such time holds (almost) no samples. The spin loop
//! therefore counts a step longer than half a millisecond as `stolen`, not
//! as time spent in the function.
//!
//! Prints `[fid-cpu-shares] planted a=<cycles> b=<cycles> c=<cycles>
//! other=<cycles> stolen=<cycles> rounds=<n> tsc_per_ms=<rate>`: the TSC
//! cycles each function ran, the loop around them, the stolen steps; then
//! PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, rdtsc, tsc_per_ms, Jitter, CONSOLE};
use capos_smokes::Checks;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-cpu-shares";

/// A step of the spin loop longer than this many TSC cycles is time the
/// vCPU did not run the loop (the host descheduled QEMU's vCPU thread, or a
/// long interrupt): `spin_until` counts it as stolen, not as spent.
static GAP: AtomicU64 = AtomicU64::new(u64::MAX);

/// Spins until the TSC reaches `end`; returns (cycles spent, cycles
/// stolen). `tag` keeps the three planted functions' bodies distinct so no
/// linker folds them into one symbol.
#[inline(always)]
fn spin_until(end: u64, tag: u64) -> (u64, u64) {
    let gap = GAP.load(Ordering::Relaxed);
    let (mut spent, mut stolen) = (0, 0);
    let mut last = rdtsc();
    while last < end {
        let now = rdtsc();
        let d = now - last;
        if d > gap {
            stolen += d;
        } else {
            spent += d;
        }
        last = now;
        black_box(tag);
    }
    (spent, stolen)
}

#[inline(never)]
fn planted_share_a(end: u64) -> (u64, u64) {
    spin_until(end, 0xa)
}

#[inline(never)]
fn planted_share_b(end: u64) -> (u64, u64) {
    spin_until(end, 0xb)
}

#[inline(never)]
fn planted_share_c(end: u64) -> (u64, u64) {
    spin_until(end, 0xc)
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let ms = number(ctx.args, "ms").unwrap_or(2000);
    let pct = [
        number(ctx.args, "a").unwrap_or(60),
        number(ctx.args, "b").unwrap_or(30),
        number(ctx.args, "c").unwrap_or(10),
    ];
    if pct.iter().sum::<u64>() != 100 {
        c.check(false, "a + b + c = 100");
        return c.finish();
    }
    match work(ms, pct) {
        Ok(()) => c.check(true, "work phase ran"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(ms: u64, pct: [u64; 3]) -> Result<(), alloc::string::String> {
    mark("spawn_ready")?;
    let per_ms = tsc_per_ms(20).map_err(|e| alloc::format!("tsc rate: {e:?}"))?;
    // Half a tick period at the fastest tick rate the suite uses (1 kHz):
    // a longer step is not time the loop ran.
    GAP.store(per_ms / 2, Ordering::Relaxed);
    let funcs: [fn(u64) -> (u64, u64); 3] = [planted_share_a, planted_share_b, planted_share_c];
    let mut spent = [0u64; 3];
    let mut stolen = 0u64;
    let mut rounds = 0u64;
    let mut jitter = Jitter::new(0x5eed_f1de);
    mark("work")?;
    let start = rdtsc();
    let stop = start + ms * per_ms;
    let mut now = start;
    while now < stop {
        // Round length uniform in [0.5, 3.5) ms.
        let len = per_ms / 2 + jitter.below(3 * per_ms);
        for (i, f) in funcs.iter().enumerate() {
            let (s, g) = f(rdtsc() + len * pct[i] / 100);
            spent[i] += s;
            stolen += g;
        }
        rounds += 1;
        now = rdtsc();
    }
    let total = now - start;
    mark("shutdown")?;
    let other = total.saturating_sub(spent.iter().sum::<u64>() + stolen);
    print_planted(
        NAME,
        &[
            ("a", spent[0]),
            ("b", spent[1]),
            ("c", spent[2]),
            ("other", other),
            ("stolen", stolen),
            ("rounds", rounds),
            ("tsc_per_ms", per_ms),
        ],
    );
    mark("final_total")?;
    Ok(())
}
