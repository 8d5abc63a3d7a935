//! smp-process-scale: the coordinator. Spawns `workers` process-scale-worker
//! processes, releases them together, collects one post-compute result per
//! worker, verifies the aggregate and prints one `[smp-process-scale]` line.
//!
//! Args (manifest): `workers=N lo=L hi=H cpus=C` (defaults 1, 0, 10000000,
//! 1). Caps: slot 0 Console, 1 ProcessSpawner, 2 Endpoint (receive; the
//! workers get it with CALL only), 3 Measure.
//!
//! Protocol (one Endpoint, see `capos_demos::report`): each worker calls
//! `READY` after it is spawned and set up; the coordinator holds those calls
//! until all N arrived, stamps the TSC, and answers all N in one `cap_enter`
//! (the replies are the start signal). Each worker then counts its primes
//! with no system call, stamps the TSC and calls `RESULT` (index, range,
//! primes, checksum, end stamp). Meanwhile a `ProcessHandle.wait` is
//! outstanding for every worker, so a worker that dies before reporting ends
//! the run at once with an error instead of a hang; after the last result
//! every worker must exit with code 0.
//!
//! `elapsed` = last worker's end stamp - the coordinator's start stamp: only
//! the worker computation (plus the release), never spawn, setup or
//! reporting. This is the Linux baseline's definition (its start is the
//! close of the shared "go" pipe).
//!
//! Verification: each index reports once, its range is the cost-balanced
//! share `worker_range(lo, hi, N, i)`, and the combined count and checksum
//! equal the pinned constants (`process_scale::reference`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use capos_demos::coord::{reply_all, Call, Pending};
use capos_demos::report::Msg;
use capos_demos::{print, rdtsc, Args};
use capos_rt::clients::{Console, Measure, ProcessHandle, Spawner};
use capos_rt::Ctx;
use capos_workloads::line::ProcessScaleLine;
use capos_workloads::process_scale::{self as ps, PrimeResult};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const SPAWNER: Spawner = Spawner(1);
const ENDPOINT: u32 = 2;
const MEASURE: Measure = Measure(3);
const WORKER_BINARY: &str = "process-scale-worker";
const RIGHT_CALL: u32 = 1;

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    match bench(ctx.args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            print(CONSOLE, &format!("[smp-process-scale-error] {e}"));
            2
        }
    }
}

fn bench(args: &str) -> Result<bool, String> {
    let a = Args(args);
    let workers: u32 = a.num("workers", 1)?;
    let lo: u32 = a.num("lo", ps::DEFAULT_LO)?;
    let hi: u32 = a.num("hi", ps::DEFAULT_HI)?;
    let cpus: u32 = a.num("cpus", 1)?;
    if workers == 0 || workers > 16 || lo > hi {
        return Err(format!("unsupported workers={workers} range={lo}..{hi}"));
    }
    let n = workers as usize;

    let _ = MEASURE.mark("spawn_ready");
    let mut pending = Pending::new(ENDPOINT);
    for i in 0..workers {
        let wargs = format!("index={i} workers={workers} lo={lo} hi={hi}");
        let h: ProcessHandle = SPAWNER
            .spawn(WORKER_BINARY, &wargs, &[(ENDPOINT, RIGHT_CALL)])
            .map_err(|e| format!("spawn worker {i}: {e:?}"))?;
        pending.watch(h, format!("worker {i}"));
    }

    // Hold every READY call; their replies are the start signal.
    let mut ready_ids: Vec<Option<u64>> = vec![None; n];
    while ready_ids.iter().any(Option::is_none) {
        let Call { id, msg } = pending.next_call(false)?;
        match msg {
            Msg::Ready { index } if (index as usize) < n && ready_ids[index as usize].is_none() => {
                ready_ids[index as usize] = Some(id)
            }
            other => return Err(format!("unexpected message before the start: {other:?}")),
        }
    }
    let ids: Vec<u64> = ready_ids.into_iter().flatten().collect();
    let _ = MEASURE.mark("work");
    let t_start = rdtsc();
    reply_all(ENDPOINT, &ids)?;

    let mut results: Vec<Option<(u32, u32, PrimeResult, u64)>> = vec![None; n];
    let mut results_in = 0;
    while results_in < n {
        let Call { id, msg } = pending.next_call(false)?;
        match msg {
            Msg::Result { index, lo: rlo, hi: rhi, primes, checksum, end_tsc }
                if (index as usize) < n && results[index as usize].is_none() =>
            {
                results[index as usize] =
                    Some((rlo, rhi, PrimeResult { primes, checksum }, end_tsc));
                results_in += 1;
                if results_in == n {
                    let _ = MEASURE.mark("shutdown");
                }
                reply_all(ENDPOINT, &[id])?;
            }
            other => return Err(format!("unexpected message after the start: {other:?}")),
        }
    }
    // Every worker must now exit cleanly.
    pending.wait_exits()?;
    let _ = MEASURE.mark("final_total");
    let bad = pending.bad_exits();
    if !bad.is_empty() {
        return Err(bad.join(", "));
    }

    let mut ranges_ok = true;
    let mut parts = Vec::with_capacity(n);
    let mut t_end = t_start;
    for (i, r) in results.iter().enumerate() {
        let Some((rlo, rhi, pr, end)) = *r else {
            return Err(format!("no result from worker {i}"));
        };
        let want = ps::worker_range(lo, hi, workers, i as u32);
        ranges_ok &= want == (rlo..rhi);
        parts.push(pr);
        t_end = t_end.max(end);
    }
    let total = ps::combine(&parts);
    let verified = ranges_ok && total == ps::reference(lo, hi);
    let line = ProcessScaleLine {
        cpus,
        workers,
        lo: u64::from(lo),
        hi: u64::from(hi),
        primes: total.primes,
        checksum: total.checksum,
        elapsed: t_end.saturating_sub(t_start),
        verified,
        elapsed_ns: None,
    };
    print(CONSOLE, &format!("{line}"));
    Ok(verified)
}
