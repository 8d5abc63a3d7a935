//! Ring page after join: attack children (attack-ring-join) join their
//! threads and then read a joined thread's ring page. A correct kernel has
//! unmapped it, so every child must be killed by the fault; a child that
//! exits with 66 read a page the kernel no longer gave it. The kernel must
//! get every child's memory back (children run through `launch`, so only
//! launch's small remains stay in this table), and the bystander's memory
//! must stay intact. Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner,
//! 3 ThreadSpawner, 4 Measure, 5 Endpoint "bystander" (call).
#![no_std]
#![no_main]

extern crate alloc;

use capos_abi::rights::Rights;
use capos_rt::clients::{Console, Endpoint, Measure, Spawner, Timer};
use capos_rt::Ctx;
use capos_smokes::attacks::RING_STILL_MAPPED;
use capos_smokes::memory::Memory;
use capos_smokes::{bystander, launch, Checks};

capos_rt::main!(run);

const CHILD_GRANTS: [(u32, u32); 2] = [(0, Rights::CALL.0), (3, Rights::CALL.0)];

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-ring-join", Console(0));
    let mut mem = Memory::new(Measure(4), Timer(1));
    let sp = Spawner(2);
    bystander::wait_ready(&mut c, Endpoint(5));
    mem.calibrate(&mut c, sp);
    let rounds = [1, 1, 1, 2, 2, 2];
    let all_before = mem.baseline();
    for (round, waves) in rounds.into_iter().enumerate() {
        let before = mem.baseline();
        let got =
            launch::run(sp, "attack-ring-join", &alloc::format!("waves={waves}"), &CHILD_GRANTS);
        let what = alloc::format!("child {round} ({waves} wave(s) of 64 joined threads)");
        match got {
            Ok((_, true)) => c.check(
                true,
                &alloc::format!(
                    "{what}: reading a joined thread's ring page faulted and killed the child"
                ),
            ),
            Ok((RING_STILL_MAPPED, false)) => c.check(
                false,
                &alloc::format!(
                    "{what}: a joined thread's ring page was still mapped (the read succeeded)"
                ),
            ),
            Ok((code, false)) => c.check(
                false,
                &alloc::format!("{what}: the child exited with {code} before the attack"),
            ),
            Err(e) => c.check(false, &alloc::format!("{what}: spawn/wait failed: {}", e.name())),
        }
        mem.check_returned(&mut c, &what, before, 1);
    }
    // Small leaks hide under one round's allowance but add up.
    mem.check_returned(
        &mut c,
        &alloc::format!("all {} children together", rounds.len()),
        all_before,
        rounds.len() as u64,
    );
    bystander::stop(&mut c, Endpoint(5));
    c.finish()
}
