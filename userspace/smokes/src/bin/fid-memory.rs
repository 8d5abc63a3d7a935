//! Fidelity workload: known cancelled operations, endpoint calls and frame
//! refusals.
//!
//! The work phase, in order:
//!
//! 1. `rounds` times (default 4): a thread submits `pending` (default 5)
//!    one-hour `Timer.sleep` calls without waiting for them and exits; the
//!    kernel cancels each of them (`memory.pending_cancelled`).
//!    Then `drops` times (default 2): a thread submits one 30 ms sleep and
//!    exits. The boot's `exit_cancel_delay_ms=150` holds an exiting thread
//!    with work outstanding that long between refusing completions and
//!    cancelling its work, so the sleep expires in between and its
//!    completion is dropped (`memory.completions_dropped`), not cancelled.
//! 2. A server thread receives and answers `calls` (default 50) calls that
//!    the main thread makes on the fidelity endpoint
//!    (`shared_kernel_lock lock=endpoint_queue`).
//! 3. The main thread submits `heap_refusals` (default 3) NOPs whose
//!    parameter buffer is 32 KiB: the kernel admits every SQE for 32 KiB
//!    plus its parameters (kernel/src/cap/ring.rs), and the boot's
//!    `heap_room=48` lets user work see only 48 KiB of heap above the
//!    reserve, so each is refused with `OutOfResources`
//!    (`memory.heap_refusals`); the program counts the refusals it gets.
//! 4. The main thread grows its heap 1 MiB at a time until the kernel
//!    refuses (the process's frame limit), then one page at a time until
//!    refused, then `refusals - 1` more single pages, all refused
//!    (`memory.frame_refusals`: the refusals whose new heap length stays
//!    within the heap's own limit, `capos_abi::layout::USER_HEAP_MAX`, are
//!    frame refusals; the program counts them). This comes last: the
//!    process cannot map another frame afterwards.
//!
//! Prints `[fid-memory] planted cancelled=<rounds x pending> calls=<n>
//! exits=<rounds + drops> drops=<n> heap_refusals=<n> frame_refusals=<n> heap_mib=<heap
//! length at the first refusal>`, then PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::layout::{USER_HEAP_BASE, USER_HEAP_MAX};
use capos_abi::ring::{op, Sqe};
use capos_rt::clients::{Timer, TIMER_SLEEP};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{
    mark, print_planted, CONSOLE, ENDPOINT_CALL, ENDPOINT_SERVE, THREADS, TIMER,
};
use capos_smokes::Checks;

capos_rt::main!(run);

