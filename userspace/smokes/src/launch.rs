//! The smoke side of the `launch` program (see its header): start an
//! attack process through launch and decode how it ended.

use alloc::vec::Vec;
use capos_abi::rights::Rights;
use capos_rt::clients::Spawner;
use capos_rt::Error;

/// The code launch reports when it could not start its child.
pub const FAILED: i64 = -77_777;

/// Packs a child's (exit code, killed by a fault) into launch's exit code.
pub fn encode(code: i64, killed: bool) -> i64 {
    code.wrapping_mul(2).wrapping_add(killed as i64)
}

fn decode(x: i64) -> (i64, bool) {
    (x.div_euclid(2), x.rem_euclid(2) == 1)
}

/// Runs `binary args` through launch and waits: Ok((exit code, killed by
/// a fault)) of the attack process, which gets `grants` (my slot, rights)
/// exactly as if I had spawned it. `sp` also serves as launch's spawner
/// (the attack does not get it). `Err(NotFound)` if launch could not start
/// the attack.
pub fn run(
    sp: Spawner,
    binary: &str,
    args: &str,
    grants: &[(u32, u32)],
) -> Result<(i64, bool), Error> {
    // launch needs GRANT on every slot to pass it on; the rights the attack
    // gets travel in launch's arguments.
    let mut all: Vec<(u32, u32)> =
        grants.iter().map(|&(slot, r)| (slot, r | Rights::GRANT.0)).collect();
    all.push((sp.0, Rights::CALL.0));
    let rights: Vec<alloc::string::String> =
        grants.iter().map(|&(_, r)| alloc::format!("{r}")).collect();
    let line = alloc::format!("{} {binary} {args}", rights.join(","));
    let (x, launch_killed) = sp.spawn("launch", &line, &all)?.wait()?;
    if launch_killed {
        // launch itself never faults; pass the news on undecoded.
        return Ok((x, true));
    }
    match decode(x) {
        (FAILED, false) => Err(Error::NotFound),
        r => Ok(r),
    }
}
