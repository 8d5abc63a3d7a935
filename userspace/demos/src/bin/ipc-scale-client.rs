//! ipc-scale-client: the client of one ipc-scale pair. Makes `calls` calls
//! to its server and folds the replies into its pair checksum.
//!
//! Args (from the coordinator): `index=I calls=C`. Caps: slot 0 Endpoint
//! (call only) to the coordinator, slot 1 the pair's Endpoint (call only).
//!
//! Life: call `READY` (the coordinator's reply is the start signal), make
//! the calls (request `ipc_scale::request(I, i)`, 8 bytes each way), stamp
//! the TSC, call `DONE` with the checksum and the stamp, exit 0. Any failure
//! exits non-zero without a result.
#![no_std]
#![no_main]

extern crate alloc;

use capos_demos::report::Msg;
use capos_demos::{rdtsc, Args};
use capos_rt::clients::Endpoint;
use capos_rt::Ctx;
use capos_workloads::ipc_scale::{self as ipc, MESSAGE_BYTES};

capos_rt::main!(run);

const COORDINATOR: Endpoint = Endpoint(0);
const SERVER: Endpoint = Endpoint(1);

fn run(ctx: &Ctx) -> i64 {
    let a = Args(ctx.args);
    let (Ok(index), Ok(calls)) = (a.num::<u32>("index", u32::MAX), a.num::<u32>("calls", 0)) else {
        return 10;
    };
    if COORDINATOR.call(&Msg::Ready { index }.encode()).is_err() {
        return 12;
    }
    // Timed by the coordinator's start stamp and this end stamp.
    let mut checksum = ipc::CHECKSUM_START;
    for i in 0..calls {
        let Ok(rep) = SERVER.call(&ipc::request(index, i).to_le_bytes()) else {
            return 13;
        };
        let Ok(rep) = <[u8; MESSAGE_BYTES]>::try_from(rep.as_slice()) else {
            return 14;
        };
        checksum = ipc::fold(checksum, u64::from_le_bytes(rep));
    }
    let end_tsc = rdtsc();
    match COORDINATOR.call(&Msg::Done { index, calls, checksum, end_tsc }.encode()) {
        Ok(_) => 0,
        Err(_) => 15,
    }
}
