//! A fuzz child, spawned by `fuzz` with `seed=S ops=N threads=T index=I`:
//! runs its planned steps (capos_fuzzplan) on T worker threads at once,
//! so the ops hit the kernel from several CPUs, then exits. Prints
//! nothing (console output would slow the fuzzing down).
//!
//! Caps: see `capos_smokes::fuzz::shared::slot`. The exit code reports
//! whether every worker finished (or some were still running at the
//! deadline; the process exit then ends them) and how many steps ran, see
//! `capos_fuzzplan::outcome`; any other code comes from a lethal op or a panic.
#![no_std]
#![no_main]

extern crate alloc;

use capos_fuzzplan::args::ChildArgs;
use capos_fuzzplan::outcome::ChildExit;
use capos_fuzzplan::plan::{child_deadline_ms, share, ChildPlan};
use capos_rt::{syscall, Ctx};
use capos_smokes::fuzz::arena::Arena;
use capos_smokes::fuzz::ring::RawRing;
use capos_smokes::fuzz::shared::{self, worker_done, STEPS, WORKERS_LEFT};
use capos_smokes::fuzz::threads::{self, WORKER_ARENA};
use core::sync::atomic::Ordering;

capos_rt::main!(run);

/// How often the main thread looks at `WORKERS_LEFT`.
const TICK_MS: u64 = 50;

fn run(ctx: &Ctx) -> i64 {
    let Ok(a) = ChildArgs::parse(ctx.args) else { return ChildExit::BadArgs.code() };
    // The main thread's ring is not in the scribble registry: it must stay
    // sane so the deadline below measures time. Its spare tail is where
    // result buffers may straddle a ring page's end (it outlives every
    // pending completion).
    let Some(ring) = RawRing::current() else { return ChildExit::NoRing.code() };
    shared::set_main_ring(ring.base());
    let plan = ChildPlan::new(a.seed, a.ops, a.threads);
    let arena = Arena::new(4096);
    WORKERS_LEFT.store(a.threads, Ordering::Release);
    for w in 0..a.threads {
        let job = threads::leak_job(plan.worker(w), ctx.caps, true, WORKER_ARENA, 0);
        if threads::start_worker(&ring, &arena, job).is_err() {
            worker_done();
        }
    }
    let ticks = child_deadline_ms(share(a.ops, a.threads, 0)) / TICK_MS;
    for _ in 0..ticks {
        if WORKERS_LEFT.load(Ordering::Acquire) == 0 {
            break;
        }
        // Nothing is pending on this ring: this is a TICK_MS sleep.
        syscall::cap_enter(1, TICK_MS * 1_000_000);
        while ring.pop().is_some() {}
    }
    let steps = STEPS.load(Ordering::Acquire);
    if WORKERS_LEFT.load(Ordering::Acquire) == 0 {
        ChildExit::Finished { steps }.code()
    } else {
        ChildExit::Stalled { steps }.code()
    }
}
