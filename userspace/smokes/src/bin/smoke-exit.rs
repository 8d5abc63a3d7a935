//! Process exit: exit codes, killed on fault, exit_process with live
//! threads, resources returned (more sequential children than the live limit).
//! Manifest: slot 0 Console, slot 1 Timer, slot 2 ProcessSpawner, slot 3 ThreadSpawner.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::{Console, Spawner};
use capos_rt::Ctx;
use capos_smokes::Checks;

capos_rt::main!(run);

const GRANT_TIMER: (u32, u32) = (1, 1);
const GRANT_THREADS: (u32, u32) = (3, 1);

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-exit", Console(0));
    let sp = Spawner(2);
    let wait = |args: &str| {
        sp.spawn("exit-child", args, &[GRANT_TIMER, GRANT_THREADS]).and_then(|h| h.wait())
    };
    c.check(wait("code=7") == Ok((7, false)), "exit code 7 reaches the parent");
    c.check(wait("code=0") == Ok((0, false)), "exit code 0 reaches the parent");
    c.check(wait("code=-3") == Ok((-3, false)), "negative exit codes survive");
    c.check(
        wait("fault").is_ok_and(|(_, killed)| killed),
        "a faulting child is killed and reported as killed",
    );
    c.check(
        wait("threads") == Ok((9, false)),
        "exit_process ends a process whose threads are blocked",
    );
    let mut ok = 0;
    for i in 0..80 {
        if wait(&alloc::format!("code={i}")) == Ok((i, false)) {
            ok += 1;
        }
    }
    c.check(
        ok == 80,
        "80 sequential children (more than the 64 live-process limit): resources are returned",
    );
    c.finish()
}
