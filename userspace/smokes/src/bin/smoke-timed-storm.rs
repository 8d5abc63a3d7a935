//! Timed-wait storm: attack-timed-storm makes a long series of waits with
//! a 10 s timeout that all end early (park woken by unpark; cap_enter
//! satisfied by the park's completion). The attack checks the kernel heap
//! while it is still alive; here we check the kernel got everything back
//! after it exited, and that the bystander's memory stayed intact.
//! Args: `waits=N` (the measured storm; a 1000-wait storm warms up first).
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 ParkSpace, 5 Measure, 6 Endpoint "bystander" (call).
#![no_std]
#![no_main]

extern crate alloc;

use capos_abi::rights::Rights;
use capos_rt::clients::{Console, Endpoint, Measure, Spawner, Timer};
use capos_rt::Ctx;
use capos_smokes::memory::Memory;
use capos_smokes::{args, bystander, launch, Checks};

capos_rt::main!(run);

const TIMER: Timer = Timer(1);
const CALL: u32 = Rights::CALL.0;
const GRANTS: [(u32, u32); 5] = [(0, CALL), (3, CALL), (4, CALL), (1, CALL), (5, CALL)];
const WARM_UP_WAITS: u64 = 1000;

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-timed-storm", Console(0));
    let mut mem = Memory::new(Measure(5), TIMER);
    let sp = Spawner(2);
    let waits = args::number(ctx.args, "waits").unwrap_or(WARM_UP_WAITS);
    bystander::wait_ready(&mut c, Endpoint(6));
    mem.calibrate(&mut c, sp);
    let warm =
        launch::run(sp, "attack-timed-storm", &alloc::format!("waits={WARM_UP_WAITS}"), &GRANTS);
    c.check(
        warm == Ok((0, false)),
        &alloc::format!("a {WARM_UP_WAITS}-wait storm (warm-up) passed its own checks ({warm:?})"),
    );
    let before = mem.baseline();
    let t0 = TIMER.now().unwrap_or(0);
    let storm = launch::run(sp, "attack-timed-storm", &alloc::format!("waits={waits}"), &GRANTS);
    let ms = (TIMER.now().unwrap_or(0) - t0) / 1_000_000;
    c.check(
        storm == Ok((0, false)),
        &alloc::format!("a {waits}-wait storm passed its own checks in {ms} ms ({storm:?})"),
    );
    mem.check_returned(&mut c, &alloc::format!("after the {waits}-wait storm exited"), before, 1);
    bystander::stop(&mut c, Endpoint(6));
    c.finish()
}
