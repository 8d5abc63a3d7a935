//! ipc-scale: the coordinator. Spawns `pairs` client/server pairs, each
//! pair on its own Endpoint, releases the clients together, collects one
//! result per client, verifies the checksum and prints one `[ipc-scale]`
//! line.
//!
//! Args (manifest): `pairs=N calls=C cpus=K` (defaults 1, 2000, 1). Caps:
//! slot 0 Console, 1 ProcessSpawner, 2 Endpoint `results` (receive; the
//! clients get it with CALL only), 3 Measure, 4 Timer, 5.. Endpoints
//! `pair0`.. (receive; server i gets pair i with RECEIVE only, client i with
//! CALL only).
//!
//! Protocol on `results` (see `capos_demos::report`): each client calls
//! `READY`; the coordinator holds those calls until all N arrived, stamps
//! the TSC and answers all N in one `cap_enter` (the start signal). Each
//! client then makes its C calls to its server, stamps the TSC and calls
//! `DONE` (index, calls, checksum, end stamp). A `ProcessHandle.wait` is in
//! flight for every client and server, so one that dies ends the run with
//! an error instead of a hang; after the last result all must exit 0.
//!
//! Phases (TSC cycles): `spawn_ready` from the first spawn until every
//! client is ready; `work` from the start stamp to the last client's end
//! stamp; `shutdown` from that stamp until every client and server exited.
//! `work_ns` converts `work` with the TSC rate measured against
//! `Timer.now` from the start stamp to the last result.
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
use capos_rt::clients::{Console, Measure, ProcessHandle, Spawner, Timer};
use capos_rt::Ctx;
use capos_workloads::ipc_scale as ipc;
use capos_workloads::line::IpcScaleLine;

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const SPAWNER: Spawner = Spawner(1);
const RESULTS: u32 = 2;
const MEASURE: Measure = Measure(3);
const TIMER: Timer = Timer(4);
/// Slot of `pair0`; the manifest grants `MAX_PAIRS` pair endpoints.
const PAIR0: u32 = 5;
const MAX_PAIRS: u32 = 8;
const RIGHT_CALL: u32 = 1;
const RIGHT_RECEIVE: u32 = 4;

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    match bench(ctx.args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            print(CONSOLE, &format!("[ipc-scale-error] {e}"));
            2
        }
    }
}

/// One client's `DONE`: calls, checksum, end stamp.
type Done = (u32, u64, u64);

fn spawn_pairs(pairs: u32, calls: u32, pending: &mut Pending) -> Result<(), String> {
    for i in 0..pairs {
        let args = format!("index={i} calls={calls}");
        let h: ProcessHandle = SPAWNER
            .spawn("ipc-scale-server", &args, &[(PAIR0 + i, RIGHT_RECEIVE)])
            .map_err(|e| format!("spawn server {i}: {e:?}"))?;
        pending.watch(h, format!("server {i}"));
        let h: ProcessHandle = SPAWNER
            .spawn("ipc-scale-client", &args, &[(RESULTS, RIGHT_CALL), (PAIR0 + i, RIGHT_CALL)])
            .map_err(|e| format!("spawn client {i}: {e:?}"))?;
        pending.watch(h, format!("client {i}"));
    }
    Ok(())
}

/// Holds every client's READY call; returns their call ids.
fn hold_ready(n: usize, pending: &mut Pending) -> Result<Vec<u64>, String> {
    let mut ready: Vec<Option<u64>> = vec![None; n];
    while ready.iter().any(Option::is_none) {
        let Call { id, msg } = pending.next_call(false)?;
        match msg {
            Msg::Ready { index } if (index as usize) < n && ready[index as usize].is_none() => {
                ready[index as usize] = Some(id)
            }
            other => return Err(format!("unexpected message before the start: {other:?}")),
        }
    }
    Ok(ready.into_iter().flatten().collect())
}

/// Collects one DONE per client, answering each.
fn collect(n: usize, pending: &mut Pending) -> Result<Vec<Done>, String> {
    let mut done: Vec<Option<Done>> = vec![None; n];
    let mut got = 0;
    while got < n {
        let Call { id, msg } = pending.next_call(false)?;
        match msg {
            Msg::Done { index, calls, checksum, end_tsc }
                if (index as usize) < n && done[index as usize].is_none() =>
            {
                done[index as usize] = Some((calls, checksum, end_tsc));
                got += 1;
                reply_all(RESULTS, &[id])?;
            }
            other => return Err(format!("unexpected message after the start: {other:?}")),
        }
    }
    Ok(done.into_iter().flatten().collect())
}

/// `cycles` in nanoseconds at `ns` per `per` cycles.
fn to_ns(cycles: u64, ns: u64, per: u64) -> Option<u64> {
    (per > 0).then(|| (u128::from(cycles) * u128::from(ns) / u128::from(per)) as u64)
}

fn bench(args: &str) -> Result<bool, String> {
    let a = Args(args);
    let pairs: u32 = a.num("pairs", 1)?;
    let calls: u32 = a.num("calls", ipc::DEFAULT_CALLS)?;
    let cpus: u32 = a.num("cpus", 1)?;
    if pairs == 0 || pairs > MAX_PAIRS {
        return Err(format!("unsupported pairs={pairs} (1..={MAX_PAIRS})"));
    }
    let n = pairs as usize;

    let _ = MEASURE.mark("spawn_ready");
    let t_first = rdtsc();
    let mut pending = Pending::new(RESULTS);
    spawn_pairs(pairs, calls, &mut pending)?;
    let ids = hold_ready(n, &mut pending)?;

    let _ = MEASURE.mark("work");
    let ns_start = TIMER.now().unwrap_or(0);
    let t_start = rdtsc();
    reply_all(RESULTS, &ids)?;
    let done = collect(n, &mut pending)?;
    let _ = MEASURE.mark("shutdown");
    let (t_in, ns_in) = (rdtsc(), TIMER.now().unwrap_or(0));

    pending.wait_exits()?;
    let t_exit = rdtsc();
    let _ = MEASURE.mark("final_total");
    let bad = pending.bad_exits();
    if !bad.is_empty() {
        return Err(bad.join(", "));
    }

    let t_end = done.iter().map(|d| d.2).fold(t_start, u64::max);
    let sums: Vec<u64> = done.iter().map(|d| d.1).collect();
    let verified =
        done.iter().all(|d| d.0 == calls) && ipc::combine(&sums) == ipc::reference(pairs, calls);
    let work = t_end.saturating_sub(t_start);
    let line = IpcScaleLine {
        cpus,
        pairs,
        calls,
        checksum: ipc::combine(&sums),
        spawn_ready: t_start.saturating_sub(t_first),
        work,
        shutdown: t_exit.saturating_sub(t_end),
        verified,
        work_ns: to_ns(work, ns_in.saturating_sub(ns_start), t_in.saturating_sub(t_start)),
    };
    print(CONSOLE, &format!("{line}"));
    Ok(verified)
}
