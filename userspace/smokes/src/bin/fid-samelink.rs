//! Fidelity workload: two programs linked at the same address, at once.
//!
//! This program and `fid-samelink-peer` are both linked at the default user
//! base (`userspace/user.ld`), so their code overlaps in address. The
//! manifest starts this one and, beside it, `fid-samelink-peer` (with
//! `peer=1`). Each spins in a function of its own name: this one
//! `planted_spin_a` for `spin_ms` (default 300) in the work phase, the peer
//! `planted_spin_b` for twice that from its start. Samples are tagged with
//! their process, so every user sample of each must resolve in its own
//! binary. Before spinning it grows its heap by 4 MiB, so samples land
//! while the kernel holds `process_heap_end`.
//!
//! Prints `[fid-samelink] planted spun=<cycles> tsc_per_ms=<rate>`, then
//! PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::Ctx;
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, rdtsc, tsc_per_ms, CONSOLE};
use capos_smokes::Checks;
use core::hint::black_box;

capos_rt::main!(run);

const NAME: &str = "fid-samelink";

#[inline(never)]
fn planted_spin_a(end: u64) {
    while rdtsc() < end {
        black_box(end);
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let spin_ms = number(ctx.args, "spin_ms").unwrap_or(300);
    match work(spin_ms) {
        Ok(()) => c.check(true, "work phase ran"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(spin_ms: u64) -> Result<(), alloc::string::String> {
    mark("spawn_ready")?;
    let per_ms = tsc_per_ms(20).map_err(|e| alloc::format!("tsc rate: {e:?}"))?;
    mark("work")?;
    // Grow the heap by 4 MiB: the kernel maps it holding `process_heap_end`
    // with interrupts on, so some samples see that lock held.
    let grown = alloc::vec![1u8; 4 << 20];
    black_box(&grown);
    let t0 = rdtsc();
    planted_spin_a(t0 + spin_ms * per_ms);
    let spun = rdtsc() - t0;
    mark("shutdown")?;
    print_planted(NAME, &[("spun", spun), ("tsc_per_ms", per_ms)]);
    mark("final_total")?;
    Ok(())
}