const NAME: &str = "fid-memory";
const HOUR_NS: u64 = 3_600_000_000_000;
const MIB: u64 = 1 << 20;
const PAGE: u64 = 4096;
/// The sleep a dropper leaves behind: well after its exit begins, well
/// before the boot's 150 ms exit delay ends.
const DROP_SLEEP_NS: u64 = 30_000_000;

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let rounds = number(ctx.args, "rounds").unwrap_or(4);
    let pending = number(ctx.args, "pending").unwrap_or(5);
    let calls = number(ctx.args, "calls").unwrap_or(50);
    let refusals = number(ctx.args, "refusals").unwrap_or(3).max(1);
    let heap_refusals = number(ctx.args, "heap_refusals").unwrap_or(3);
    let drops = number(ctx.args, "drops").unwrap_or(2);
    match work(rounds, pending, drops, calls, heap_refusals, refusals) {
        Ok(()) => c.check(true, "work phase ran"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

/// A thread that leaves `pending` sleeps of `ns` behind: submitted (the
/// kernel consumed every SQE) and never waited for. Returns 0 if the kernel
/// took them all.
fn leave_sleeps(pending: u64, ns: u64) -> i64 {
    let r = Ring::current();
    let params = Timer::sleep_params(ns);
    for i in 0..pending {
        if r.push(ring::call_sqe(TIMER.0, TIMER_SLEEP, &params, &mut [], 1_000 + i)).is_err() {
            return 1;
        }
    }
    syscall::cap_enter(0, 0);
    if r.sq_pending() != 0 {
        return 2;
    }
    0
}

/// Serves `calls` calls: echoes each message reversed.
fn serve(calls: u64) -> i64 {
    for _ in 0..calls {
        let Ok((id, mut data)) = ENDPOINT_SERVE.receive() else { return 1 };
        data.reverse();
        if ENDPOINT_SERVE.reply(id, &data).is_err() {
            return 2;
        }
    }
    0
}

/// Parameter bytes of each NOP the kernel must refuse: admitted as
/// 32 KiB + 32 KiB, more than the boot's 48 KiB of room.
const BIG_PARAMS: usize = 32 * 1024;

/// Submits `n` NOPs with a [`BIG_PARAMS`] parameter buffer; returns how
/// many completed with `OutOfResources`.
fn refuse_heap(n: u64) -> Result<u64, String> {
    let params = alloc::vec![0u8; BIG_PARAMS];
    let r = Ring::current();
    let mut refused = 0;
    for i in 0..n {
        let user_data = ring::next_user_data();
        let sqe = Sqe {
            opcode: op::NOP,
            user_data,
            params: params.as_ptr() as u64,
            params_len: BIG_PARAMS as u32,
            ..Sqe::default()
        };
        if r.push(sqe).is_err() {
            return Err(alloc::format!("NOP {i}: the ring is full"));
        }
        syscall::cap_enter(0, 0);
        let cqe = ring::wait_for(user_data);
        if Error::from_result(cqe.result) == Some(Error::OutOfResources) {
            refused += 1;
        }
    }
    Ok(refused)
}

fn work(
    rounds: u64,
    pending: u64,
    drops: u64,
    calls: u64,
    heap_refusals: u64,
    refusals: u64,
) -> Result<(), String> {
    mark("spawn_ready")?;
    // Room in the runtime's heap for what runs after the frame limit.
    drop(Vec::<u8>::with_capacity(256 * 1024));
    mark("work")?;
    for r in 0..rounds {
        let h = thread::spawn(THREADS, move || leave_sleeps(pending, HOUR_NS))
            .map_err(|e| alloc::format!("spawn sleeper {r}: {e:?}"))?;
        let code = h.join().map_err(|e| alloc::format!("join sleeper {r}: {e:?}"))?;
        if code != 0 {
            return Err(alloc::format!("sleeper {r}: the kernel did not take its sleeps ({code})"));
        }
    }
    for d in 0..drops {
        let h = thread::spawn(THREADS, move || leave_sleeps(1, DROP_SLEEP_NS))
            .map_err(|e| alloc::format!("spawn dropper {d}: {e:?}"))?;
        let code = h.join().map_err(|e| alloc::format!("join dropper {d}: {e:?}"))?;
        if code != 0 {
            return Err(alloc::format!("dropper {d}: the kernel did not take its sleep ({code})"));
        }
    }
    let server = thread::spawn(THREADS, move || serve(calls))
        .map_err(|e| alloc::format!("spawn server: {e:?}"))?;
    for i in 0..calls {
        let msg = alloc::format!("call-{i}");
        let want: Vec<u8> = msg.bytes().rev().collect();
        let got =
            ENDPOINT_CALL.call(msg.as_bytes()).map_err(|e| alloc::format!("call {i}: {e:?}"))?;
        if got != want {
            return Err(alloc::format!("call {i}: wrong answer"));
        }
    }
    let code = server.join().map_err(|e| alloc::format!("join server: {e:?}"))?;
    if code != 0 {
        return Err(alloc::format!("server failed ({code})"));
    }
    let heap_refused = refuse_heap(heap_refusals)?;
    let (frame_refusals, heap_mib) = refuse_frames(refusals)?;
    mark("shutdown")?;
    print_planted(
        NAME,
        &[
            ("cancelled", rounds * pending),
            ("exits", rounds + drops),
            ("drops", drops),
            ("calls", calls),
            ("heap_refusals", heap_refused),
            ("heap_nops", heap_refusals),
            ("frame_refusals", frame_refusals),
            ("heap_mib", heap_mib),
        ],
    );
    mark("final_total")?;
    Ok(())
}

/// Grows the heap until refused (1 MiB steps, then pages), then asks for
/// `refusals - 1` more pages; returns the refusals that were frame
/// refusals (the new length within `USER_HEAP_MAX`) and the heap length in
/// MiB at the first refusal.
fn refuse_frames(refusals: u64) -> Result<(u64, u64), String> {
    let mut end = None;
    let mut frame_refusals = 0u64;
    let mut first = None;
    let mut refused = 0u64;
    for step in [MIB, PAGE] {
        loop {
            let r = syscall::grow_heap(step);
            if r >= 0 {
                end = Some(r as u64 + step);
                continue;
            }
            let len = end.map_or(0, |e| e - USER_HEAP_BASE);
            first.get_or_insert(len / MIB);
            refused += 1;
            if len + step <= USER_HEAP_MAX {
                frame_refusals += 1;
            }
            break;
        }
    }
    if end.is_none() {
        return Err(String::from("the heap never grew"));
    }
    for _ in 1..refusals {
        let len = end.map_or(0, |e| e - USER_HEAP_BASE);
        if syscall::grow_heap(PAGE) >= 0 {
            return Err(String::from("a page was granted after the frame limit"));
        }
        refused += 1;
        if len + PAGE <= USER_HEAP_MAX {
            frame_refusals += 1;
        }
    }
    if refused != refusals + 1 {
        return Err(alloc::format!("{refused} refusals, expected {}", refusals + 1));
    }
    Ok((frame_refusals, first.unwrap_or(0)))
}
