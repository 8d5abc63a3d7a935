//! Endpoint: call/reply round trips to a server process (on another CPU
//! when there is one). Manifest: client slot 0 Console, slot 1 Endpoint,
//! slot 2 Timer; server: Console, Endpoint (receive).
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::{Console, Endpoint, Timer};
use capos_rt::{Ctx, Error};
use capos_smokes::Checks;

capos_rt::main!(run);

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-endpoint", Console(0));
    let ep = Endpoint(1);
    let t0 = Timer(2).now().unwrap_or(0);
    let mut good = 0;
    for i in 0..200u32 {
        let msg = alloc::format!("ping-{i}");
        let want: alloc::vec::Vec<u8> = msg.bytes().rev().collect();
        if ep.call(msg.as_bytes()) == Ok(want) {
            good += 1;
        }
    }
    let us = (Timer(2).now().unwrap_or(0) - t0) / 1000;
    c.check(good == 200, "200 call/reply round trips returned the server's answer");
    c.note(&alloc::format!("200 round trips in {us} us"));
    c.check(ep.call(&[]) == Ok(alloc::vec::Vec::new()), "an empty message round-trips");
    c.check(
        matches!(ep.receive(), Err(Error::NoRights)),
        "the client may not receive on the endpoint",
    );
    c.check(ep.call(b"quit") == Ok(alloc::vec::Vec::from(*b"bye")), "the server acknowledges quit");
    // The server has exited: its endpoint is revoked.
    let mut revoked = false;
    for _ in 0..200 {
        if ep.call(b"late") == Err(Error::StaleCap) {
            revoked = true;
            break;
        }
        let _ = Timer(2).sleep(2_000_000);
    }
    c.check(revoked, "after the server exits, calls fail with StaleCap");
    c.finish()
}
