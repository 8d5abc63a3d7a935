//! Fidelity workload: run-queue contention and wakeups of busy CPUs.
//!
//! Booted on two CPUs. Before the work phase three yielder threads start:
//! each calls `yield` in a loop, so one CPU always holds a yielder in its
//! queue and the other CPU, finding its own queue empty at a yield, steals
//! from it while its owner queues and picks (`scheduler_lock` contention
//! between the `yield`, `preempt_requeue` and `steal` sites). In the work
//! phase three sleeper threads each sleep `sleeps` times (default 40) for
//! `sleep_ms` (default 2) on the kernel timer: their deadlines fall within
//! one tick, so the BSP's tick wakes them together while both CPUs are
//! busy; the first queued lengthens the BSP's queue, so placement sends a
//! later one to the other, busy CPU, which is only told, not interrupted
//! (`scheduler.resched_ipi_skipped`).
//! harness/src/fidelity/sched.rs says what the report must show.
//!
//! Each yielder counts the yields it made while the work phase ran.
//! Prints `[fid-sched] planted sleeps=<n> yields=<total>`, then PASS.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_rt::{syscall, thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, THREADS, TIMER};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-sched";
const YIELDERS: usize = 3;
const SLEEPERS: usize = 3;

/// Yielder phases: before the work phase, in it, after it, stop.
const BEFORE: u32 = 0;
const WORK: u32 = 1;
const STOP: u32 = 3;

struct Shared {
    phase: AtomicU32,
    running: AtomicU32,
    yields: AtomicU64,
}

#[inline(never)]
fn planted_yield(s: &Shared) {
    s.running.fetch_add(1, Ordering::AcqRel);
    let mut mine = 0u64;
    loop {
        match s.phase.load(Ordering::Acquire) {
            STOP => break,
            WORK => mine += 1,
            _ => {}
        }
        syscall::yield_now();
    }
    s.yields.fetch_add(mine, Ordering::AcqRel);
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let sleeps = number(ctx.args, "sleeps").unwrap_or(40);
    let sleep_ms = number(ctx.args, "sleep_ms").unwrap_or(2);
    match work(sleeps, sleep_ms) {
        Ok(yields) => c.check(yields > 0, "the yielders yielded in the work phase"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(sleeps: u64, sleep_ms: u64) -> Result<u64, alloc::string::String> {
    mark("spawn_ready")?;
    let s = Arc::new(Shared {
        phase: AtomicU32::new(BEFORE),
        running: AtomicU32::new(0),
        yields: AtomicU64::new(0),
    });
    let mut handles = alloc::vec::Vec::new();
    for k in 0..YIELDERS {
        let s2 = s.clone();
        let h = thread::spawn(THREADS, move || {
            planted_yield(&s2);
            0
        })
        .map_err(|e| alloc::format!("spawn yielder {k}: {e:?}"))?;
        handles.push(h);
    }
    while s.running.load(Ordering::Acquire) < YIELDERS as u32 {
        TIMER.sleep(1_000_000).map_err(|e| alloc::format!("sleep: {e:?}"))?;
    }
    mark("work")?;
    s.phase.store(WORK, Ordering::Release);
    let mut sleepers = alloc::vec::Vec::new();
    for k in 0..SLEEPERS {
        let h = thread::spawn(THREADS, move || {
            for _ in 0..sleeps {
                if TIMER.sleep(sleep_ms * 1_000_000).is_err() {
                    return 1;
                }
            }
            0
        })
        .map_err(|e| alloc::format!("spawn sleeper {k}: {e:?}"))?;
        sleepers.push(h);
    }
    for (k, h) in sleepers.into_iter().enumerate() {
        match h.join() {
            Ok(0) => {}
            other => return Err(alloc::format!("sleeper {k}: {other:?}")),
        }
    }
    s.phase.store(STOP, Ordering::Release);
    mark("shutdown")?;
    for (k, h) in handles.into_iter().enumerate() {
        h.join().map_err(|e| alloc::format!("join yielder {k}: {e:?}"))?;
    }
    let yields = s.yields.load(Ordering::Acquire);
    print_planted(NAME, &[("sleeps", sleeps), ("yields", yields)]);
    mark("final_total")?;
    Ok(yields)
}
