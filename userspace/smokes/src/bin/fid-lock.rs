//! Fidelity workload: lock contention at a known site.
//!
//! `threads` threads (default 2, one per CPU) each make `calls` (default
//! 3000) `Timer.now` calls in the work phase, all at once (they start
//! together from a parked start word). Every call goes through the same
//! kernel path: the thread's ring, the process's capability table, the
//! method. Prints `[fid-lock] planted threads=<n> calls=<per thread>`,
//! then PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, PARK, THREADS, TIMER};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-lock";

struct Start {
    ready: AtomicU32,
    go: AtomicU32,
}

fn hammer(start: &Start, calls: u64) -> i64 {
    start.ready.fetch_add(1, Ordering::AcqRel);
    let _ = PARK.unpark(&start.ready, 1);
    while start.go.load(Ordering::Acquire) == 0 {
        if PARK.park(&start.go, 0, u64::MAX).is_err() {
            return -1;
        }
    }
    let mut ok = 0;
    for _ in 0..calls {
        if TIMER.now().is_ok() {
            ok += 1;
        }
    }
    ok
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let threads = number(ctx.args, "threads").unwrap_or(2) as u32;
    let calls = number(ctx.args, "calls").unwrap_or(3000);
    match work(threads, calls) {
        Ok(done) => c.check(done == u64::from(threads) * calls, "every call completed"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(threads: u32, calls: u64) -> Result<u64, alloc::string::String> {
    mark("spawn_ready")?;
    let start = Arc::new(Start { ready: AtomicU32::new(0), go: AtomicU32::new(0) });
    let mut hs: Vec<thread::JoinHandle> = Vec::new();
    for i in 0..threads {
        let s = start.clone();
        let h = thread::spawn(THREADS, move || hammer(&s, calls))
            .map_err(|e| alloc::format!("spawn {i}: {e:?}"))?;
        hs.push(h);
    }
    loop {
        let r = start.ready.load(Ordering::Acquire);
        if r == threads {
            break;
        }
        PARK.park(&start.ready, r, u64::MAX).map_err(|e| alloc::format!("park: {e:?}"))?;
    }
    mark("work")?;
    start.go.store(1, Ordering::Release);
    PARK.unpark(&start.go, threads).map_err(|e| alloc::format!("unpark: {e:?}"))?;
    let mut done = 0u64;
    for h in hs {
        done += h.join().map_err(|e| alloc::format!("join: {e:?}"))?.max(0) as u64;
    }
    mark("shutdown")?;
    print_planted(NAME, &[("threads", u64::from(threads)), ("calls", calls)]);
    mark("final_total")?;
    Ok(done)
}
