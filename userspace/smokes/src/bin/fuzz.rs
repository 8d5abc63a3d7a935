//! The fuzz parent (`seed=S ops=N children=K` in the manifest): prints the
//! run's plan summary, spawns K `fuzz-child`ren at once (each with its own
//! seed and share of the ops), waits for them, checks that the kernel still
//! spawns and waits, and prints `[fuzz] PASS seed=S ops=N children=K`.
//!
//! Children dying (faults, lethal ops, non-zero exits) is fine: the point
//! is that the kernel survives. The run fails here only if the kernel can
//! no longer run a process afterwards, or if the `bystander` process (a
//! memory pattern it keeps checking, see capos_smokes::bystander) saw its
//! memory change; the harness judges the rest (panics, hangs).
//!
//! Manifest slots: 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 ParkSpace, 5 Measure, 6 Endpoint shared with the children (receive),
//! 7 Endpoint the bystander serves. 6 and 7 are optional.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::ToString;
use alloc::vec::Vec;
use capos_fuzzplan::args::ParentArgs;
use capos_fuzzplan::outcome::ChildExit;
use capos_fuzzplan::plan::Summary;
use capos_rt::clients::{Console, Endpoint, KernelMemory, Measure, ProcessHandle, Spawner, Timer};
use capos_rt::{println, Ctx, Error};
use capos_smokes::bystander::{INTACT, PING, READY, STOP};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const TIMER: Timer = Timer(1);
const SPAWNER: Spawner = Spawner(2);
const MEASURE: Measure = Measure(5);
const BYSTANDER: Endpoint = Endpoint(7);
/// All rights; the kernel intersects them with the slot's own.
const ALL: u32 = 7;
/// Our slots a child gets, in its slot order (see fuzz::shared::slot).
const CHILD_GRANTS: [(u32, u32); 6] = [(1, ALL), (2, ALL), (3, ALL), (4, ALL), (5, ALL), (6, ALL)];

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    let args = match ParentArgs::parse(ctx.args) {
        Ok(a) => a,
        Err(e) => {
            println!(CONSOLE, "[fuzz] FAIL: bad args `{}`: {e}", ctx.args);
            return 2;
        }
    };
    println!(CONSOLE, "[fuzz] plan {args}: {}", Summary::of_run(&args));
    let bystander = ctx.caps > 7;
    if bystander && BYSTANDER.call(PING).as_deref() != Ok(READY) {
        println!(CONSOLE, "[fuzz] the bystander did not answer its ping; it is not watched");
    }
    let before = MEASURE.memory().ok();
    let t0 = TIMER.now().unwrap_or(0);
    // Without the shared endpoint in the manifest, children get one slot less.
    let grants = &CHILD_GRANTS[..if ctx.caps > 6 { 6 } else { 5 }];
    let mut kids: Vec<(u32, Result<ProcessHandle, Error>)> = Vec::new();
    for i in 0..args.children {
        kids.push((i, spawn_retrying("fuzz-child", &args.child(i).to_string(), grants)));
    }
    for (i, h) in kids {
        let c = args.child(i);
        let what = match h.and_then(|h| h.wait()) {
            Ok((code, true)) => alloc::format!("killed exit={code}"),
            Ok((code, false)) => ChildExit::decode(code).to_string(),
            Err(e) => alloc::format!("not run: {}", e.name()),
        };
        println!(CONSOLE, "[fuzz] child {i}: seed={:#x} ops={} {what}", c.seed, c.ops);
    }
    let ms = TIMER.now().unwrap_or(0).saturating_sub(t0) / 1_000_000;
    println!(CONSOLE, "[fuzz] children done in {ms} ms");
    let healthy = still_works().and_then(|()| if bystander { bystander_verdict() } else { Ok(()) });
    if let (Some(b), Some(a)) = (before, MEASURE.memory().ok()) {
        print_memory(&b, &a);
    }
    if let Err(why) = healthy {
        println!(CONSOLE, "[fuzz] FAIL {args}: after the fuzzing {why}");
        return 1;
    }
    println!(CONSOLE, "[fuzz] PASS {args}");
    0
}

/// Spawns, retrying for a while when the kernel is out of processes (the
/// children's own children may still be lingering).
fn spawn_retrying(binary: &str, args: &str, grants: &[(u32, u32)]) -> Result<ProcessHandle, Error> {
    let mut last = Error::OutOfResources;
    for _ in 0..200 {
        match SPAWNER.spawn(binary, args, grants) {
            Err(Error::OutOfResources) => {
                last = Error::OutOfResources;
                let _ = TIMER.sleep(20_000_000);
            }
            other => return other,
        }
    }
    Err(last)
}

/// The kernel still keeps time, spawns a process and reports its exit.
fn still_works() -> Result<(), alloc::string::String> {
    TIMER.now().map_err(|e| alloc::format!("Timer.now fails: {}", e.name()))?;
    let h = spawn_retrying("exit-child", "code=7", &[(1, ALL)])
        .map_err(|e| alloc::format!("spawning fails: {}", e.name()))?;
    match h.wait() {
        Ok((7, false)) => Ok(()),
        other => Err(alloc::format!("a child exiting with 7 reports {other:?}")),
    }
}

/// Stops the bystander; its reply says whether its memory stayed intact.
/// A bystander that already ran out its time has exited (the kernel judges
/// its exit code), so a revoked endpoint is not a failure here.
fn bystander_verdict() -> Result<(), alloc::string::String> {
    match BYSTANDER.call(STOP) {
        Ok(reply) if reply.starts_with(INTACT.as_bytes()) => Ok(()),
        Ok(reply) => Err(alloc::format!(
            "the bystander reports {}",
            alloc::string::String::from_utf8_lossy(&reply)
        )),
        Err(Error::StaleCap | Error::Cancelled) => Ok(()),
        Err(e) => Err(alloc::format!("the bystander's stop call fails: {}", e.name())),
    }
}

fn print_memory(b: &KernelMemory, a: &KernelMemory) {
    println!(
        CONSOLE,
        "[fuzz] kernel memory: heap {} -> {} bytes (peak {}), frames {} -> {} (peak {})",
        b.heap_used,
        a.heap_used,
        a.heap_peak,
        b.frames_used,
        a.frames_used,
        a.frames_peak
    );
}
