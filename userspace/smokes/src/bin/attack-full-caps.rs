//! Attack child of smoke-full-caps: thread spawns against a nearly full
//! capability table. The kernel allows 256 slots per table; the `inner`
//! process starts with 255 (one Console granted many times), so each
//! ThreadSpawner.spawn has room for exactly one handle. Every cycle:
//! thread A takes the last slot; thread B must be refused with
//! OutOfResources and must never run (a kernel that starts the thread
//! before finding no slot for its handle runs B anyway); A's join frees
//! the slot for thread C. Joins must always return the right codes.
//!
//! Modes: `outer cycles=N` (caps: 0 Console, 1 Timer, 2 ThreadSpawner with
//! GRANT, 3 ProcessSpawner) starts `inner cycles=N` with 255 slots and
//! exits with its code (99 if it was killed). `inner cycles=N` (caps: 0
//! Console, 1 Timer, 2 ThreadSpawner, 3..254 Console) runs the cycles.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::rights::Rights;
use capos_rt::clients::{Console, Spawner, ThreadSpawner, Timer};
use capos_rt::{syscall, thread, Ctx, Error};
use capos_smokes::{args, Checks};
use core::sync::atomic::{AtomicU32, Ordering};

capos_rt::main!(run);

const TIMER: Timer = Timer(1);
const SPAWNER: ThreadSpawner = ThreadSpawner(2);
/// Slots the inner process starts with (the kernel's limit is 256).
const INNER_SLOTS: usize = 255;
/// Bytes of stack for each B (B only ever runs on a broken kernel).
const B_STACK_BYTES: usize = 4096;

/// How often a B thread ran.
static B_RAN: AtomicU32 = AtomicU32::new(0);

extern "C" fn b_entry(_arg: u64, _ring: u64) -> ! {
    B_RAN.fetch_add(1, Ordering::SeqCst);
    syscall::exit_thread(0)
}

/// Tries to start B with a raw spawn on a stack of its own (leaked: if B
/// runs after all, nothing may free its stack under it).
fn spawn_b() -> Result<capos_rt::clients::ThreadHandle, Error> {
    let stack: &'static mut [u128] = alloc::vec![0u128; B_STACK_BYTES / 16].leak();
    let top = stack.as_ptr() as u64 + B_STACK_BYTES as u64;
    let entry = b_entry as extern "C" fn(u64, u64) -> ! as usize as u64;
    SPAWNER.spawn_raw(entry, 0, top, 0)
}

#[derive(Default)]
struct Tally {
    a_started: u32,
    b_refused: u32,
    b_other: Vec<alloc::string::String>,
    a_joined: u32,
    c_joined: u32,
}

fn cycle(i: u32, t: &mut Tally) {
    let release = Arc::new(AtomicU32::new(0));
    let r = release.clone();
    let a = thread::spawn(SPAWNER, move || {
        while r.load(Ordering::Acquire) == 0 {
            let _ = TIMER.sleep(1_000_000);
        }
        100 + i as i64
    });
    t.a_started += a.is_ok() as u32;
    match spawn_b() {
        Err(Error::OutOfResources) => t.b_refused += 1,
        Err(e) => t.b_other.push(alloc::format!("cycle {i}: {}", e.name())),
        Ok(h) => {
            t.b_other.push(alloc::format!("cycle {i}: B started"));
            let _ = h.join();
        }
    }
    // Give a B that was started anyway time to run.
    let _ = TIMER.sleep(50_000_000);
    release.store(1, Ordering::Release);
    if let Ok(a) = a {
        t.a_joined += (a.join() == Ok(100 + i as i64)) as u32;
    }
    let c = thread::spawn(SPAWNER, move || 10_000 + i as i64);
    t.c_joined += c.and_then(|c| c.join()).is_ok_and(|code| code == 10_000 + i as i64) as u32;
}

fn inner(ctx: &Ctx, cycles: u32) -> i64 {
    let mut c = Checks::new("attack-full-caps", Console(0));
    c.check(
        ctx.caps as usize == INNER_SLOTS,
        &alloc::format!("started with {} of 256 slots used", ctx.caps),
    );
    let mut t = Tally::default();
    for i in 0..cycles {
        cycle(i, &mut t);
    }
    c.check(
        t.a_started == cycles,
        &alloc::format!("thread A took the last slot in {}/{cycles} cycles", t.a_started),
    );
    c.check(
        t.b_refused == cycles,
        &alloc::format!(
            "thread B was refused with OutOfResources in {}/{cycles} cycles {:?}",
            t.b_refused,
            t.b_other
        ),
    );
    c.check(
        B_RAN.load(Ordering::SeqCst) == 0,
        &alloc::format!(
            "no refused thread B ever ran (ran {} times)",
            B_RAN.load(Ordering::SeqCst)
        ),
    );
    c.check(
        t.a_joined == cycles,
        &alloc::format!("A's join returned A's code in {}/{cycles} cycles", t.a_joined),
    );
    c.check(
        t.c_joined == cycles,
        &alloc::format!(
            "C started in the freed slot and its join returned C's code in {}/{cycles} cycles",
            t.c_joined
        ),
    );
    c.finish()
}

fn outer(cycles: u32) -> i64 {
    let call = Rights::CALL.0;
    let mut grants: Vec<(u32, u32)> = alloc::vec![(0, call), (1, call), (2, call)];
    grants.resize(INNER_SLOTS, (0, call));
    match Spawner(3)
        .spawn("attack-full-caps", &alloc::format!("inner cycles={cycles}"), &grants)
        .and_then(|h| h.wait())
    {
        Ok((code, false)) => code,
        Ok((code, true)) => {
            capos_rt::println!(
                Console(0),
                "[attack-full-caps] the inner process was killed by a fault (code {code})"
            );
            99
        }
        Err(e) => {
            capos_rt::println!(
                Console(0),
                "[attack-full-caps] FAILED: starting the inner process: {}",
                e.name()
            );
            98
        }
    }
}

fn run(ctx: &Ctx) -> i64 {
    let cycles = args::number(ctx.args, "cycles").unwrap_or(50) as u32;
    if ctx.args.starts_with("inner") {
        inner(ctx, cycles)
    } else {
        outer(cycles)
    }
}
