//! Full capability table: attack-full-caps starts a process with 255 of
//! 256 slots used and spawns threads against the last slot: a spawn that
//! finds no slot for the handle must fail with OutOfResources without
//! starting the thread, and joins must keep returning the right codes
//! (see the attack). The kernel must get all memory back afterwards and
//! the bystander's memory must stay intact.
//! Args: `cycles=N` (a 2-cycle run warms up first).
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 Measure, 5 Endpoint "bystander" (call).
#![no_std]
#![no_main]

extern crate alloc;

use capos_abi::rights::Rights;
use capos_rt::clients::{Console, Endpoint, Measure, Spawner, Timer};
use capos_rt::Ctx;
use capos_smokes::memory::Memory;
use capos_smokes::{args, bystander, Checks};

capos_rt::main!(run);

const PASS_ON: u32 = Rights::CALL.0 | Rights::GRANT.0;
/// The outer attack process passes slots 0-2 on 255 times over.
const GRANTS: [(u32, u32); 4] = [(0, PASS_ON), (1, PASS_ON), (3, PASS_ON), (2, Rights::CALL.0)];

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-full-caps", Console(0));
    let mut mem = Memory::new(Measure(4), Timer(1));
    let sp = Spawner(2);
    let cycles = args::number(ctx.args, "cycles").unwrap_or(50);
    bystander::wait_ready(&mut c, Endpoint(5));
    mem.calibrate(&mut c, sp);
    // The outer attack process is a launcher itself: its handle is all
    // that stays here.
    let attack = |cycles: u64| {
        sp.spawn("attack-full-caps", &alloc::format!("outer cycles={cycles}"), &GRANTS)
            .and_then(|h| h.wait())
    };
    let warm = attack(2);
    c.check(
        warm == Ok((0, false)),
        &alloc::format!("a 2-cycle run (warm-up) passed its own checks ({warm:?})"),
    );
    let before = mem.baseline();
    let got = attack(cycles);
    c.check(
        got == Ok((0, false)),
        &alloc::format!("a {cycles}-cycle run passed its own checks ({got:?})"),
    );
    mem.check_returned(&mut c, &alloc::format!("after the {cycles}-cycle run"), before, 1);
    bystander::stop(&mut c, Endpoint(5));
    c.finish()
}
