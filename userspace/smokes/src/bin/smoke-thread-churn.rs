//! Thread churn: attack-thread-churn starts and joins a long series of
//! threads a few at a time (and checks the kernel's memory while alive).
//! Here we check the kernel got everything back after it exited, and that
//! the bystander's memory stayed intact.
//! Args: `threads=N` (a 200-thread run warms up first).
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 Measure, 5 Endpoint "bystander" (call).
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
const GRANTS: [(u32, u32); 4] = [(0, CALL), (3, CALL), (1, CALL), (4, CALL)];
const WARM_UP_THREADS: u64 = 200;
const BATCH: u64 = 4;

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-thread-churn", Console(0));
    let mut mem = Memory::new(Measure(4), TIMER);
    let sp = Spawner(2);
    let threads = args::number(ctx.args, "threads").unwrap_or(WARM_UP_THREADS);
    bystander::wait_ready(&mut c, Endpoint(5));
    mem.calibrate(&mut c, sp);
    let churn = |n: u64| {
        launch::run(
            sp,
            "attack-thread-churn",
            &alloc::format!("threads={n} batch={BATCH}"),
            &GRANTS,
        )
    };
    let warm = churn(WARM_UP_THREADS);
    c.check(
        warm == Ok((0, false)),
        &alloc::format!(
            "a {WARM_UP_THREADS}-thread churn (warm-up) passed its own checks ({warm:?})"
        ),
    );
    let before = mem.baseline();
    let t0 = TIMER.now().unwrap_or(0);
    let got = churn(threads);
    let ms = (TIMER.now().unwrap_or(0) - t0) / 1_000_000;
    c.check(
        got == Ok((0, false)),
        &alloc::format!("a {threads}-thread churn passed its own checks in {ms} ms ({got:?})"),
    );
    mem.check_returned(
        &mut c,
        &alloc::format!("after the {threads}-thread churn exited"),
        before,
        1,
    );
    bystander::stop(&mut c, Endpoint(5));
    c.finish()
}
