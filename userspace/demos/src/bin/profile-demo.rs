//! profile-demo: the program of docs/profiling.md's walk-through ("Profile
//! your own program"). `threads=N` named worker threads (default 2, at most
//! 16) each alternate a user-mode mixing loop (`mix_block`, `rounds`
//! xorshift steps, default 20000) with a `Timer.now` call, `calls` times
//! (default 2000). Every call goes through the kernel heap, whose lock the
//! threads then contend for, so one run shows user hot code, kernel time
//! and lock contention. With the Measure capability it marks `work` before
//! the first spawn and `final_total` after the last join.
//!
//! Caps: slot 0 Console, 1 Timer, 2 ThreadSpawner, 3 Measure (optional).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_demos::{print, Args};
use capos_rt::clients::{Console, Measure, ThreadSpawner, Timer};
use capos_rt::{thread, Ctx};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const TIMER: Timer = Timer(1);
const THREADS: ThreadSpawner = ThreadSpawner(2);
const MEASURE: Measure = Measure(3);

/// The user-mode hot loop: `rounds` xorshift steps from `seed`.
#[inline(never)]
fn mix_block(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn worker(i: u32, calls: u32, rounds: u32) -> i64 {
    // The name the flamegraphs, the timeline and who-ran-where show.
    if capos_rt::syscall::set_thread_name(&alloc::format!("demo-{i}")).is_err() {
        return 3;
    }
    let mut acc = u64::from(i);
    for k in 0..calls {
        acc = acc.wrapping_add(mix_block(acc ^ u64::from(k), rounds));
        match TIMER.now() {
            Ok(t) => acc ^= t & 1,
            Err(_) => return 2,
        }
    }
    core::hint::black_box(acc);
    0
}

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    let a = Args(ctx.args);
    let (threads, calls, rounds) =
        match (a.num("threads", 2u32), a.num("calls", 2000u32), a.num("rounds", 20_000u32)) {
            (Ok(t), Ok(c), Ok(r)) if (1..=16).contains(&t) => (t, c, r),
            _ => {
                print(CONSOLE, "[profile-demo] FAIL (args: threads=1..16 calls=N rounds=N)");
                return 1;
            }
        };
    // Without the Measure capability the marks fail and the run is one
    // phase; the profile then shows the whole run.
    let _ = MEASURE.mark("work");
    let mut handles = Vec::new();
    for i in 0..threads {
        match thread::spawn(THREADS, move || worker(i, calls, rounds)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                print(CONSOLE, &alloc::format!("[profile-demo] FAIL (spawn {i}: {e:?})"));
                return 1;
            }
        }
    }
    let failed = handles.into_iter().map(|h| h.join()).filter(|r| !matches!(r, Ok(0))).count();
    let _ = MEASURE.mark("final_total");
    if failed > 0 {
        print(CONSOLE, &alloc::format!("[profile-demo] FAIL ({failed} threads failed)"));
        return 1;
    }
    print(CONSOLE, &alloc::format!("[profile-demo] PASS threads={threads} calls={calls}"));
    0
}
