//! The smoke side of the `bystander` program: a bystander started with
//! `stop=SLOT` serves an Endpoint. A `ping` call is answered once its
//! pattern is in place (a smoke pings before its first memory reading, so
//! the bystander's own allocation is not mistaken for the attack's); a
//! `stop` call ends its run and the reply is its verdict. A smoke stops it
//! last, after its memory checks.

use crate::Checks;
use capos_rt::clients::Endpoint;

/// What a smoke sends to end the bystander's run.
pub const STOP: &[u8] = b"stop";
/// What a smoke sends to learn that the bystander is set up.
pub const PING: &[u8] = b"ping";
/// The bystander's answer to a ping.
pub const READY: &[u8] = b"ready";
/// How the bystander's reply starts when its memory stayed intact.
pub const INTACT: &str = "intact";

/// Stops the bystander behind `ep` and checks that its memory stayed intact.
pub fn stop(c: &mut Checks, ep: Endpoint) {
    match ep.call(STOP) {
        Ok(reply) => {
            let text = core::str::from_utf8(&reply).unwrap_or("(not UTF-8)");
            c.check(
                text.starts_with(INTACT),
                &alloc::format!("the bystander's memory stayed intact ({text})"),
            );
        }
        Err(e) => c.check(
            false,
            &alloc::format!("the bystander answered the stop call (got {})", e.name()),
        ),
    }
}

/// Waits until the bystander behind `ep` has its pattern in place.
pub fn wait_ready(c: &mut Checks, ep: Endpoint) {
    c.check(
        ep.call(PING).as_deref() == Ok(READY),
        "the bystander is running with its pattern in place",
    );
}
