//! Sleepers that exit: attack-sleepers runs a series of processes that
//! each leave a thread parked for an hour and every CQ slot reserved for
//! 1-hour sleeps, and exit without waiting. Once they are gone, the kernel
//! must have its memory back (nothing of theirs may wait for the hour),
//! and we must still be able to run a full set of processes at once.
//! Args: `children=N` (a 1-child series warms up first).
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 ParkSpace, 5 Measure, 6 Endpoint "bystander" (call).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_abi::rights::Rights;
use capos_rt::clients::{Console, Endpoint, Measure, Spawner, Timer};
use capos_rt::Ctx;
use capos_smokes::memory::Memory;
use capos_smokes::{args, bystander, launch, Checks};

capos_rt::main!(run);

const TIMER: Timer = Timer(1);
const PASS_ON: u32 = Rights::CALL.0 | Rights::GRANT.0;
/// The series passes Console, Timer, ThreadSpawner and ParkSpace on to
/// each sleeper and spawns them with our ProcessSpawner.
const GRANTS: [(u32, u32); 5] =
    [(0, PASS_ON), (1, PASS_ON), (3, PASS_ON), (4, PASS_ON), (2, Rights::CALL.0)];
/// The kernel's limit on live processes.
const MAX_PROCESSES: usize = 64;
/// Processes of the boot manifest (this one and the bystander).
const MANIFEST_PROCESSES: usize = 2;

/// Starts as many lingering children as the kernel allows (a few more
/// than the limit are tried), then waits for them all.
fn fill_process_table(c: &mut Checks, sp: Spawner, kept_handles: usize) {
    let mut kids = Vec::new();
    while kids.len() < MAX_PROCESSES + 4 {
        match sp.spawn("exit-child", "linger", &[(1, Rights::CALL.0)]) {
            Ok(h) => kids.push(h),
            Err(_) => break,
        }
    }
    // In case the kernel counts exited processes whose handles we keep.
    let floor = MAX_PROCESSES - MANIFEST_PROCESSES - kept_handles;
    c.check(
        kids.len() >= floor,
        &alloc::format!("{} children ran at once afterwards (at least {floor} must)", kids.len()),
    );
    let ok = kids.iter().filter(|h| h.wait() == Ok((0, false))).count();
    c.check(ok == kids.len(), "every one of them ran and exited with 0");
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-sleepers-exit", Console(0));
    let mut mem = Memory::new(Measure(5), TIMER);
    let sp = Spawner(2);
    let children = args::number(ctx.args, "children").unwrap_or(1);
    bystander::wait_ready(&mut c, Endpoint(6));
    mem.calibrate(&mut c, sp);
    let series = |n: u64| {
        launch::run(sp, "attack-sleepers", &alloc::format!("series children={n}"), &GRANTS)
    };
    let warm = series(1);
    c.check(
        warm == Ok((0, false)),
        &alloc::format!("a 1-sleeper series (warm-up) passed its own checks ({warm:?})"),
    );
    let before = mem.baseline();
    let t0 = TIMER.now().unwrap_or(0);
    let got = series(children);
    let ms = (TIMER.now().unwrap_or(0) - t0) / 1_000_000;
    c.check(
        got == Ok((0, false)),
        &alloc::format!("a {children}-sleeper series passed its own checks in {ms} ms ({got:?})"),
    );
    mem.check_returned(&mut c, &alloc::format!("after {children} sleepers exited"), before, 1);
    // Handles kept so far: the calibration's children and two series.
    fill_process_table(&mut c, sp, mem.calibration_children() + 2);
    bystander::stop(&mut c, Endpoint(6));
    c.finish()
}
