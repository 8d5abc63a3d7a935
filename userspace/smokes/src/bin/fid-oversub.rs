//! Fidelity workload: more busy threads than CPUs, and a timer wakeup while
//! the CPU is busy.
//!
//! Booted on one CPU. Before the work phase two spinner threads start (one
//! always waits in the run queue), each in its own function
//! `planted_spin_0/1`. In the work phase the main thread sleeps `sleeps`
//! times (default 20) for `sleep_ms` (default 50) on the kernel timer; each
//! wakeup comes from the timer while a spinner runs. So ticks find a
//! pending reschedule (`timer_fast_path.fallback_reschedule_pending`) or a
//! queued thread (`fallback_queue_nonempty`), and preempted spinners are
//! requeued (`scheduler_lock_site site=preempt_requeue`);
//! harness/src/fidelity/oversub.rs derives the counts.
//!
//! Each spinner counts, by the TSC, the time it ran in the work phase: a
//! step of its loop shorter than a quarter millisecond is time it ran; a
//! longer one is time it was preempted (or the vCPU did not run).
//!
//! The spinners name themselves `spinner-0` and `spinner-1`
//! (`SET_THREAD_NAME`), so the report's per-thread views can be checked.
//!
//! Prints `[fid-oversub] planted sleeps=<n> ran0=<cycles> ran1=<cycles>
//! work=<cycles> tsc_per_ms=<rate>`, then PASS. Caps: see
//! `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, rdtsc, tsc_per_ms, CONSOLE, THREADS, TIMER};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-oversub";
const SPINNERS: usize = 2;

/// Spinner phases: before the work phase, in it, after it, stop.
const BEFORE: u32 = 0;
const WORK: u32 = 1;
const AFTER: u32 = 2;
const STOP: u32 = 3;

struct Shared {
    phase: AtomicU32,
    running: AtomicU32,
    /// Loop steps at least this long (TSC cycles) are not run time.
    gap: u64,
    ran: [AtomicU64; SPINNERS],
}

/// The spinner loop; inlined into each `planted_spin_k` so that the samples
/// of spinner k land in its own function.
#[inline(always)]
fn spin(s: &Shared, k: usize) {
    s.running.fetch_add(1, Ordering::AcqRel);
    let mut ran = 0u64;
    let mut last = rdtsc();
    loop {
        let t = rdtsc();
        match s.phase.load(Ordering::Relaxed) {
            WORK if t - last < s.gap => ran += t - last,
            STOP => break,
            _ => {}
        }
        last = t;
    }
    s.ran[k].store(ran, Ordering::Release);
}

#[inline(never)]
fn planted_spin_0(s: &Shared) {
    spin(s, 0)
}

#[inline(never)]
fn planted_spin_1(s: &Shared) {
    spin(s, 1)
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let sleeps = number(ctx.args, "sleeps").unwrap_or(20);
    let sleep_ms = number(ctx.args, "sleep_ms").unwrap_or(50);
    match work(sleeps, sleep_ms) {
        Ok(ran) => c.check(ran.iter().all(|r| *r > 0), "every spinner ran in the work phase"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(sleeps: u64, sleep_ms: u64) -> Result<[u64; SPINNERS], alloc::string::String> {
    mark("spawn_ready")?;
    let per_ms = tsc_per_ms(20).map_err(|e| alloc::format!("tsc rate: {e:?}"))?;
    let s = Arc::new(Shared {
        phase: AtomicU32::new(BEFORE),
        running: AtomicU32::new(0),
        gap: per_ms / 4,
        ran: [AtomicU64::new(0), AtomicU64::new(0)],
    });
    let bodies: [fn(&Shared); SPINNERS] = [planted_spin_0, planted_spin_1];
    let mut handles = alloc::vec::Vec::new();
    for (k, body) in bodies.into_iter().enumerate() {
        let s2 = s.clone();
        let h = thread::spawn(THREADS, move || {
            // Named for the views; harness/src/fidelity/thread_views.rs
            // finds each spinner by this name (and fails if it is missing).
            let _ = capos_rt::syscall::set_thread_name(&alloc::format!("spinner-{k}"));
            body(&s2);
            0
        })
        .map_err(|e| alloc::format!("spawn spinner {k}: {e:?}"))?;
        handles.push(h);
    }
    while s.running.load(Ordering::Acquire) < SPINNERS as u32 {
        TIMER.sleep(1_000_000).map_err(|e| alloc::format!("sleep: {e:?}"))?;
    }
    mark("work")?;
    let t0 = rdtsc();
    s.phase.store(WORK, Ordering::Release);
    for _ in 0..sleeps {
        TIMER.sleep(sleep_ms * 1_000_000).map_err(|e| alloc::format!("sleep: {e:?}"))?;
    }
    s.phase.store(AFTER, Ordering::Release);
    let t1 = rdtsc();
    mark("shutdown")?;
    s.phase.store(STOP, Ordering::Release);
    for (k, h) in handles.into_iter().enumerate() {
        h.join().map_err(|e| alloc::format!("join spinner {k}: {e:?}"))?;
    }
    let ran = [0, 1].map(|k| s.ran[k].load(Ordering::Acquire));
    print_planted(
        NAME,
        &[
            ("sleeps", sleeps),
            ("ran0", ran[0]),
            ("ran1", ran[1]),
            ("work", t1 - t0),
            ("tsc_per_ms", per_ms),
        ],
    );
    mark("final_total")?;
    Ok(ran)
}
