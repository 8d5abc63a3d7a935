//! process-scale-worker: one process of smp-process-scale. Counts the primes
//! of its cost-balanced contiguous share of `lo..hi`.
//!
//! Args (from the coordinator): `index=I workers=N lo=L hi=H`. Caps: slot 0
//! Endpoint (call only) to the coordinator.
//!
//! Life: call `READY` (the coordinator's reply is the start signal), compute
//! with no system call, stamp the TSC, call `RESULT` with the stamp, exit 0.
//! Any failure exits non-zero without a result, which the coordinator sees
//! through its `ProcessHandle.wait`.
#![no_std]
#![no_main]

extern crate alloc;

use capos_demos::report::Msg;
use capos_demos::{rdtsc, Args};
use capos_rt::clients::Endpoint;
use capos_rt::Ctx;
use capos_workloads::process_scale as ps;

capos_rt::main!(run);

const COORDINATOR: Endpoint = Endpoint(0);

fn run(ctx: &Ctx) -> i64 {
    let a = Args(ctx.args);
    let (Ok(index), Ok(workers), Ok(lo), Ok(hi)) = (
        a.num::<u32>("index", u32::MAX),
        a.num::<u32>("workers", 0),
        a.num::<u32>("lo", 0),
        a.num::<u32>("hi", 0),
    ) else {
        return 10;
    };
    if index >= workers || lo > hi {
        return 11;
    }
    let range = ps::worker_range(lo, hi, workers, index);
    if COORDINATOR.call(&Msg::Ready { index }.encode()).is_err() {
        return 12;
    }
    // Timed by the coordinator's start stamp and this end stamp.
    let r = ps::count_primes(range.clone());
    let end_tsc = rdtsc();
    let msg = Msg::Result {
        index,
        lo: range.start,
        hi: range.end,
        primes: r.primes,
        checksum: r.checksum,
        end_tsc,
    };
    match COORDINATOR.call(&msg.encode()) {
        Ok(_) => 0,
        Err(_) => 13,
    }
}
