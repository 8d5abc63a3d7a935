//! Fidelity workload: known thread joins (and so known TLB shootdowns).
//!
//! Before the work phase a spinner thread starts and spins in user mode
//! until the end of the work phase, so its CPU keeps the process's address
//! space loaded throughout. In the work phase the main thread spawns a
//! child that returns at once and joins it, `joins` times (default 20).
//! Each exiting child's ring page is unmapped while the spinner's CPU has
//! the space loaded: one shootdown per join (harness/src/fidelity/joins.rs
//! derives the counts from the kernel's rules).
//!
//! Prints `[fid-joins] planted joins=<n> spinner_ran=<1 if the spinner was
//! running from before the work phase to after it>`, then PASS. Caps: see
//! `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, THREADS};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-joins";

struct Spin {
    running: AtomicU32,
    stop: AtomicU32,
    loops: AtomicU64,
}

fn spinner(s: &Spin) -> i64 {
    s.running.store(1, Ordering::Release);
    let mut n = 0u64;
    while s.stop.load(Ordering::Acquire) == 0 {
        n += 1;
        core::hint::spin_loop();
    }
    s.loops.store(n, Ordering::Release);
    0
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let joins = number(ctx.args, "joins").unwrap_or(20);
    match work(joins) {
        Ok(sum) => c.check(sum == joins * (joins + 1) / 2, "every child returned its number"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(joins: u64) -> Result<u64, alloc::string::String> {
    mark("spawn_ready")?;
    let s = Arc::new(Spin {
        running: AtomicU32::new(0),
        stop: AtomicU32::new(0),
        loops: AtomicU64::new(0),
    });
    let s2 = s.clone();
    let spin = thread::spawn(THREADS, move || spinner(&s2))
        .map_err(|e| alloc::format!("spawn spinner: {e:?}"))?;
    while s.running.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    mark("work")?;
    let mut sum = 0u64;
    for i in 1..=joins {
        let h = thread::spawn(THREADS, move || i as i64)
            .map_err(|e| alloc::format!("spawn child {i}: {e:?}"))?;
        sum += h.join().map_err(|e| alloc::format!("join child {i}: {e:?}"))?.max(0) as u64;
    }
    mark("shutdown")?;
    s.stop.store(1, Ordering::Release);
    spin.join().map_err(|e| alloc::format!("join spinner: {e:?}"))?;
    let ran = u64::from(s.loops.load(Ordering::Acquire) > 0);
    print_planted(NAME, &[("joins", joins), ("spinner_ran", ran)]);
    mark("final_total")?;
    Ok(sum)
}
