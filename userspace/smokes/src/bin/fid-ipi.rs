//! Fidelity workload: known reschedule IPIs and wakeups (2 CPUs).
//!
//! A sleeper thread parks on a word; the main thread (the waker) runs
//! `rounds` rounds: it waits until the sleeper has acknowledged the last
//! round, lets `delay_us` pass (by the TSC) so that the sleeper is back in
//! `park` and its CPU has gone idle, then bumps the word and unparks it.
//! The sleeper was placed on the idle CPU when it was spawned (the waker's
//! is busy), and a woken thread goes back to its previous CPU when that CPU
//! is idle (kernel/kcore/src/placement.rs rule 1), so every real wake-up
//! queues it on the other CPU, which is idle: one reschedule IPI from the
//! waker's CPU to the sleeper's, one `wakeup` event, one switch to the
//! sleeper there.
//!
//! The waker counts the rounds whose `unpark` woke a parked thread
//! (`woken`): a round that finds the sleeper not yet registered wakes
//! nothing. The sleeper makes two `ring_info` calls per round besides its
//! `park`, so its `thread_counts` row is the larger of the two (the harness
//! tells the threads apart by it).
//!
//! Prints `[fid-ipi] planted rounds=<n> woken=<unparks that woke it>
//! sleeper_woken=<parks that returned woken> delay_us=<d>`, then PASS.
//! Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use capos_abi::syscall as nr;
use capos_rt::syscall::raw;
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, rdtsc, tsc_per_ms, CONSOLE, PARK, THREADS};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-ipi";
const FOREVER: u64 = u64::MAX;
/// `go` value that ends the sleeper.
const END: u32 = u32::MAX;

struct Shared {
    /// The round the sleeper should acknowledge; `END` ends it.
    go: AtomicU32,
    /// The last round the sleeper saw.
    ack: AtomicU32,
    /// Parks that returned `woken` with a new round.
    woken: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Shared {
            go: AtomicU32::new(0),
            // No round seen until the sleeper has started.
            ack: AtomicU32::new(u32::MAX),
            woken: AtomicU64::new(0),
        }
    }
}

fn sleeper(sh: &Shared) -> i64 {
    let mut seen = 0u32;
    loop {
        sh.ack.store(seen, Ordering::Release);
        while sh.go.load(Ordering::Acquire) == seen {
            match PARK.park(&sh.go, seen, FOREVER) {
                Ok(true) if sh.go.load(Ordering::Acquire) != seen => {
                    sh.woken.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => return -1,
            }
        }
        seen = sh.go.load(Ordering::Acquire);
        if seen == END {
            return 0;
        }
        for _ in 0..2 {
            raw(nr::RING_INFO, 0, 0);
        }
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let rounds = number(ctx.args, "rounds").unwrap_or(20) as u32;
    let delay_us = number(ctx.args, "delay_us").unwrap_or(2000);
    match work(rounds, delay_us) {
        Ok(woken) => c.check(woken * 10 >= u64::from(rounds) * 9, "nine in ten rounds woke it"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

/// Spins for `cycles` TSC cycles.
fn spin(cycles: u64) {
    let t0 = rdtsc();
    while rdtsc().wrapping_sub(t0) < cycles {
        core::hint::spin_loop();
    }
}

/// Waits until the sleeper has acknowledged round `r`, spinning.
fn await_ack(sh: &Shared, r: u32) {
    while sh.ack.load(Ordering::Acquire) != r {
        core::hint::spin_loop();
    }
}

fn work(rounds: u32, delay_us: u64) -> Result<u64, String> {
    mark("spawn_ready")?;
    let delay = tsc_per_ms(10).map_err(|e| alloc::format!("tsc rate: {e:?}"))? * delay_us / 1000;
    let sh = Arc::new(Shared::new());
    let s = sh.clone();
    let t = thread::spawn(THREADS, move || sleeper(&s))
        .map_err(|e| alloc::format!("spawn sleeper: {e:?}"))?;
    // The sleeper has started (so its spawn's IPI has arrived); give it the
    // same time as every round to be back in `park`.
    await_ack(&sh, 0);
    spin(delay);
    mark("work")?;
    let before = sh.woken.load(Ordering::Relaxed);
    let mut woken = 0u64;
    for r in 1..=rounds {
        await_ack(&sh, r - 1);
        spin(delay);
        sh.go.store(r, Ordering::Release);
        let n = PARK.unpark(&sh.go, 1).map_err(|e| alloc::format!("unpark: {e:?}"))?;
        woken += u64::from(n);
    }
    await_ack(&sh, rounds);
    let sleeper_woken = sh.woken.load(Ordering::Relaxed) - before;
    mark("shutdown")?;
    sh.go.store(END, Ordering::Release);
    PARK.unpark(&sh.go, 1).map_err(|e| alloc::format!("unpark: {e:?}"))?;
    t.join().map_err(|e| alloc::format!("join sleeper: {e:?}"))?;
    print_planted(
        NAME,
        &[
            ("rounds", u64::from(rounds)),
            ("woken", woken),
            ("sleeper_woken", sleeper_woken),
            ("delay_us", delay_us),
        ],
    );
    mark("final_total")?;
    Ok(woken)
}
