//! Attack children of smoke-sleepers-exit: processes that exit while the
//! kernel holds long waits for them.
//!
//! `sleeper` (caps: 0 Console, 1 Timer, 2 ThreadSpawner, 3 ParkSpace):
//! a second thread parks with a 1-hour timeout; then the main thread fills
//! its ring with CQ_ENTRIES Timer.sleep(1 hour) calls, which reserve every
//! completion slot (one more SQE must then stay queued), and calls
//! exit_process without waiting for anything. Exit code 0 if the ring was
//! filled as intended, 2 if the parker never started, 3 if the sleeps were
//! not all taken, 4 if the extra SQE was taken anyway.
//!
//! `series children=N` (caps: the sleeper's, then 4 ProcessSpawner): runs
//! N sleepers one after another and checks each exited as intended.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_abi::rights::Rights;
use capos_abi::ring::{op, Sqe, CQ_ENTRIES};
use capos_rt::clients::{Console, ParkSpace, Spawner, ThreadSpawner, Timer, TIMER_SLEEP};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, thread, Ctx};
use capos_smokes::{args, Checks};
use core::sync::atomic::{AtomicU32, Ordering};

capos_rt::main!(run);

const TIMER: Timer = Timer(1);
const HOUR_NS: u64 = 3_600_000_000_000;

/// Starts a thread that parks for an hour; true once it is about to park.
fn start_parker() -> bool {
    let started = Arc::new(AtomicU32::new(0));
    let word = Arc::new(AtomicU32::new(0));
    let s = started.clone();
    let parker = thread::spawn(ThreadSpawner(2), move || {
        s.store(1, Ordering::Release);
        let _ = ParkSpace(3).park(&word, 0, HOUR_NS);
        0
    });
    // Never joined: the process exits while the thread is parked (a
    // dropped JoinHandle leaves the thread's stack and block alone).
    drop(parker);
    for _ in 0..1000 {
        if started.load(Ordering::Acquire) == 1 {
            // Time to get from the store into the kernel's park.
            let _ = TIMER.sleep(10_000_000);
            return true;
        }
        let _ = TIMER.sleep(1_000_000);
    }
    false
}

fn sleeper() -> i64 {
    if !start_parker() {
        return 2;
    }
    let r = Ring::current();
    let params = Timer::sleep_params(HOUR_NS);
    for i in 0..CQ_ENTRIES as u64 {
        if r.push(ring::call_sqe(TIMER.0, TIMER_SLEEP, &params, &mut [], 1_000 + i)).is_err() {
            return 3;
        }
    }
    syscall::cap_enter(0, 0);
    if r.sq_pending() != 0 {
        return 3;
    }
    // Every CQ slot is promised to a sleep: this NOP must stay queued.
    let _ = r.push(Sqe { opcode: op::NOP, user_data: 2_000, ..Sqe::default() });
    syscall::cap_enter(0, 0);
    syscall::exit_process(if r.sq_pending() == 1 { 0 } else { 4 })
}

fn series(children: u64) -> i64 {
    let mut c = Checks::new("attack-sleepers", Console(0));
    let call = Rights::CALL.0;
    let grants = [(0, call), (1, call), (2, call), (3, call)];
    let mut bad = alloc::vec::Vec::new();
    for i in 0..children {
        let got = Spawner(4).spawn("attack-sleepers", "sleeper", &grants).and_then(|h| h.wait());
        if got != Ok((0, false)) {
            bad.push((i, got));
        }
    }
    c.check(
        bad.is_empty(),
        &alloc::format!("{children} sleepers each parked a thread for an hour, reserved every CQ slot for 1-hour sleeps and exited (failures: {bad:?})"),
    );
    c.finish()
}

fn run(ctx: &Ctx) -> i64 {
    if ctx.args.starts_with("sleeper") {
        sleeper()
    } else {
        series(args::number(ctx.args, "children").unwrap_or(1))
    }
}
