//! smoke-ipc-scale: ipc-scale at small scale as a smoke (`make test`).
//! Spawns the `ipc-scale` coordinator with 2 pairs of 50 calls, passing on
//! its own capabilities in the coordinator's slot layout, and passes when
//! the coordinator exits 0, which it does only when every client and server
//! exited 0 and the run's checksum matched the reference (its
//! `[ipc-scale]` line, printed on the console, says `verified=true`).
//!
//! Caps (manifest `smoke-ipc-scale.capnp`): the coordinator's layout, slot 0
//! Console, 1 ProcessSpawner, 2 Endpoint `results`, 3 Measure, 4 Timer,
//! 5..=12 Endpoints `pair0`..`pair7`, all with receive where it applies.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use capos_demos::print;
use capos_rt::clients::{Console, Spawner};
use capos_rt::Ctx;

capos_rt::main!(run);

const NAME: &str = "smoke-ipc-scale";
const CONSOLE: Console = Console(0);
const SPAWNER: Spawner = Spawner(1);
/// Slots passed on: the coordinator's 13 (see `ipc-scale.rs`).
const SLOTS: u32 = 13;
/// Every right the smoke holds (CALL, GRANT, RECEIVE; intersected by the kernel).
const ALL_RIGHTS: u32 = 7;

fn run(_ctx: &Ctx) -> i64 {
    let grants: Vec<(u32, u32)> = (0..SLOTS).map(|s| (s, ALL_RIGHTS)).collect();
    let exit = SPAWNER
        .spawn("ipc-scale", "pairs=2 calls=50 cpus=0", &grants)
        .map_err(|e| format!("spawn: {e:?}"))
        .and_then(|h| h.wait().map_err(|e| format!("wait: {e:?}")));
    match exit {
        Ok((0, false)) => {
            print(CONSOLE, &format!("[{NAME}] ok: 2 pairs x 50 calls verified, all exited 0"));
            print(CONSOLE, &format!("[{NAME}] PASS (1 checks)"));
            0
        }
        other => {
            print(CONSOLE, &format!("[{NAME}] FAILED: coordinator ended {other:?}"));
            1
        }
    }
}
