//! ipc-scale-server: the server of one ipc-scale pair. Answers exactly
//! `calls` calls on its endpoint with `ipc_scale::reply` of the request,
//! then exits 0.
//!
//! Args (from the coordinator): `index=I calls=C`. Caps: slot 0 the pair's
//! Endpoint (receive only). Each call costs the server one `Endpoint.receive`
//! and one `Endpoint.reply` through its ring; the receive result goes into
//! one small reused buffer. Any failure (a malformed request included)
//! exits non-zero, which the coordinator sees through its
//! `ProcessHandle.wait`.
#![no_std]
#![no_main]

extern crate alloc;

use capos_demos::Args;
use capos_rt::clients::Endpoint;
use capos_rt::{ring, Ctx};
use capos_schema::methods as m;
use capos_workloads::ipc_scale::{self as ipc, MESSAGE_BYTES};

capos_rt::main!(run);

const PAIR: Endpoint = Endpoint(0);

/// Room for a receive result carrying one request (call id, 8 data bytes
/// and the message framing).
const RECEIVE_BYTES: usize = 256;

fn run(ctx: &Ctx) -> i64 {
    let a = Args(ctx.args);
    let (Ok(_index), Ok(calls)) = (a.num::<u32>("index", 0), a.num::<u32>("calls", 0)) else {
        return 10;
    };
    let mut buf = [0u8; RECEIVE_BYTES];
    for _ in 0..calls {
        let Ok((_, n)) = ring::call(PAIR.0, m::ENDPOINT_RECEIVE, &[], &mut buf) else {
            return 12;
        };
        let Some(bytes) = buf.get(..n) else { return 13 };
        let Ok((id, data)) = Endpoint::parse_receive(bytes) else { return 13 };
        let Ok(req) = <[u8; MESSAGE_BYTES]>::try_from(data.as_slice()) else {
            return 14;
        };
        let rep = ipc::reply(u64::from_le_bytes(req)).to_le_bytes();
        if PAIR.reply(id, &rep).is_err() {
            return 15;
        }
    }
    0
}
