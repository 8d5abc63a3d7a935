//! Launch: starts one process and reports how it ended. A smoke that
//! checks kernel memory around an attack starts the attack through launch:
//! everything the attack process leaves in the kernel (its exit status,
//! what its handle keeps) then hangs off launch's capability table, which
//! the kernel drops when launch exits. The smoke keeps only launch's own
//! small remains, whatever the attack did.
//!
//! Args: `<rights> <binary> [args...]`, `<rights>` a comma-separated list
//! of the rights each passed slot gets (empty list: none). Caps: the
//! attack's caps in order (with GRANT, so launch can pass them on), then a
//! ProcessSpawner in the last slot (not passed on). Exit code:
//! `2 * code + killed` (see capos_smokes::launch), or `2 * FAILED` if the
//! child could not be started.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_rt::clients::Spawner;
use capos_rt::Ctx;
use capos_smokes::launch::{encode, FAILED};

capos_rt::main!(run);

fn run(ctx: &Ctx) -> i64 {
    let Some(spawner) = ctx.caps.checked_sub(1) else { return encode(FAILED, false) };
    let mut words = ctx.args.splitn(3, ' ');
    let (rights, binary, args) =
        (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next().unwrap_or(""));
    let rights: Vec<u32> =
        rights.split(',').filter(|r| !r.is_empty()).map(|r| r.parse().unwrap_or(0)).collect();
    if rights.len() != spawner as usize {
        return encode(FAILED, false);
    }
    let grants: Vec<(u32, u32)> =
        rights.iter().enumerate().map(|(slot, &r)| (slot as u32, r)).collect();
    match Spawner(spawner).spawn(binary, args, &grants).and_then(|h| h.wait()) {
        Ok((code, killed)) => encode(code, killed),
        Err(_) => encode(FAILED, false),
    }
}
