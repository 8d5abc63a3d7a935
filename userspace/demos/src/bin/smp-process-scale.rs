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
use capnp::message::{Builder, ReaderOptions};
use capnp::serialize;
use capos_abi::ring::Cqe;
use capos_demos::report::Msg;
use capos_demos::{print, rdtsc, Args};
use capos_rt::clients::{Console, Measure, ProcessHandle, Spawner};
use capos_rt::{ring, syscall, Ctx};
use capos_schema::capos_capnp as s;
use capos_schema::methods as m;
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

/// Asynchronous requests in flight on this thread's ring.
struct Pending {
    /// user_data of each worker's `ProcessHandle.wait`, and its result buffer.
    waits: Vec<(u64, Vec<u8>)>,
    /// Exit (code, killed) of each worker once known.
    exits: Vec<Option<(i64, bool)>>,
    /// The outstanding `Endpoint.receive`, if any.
    receive: Option<(u64, Vec<u8>)>,
}

enum Event {
    Call { id: u64, msg: Msg },
}

impl Pending {
    fn submit_receive(&mut self) {
        let ud = ring::next_user_data();
        let mut buf = vec![0u8; 1024];
        ring::submit(ring::call_sqe(ENDPOINT, m::ENDPOINT_RECEIVE, &[], &mut buf, ud));
        self.receive = Some((ud, buf));
    }

    /// Waits for the next endpoint call; a worker exit seen first is recorded,
    /// and one before all results are in is an error.
    fn next_call(&mut self, results_in: usize) -> Result<Event, String> {
        if self.receive.is_none() {
            self.submit_receive();
        }
        loop {
            let cqes: Vec<Cqe> = ring::drain();
            let mut event = None;
            for c in cqes {
                if let Some(e) = self.on_cqe(c, results_in)? {
                    event = Some(e);
                }
            }
            if let Some(e) = event {
                return Ok(e);
            }
            syscall::cap_enter(1, ring::FOREVER);
        }
    }

    fn on_cqe(&mut self, c: Cqe, results_in: usize) -> Result<Option<Event>, String> {
        if let Some(i) = self.waits.iter().position(|(ud, _)| *ud == c.user_data) {
            let (_, buf) = &self.waits[i];
            let exit = if c.result < 0 {
                Err(c.result)
            } else {
                wait_result(&buf[..c.result_bytes as usize])
            };
            let exit = exit.map_err(|e| format!("wait for worker {i} failed ({e})"))?;
            self.exits[i] = Some(exit);
            if results_in < self.exits.len() && exit != (0, false) {
                return Err(format!(
                    "worker {i} ended (exit code {}, killed={}) before all results were in",
                    exit.0, exit.1
                ));
            }
            return Ok(None);
        }
        match &self.receive {
            Some((ud, buf)) if *ud == c.user_data => {
                if c.result < 0 {
                    return Err(format!("Endpoint.receive failed ({})", c.result));
                }
                let (id, data) = receive_result(&buf[..c.result_bytes as usize])?;
                self.receive = None;
                let msg = Msg::decode(&data)
                    .ok_or_else(|| format!("malformed worker message of {} bytes", data.len()))?;
                Ok(Some(Event::Call { id, msg }))
            }
            // A stray completion (another client call's) is not ours to judge.
            _ => Ok(None),
        }
    }
}

fn wait_result(bytes: &[u8]) -> Result<(i64, bool), i64> {
    let msg = serialize::read_message(&mut &bytes[..], ReaderOptions::new()).map_err(|_| -1)?;
    let r = msg.get_root::<s::process_handle::wait_results::Reader>().map_err(|_| -1)?;
    Ok((r.get_exit_code(), r.get_killed()))
}

fn receive_result(bytes: &[u8]) -> Result<(u64, Vec<u8>), String> {
    let bad = |_| String::from("malformed Endpoint.receive result");
    let msg = serialize::read_message(&mut &bytes[..], ReaderOptions::new()).map_err(bad)?;
    let r = msg.get_root::<s::endpoint::receive_results::Reader>().map_err(bad)?;
    Ok((r.get_call_id(), Vec::from(r.get_data().map_err(bad)?)))
}

fn reply_params(call_id: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::endpoint::reply_params::Builder>();
        r.set_call_id(call_id);
        r.set_data(data);
    }
    serialize::write_message_to_words(&b)
}

/// Answers every held call in one kernel entry.
fn reply_all(ids: &[u64]) -> Result<(), String> {
    let params: Vec<Vec<u8>> = ids.iter().map(|&id| reply_params(id, b"go")).collect();
    let mut uds = Vec::with_capacity(ids.len());
    for p in &params {
        let ud = ring::next_user_data();
        ring::submit(ring::call_sqe(ENDPOINT, m::ENDPOINT_REPLY, p, &mut [], ud));
        uds.push(ud);
    }
    for ud in uds {
        let c = ring::wait_for(ud);
        if c.result < 0 {
            return Err(format!("Endpoint.reply failed ({})", c.result));
        }
    }
    Ok(())
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
    let mut pending = Pending { waits: Vec::new(), exits: vec![None; n], receive: None };
    for i in 0..workers {
        let wargs = format!("index={i} workers={workers} lo={lo} hi={hi}");
        let h: ProcessHandle = SPAWNER
            .spawn(WORKER_BINARY, &wargs, &[(ENDPOINT, RIGHT_CALL)])
            .map_err(|e| format!("spawn worker {i}: {e:?}"))?;
        let ud = ring::next_user_data();
        let mut buf = vec![0u8; 64];
        ring::submit(ring::call_sqe(h.0, m::PROCESS_WAIT, &[], &mut buf, ud));
        pending.waits.push((ud, buf));
    }

    // Hold every READY call; their replies are the start signal.
    let mut ready_ids: Vec<Option<u64>> = vec![None; n];
    while ready_ids.iter().any(Option::is_none) {
        let Event::Call { id, msg } = pending.next_call(0)?;
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
    reply_all(&ids)?;

    let mut results: Vec<Option<(u32, u32, PrimeResult, u64)>> = vec![None; n];
    let mut results_in = 0;
    while results_in < n {
        let Event::Call { id, msg } = pending.next_call(results_in)?;
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
                reply_all(&[id])?;
            }
            other => return Err(format!("unexpected message after the start: {other:?}")),
        }
    }
    // Every worker must now exit cleanly.
    while pending.exits.iter().any(Option::is_none) {
        for c in ring::drain() {
            pending.on_cqe(c, n)?;
        }
        if pending.exits.iter().any(Option::is_none) {
            syscall::cap_enter(1, ring::FOREVER);
        }
    }
    let _ = MEASURE.mark("final_total");
    let bad: Vec<String> = pending
        .exits
        .iter()
        .enumerate()
        .filter(|(_, e)| **e != Some((0, false)))
        .map(|(i, e)| format!("worker {i} exit {e:?}"))
        .collect();
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
