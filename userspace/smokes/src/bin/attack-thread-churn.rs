//! Attack child of smoke-thread-churn: starts and joins threads over and
//! over, a few at a time. Every thread start costs the kernel a thread, a
//! ring page and its mapping, and costs the runtime a stack and a TLS
//! block; all of it must come back at each join, or the kernel's memory
//! (or this process's heap, 64 MiB at most) runs out long before the end.
//! This process also checks, while alive, that the kernel's memory after
//! the churn is where it was after the first batch.
//!
//! Args: `threads=N batch=B`. Caps: slot 0 Console, 1 ThreadSpawner,
//! 2 Timer, 3 Measure.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_rt::clients::{Console, Measure, ThreadSpawner, Timer};
use capos_rt::thread::{self, JoinHandle};
use capos_rt::{Ctx, Error};
use capos_smokes::memory::Memory;
use capos_smokes::{args, Checks};

capos_rt::main!(run);

const TIMER: Timer = Timer(2);

fn code_of(i: u64) -> i64 {
    (i % 1_000_000) as i64 + 1
}

/// Starts and joins threads `from..to`; `Err` says what went wrong first.
fn batch(from: u64, to: u64) -> Result<(), alloc::string::String> {
    let handles: Vec<(u64, Result<JoinHandle, Error>)> =
        (from..to).map(|i| (i, thread::spawn(ThreadSpawner(1), move || code_of(i)))).collect();
    let mut first_error = None;
    for (i, h) in handles {
        let got = h.and_then(JoinHandle::join);
        if got != Ok(code_of(i)) && first_error.is_none() {
            first_error = Some(alloc::format!("thread {i}: {got:?}, want Ok({})", code_of(i)));
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("attack-thread-churn", Console(0));
    let mem = Memory::new(Measure(3), TIMER);
    let threads = args::number(ctx.args, "threads").unwrap_or(1000);
    let per_batch = args::number(ctx.args, "batch").unwrap_or(4).max(1);
    let t0 = TIMER.now().unwrap_or(0);
    let mut warm = None;
    let mut result = Ok(());
    let mut done = 0;
    while done < threads && result.is_ok() {
        let to = (done + per_batch).min(threads);
        result = batch(done, to);
        done = to;
        if warm.is_none() {
            // After the first batch: the kernel's per-process tables exist.
            warm = mem.baseline();
        }
    }
    let ms = (TIMER.now().unwrap_or(0) - t0) / 1_000_000;
    c.note(&alloc::format!(
        "{done} threads started and joined, {per_batch} at a time, in {ms} ms ({} us each)",
        ms * 1000 / done.max(1)
    ));
    c.check(
        result.is_ok(),
        &alloc::format!(
            "every thread started and its join returned its code ({})",
            result.as_ref().err().map_or("all right", |e| e.as_str())
        ),
    );
    mem.check_returned(
        &mut c,
        &alloc::format!("after {done} threads (this process still alive)"),
        warm,
        0,
    );
    c.finish()
}
