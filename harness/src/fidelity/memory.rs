//! Planted cancellations, endpoint calls and frame refusals (`fid-memory`,
//! userspace/smokes/src/bin/fid-memory.rs), all exact in the work phase of
//! a one-CPU boot:
//!
//! * `memory.pending_cancelled` = `rounds x pending`: each of `rounds`
//!   threads exits with `pending` one-hour sleeps outstanding, and its exit
//!   (kernel/src/cap/completion.rs `cancel_for`) takes each out of the
//!   timer list; `memory.completions_dropped` = `drops`: each dropper
//!   thread exits with one 30 ms sleep outstanding, and the boot's
//!   `exit_cancel_delay_ms=150` holds its exit between `begin_exit` and
//!   `cancel_for` until the sleep has expired on the BSP's tick and its
//!   completion, aimed at an exiting thread, was dropped (the one-hour
//!   sleeps are cancelled, never completed);
//! * `shared_kernel_lock acquisitions lock=endpoint_queue` = `3 x calls +
//!   exits`: kernel/src/cap/objects/endpoint.rs takes the endpoint's queue
//!   lock once in `call`, once in `receive` and once in `reply`, and an
//!   exiting thread with operations outstanding (the `exits` sleepers and
//!   droppers: a dropped sleep is still outstanding in the ring's count)
//!   looks through the one endpoint's queues once (`cancel_for`);
//! * `memory.heap_refusals` = the NOPs refused with `OutOfResources`, and
//!   every one of the `heap_nops` was: booted with [`CMDLINE`], user work
//!   sees only 48 KiB of heap above the reserve (kernel/src/mm/heap.rs
//!   `admit`), and each NOP asks for 32 KiB + its 32 KiB of parameters
//!   (kernel/src/cap/ring.rs);
//! * `memory.frame_refusals` = the program's count of refused heap growths
//!   within the heap's own limit (kernel/src/proc/process.rs `map_fresh`
//!   counts a refusal when the process's frame limit is reached; a growth
//!   past `USER_HEAP_MAX` is refused before and not counted).

use anyhow::Result;
use capos_measure::catalogue::{memory, shared_kernel_lock, SharedLock};
use capos_measure::Phase;

use super::table::Row;
use super::{Run, Workload};

/// The kernel words this workload boots with: 48 KiB of heap room for user
/// work, enough for every other operation of the program (32 KiB + small
/// parameters each), too little for a NOP with 32 KiB of parameters; and a
/// 150 ms wait in the exit of a thread with work outstanding.
pub const CMDLINE: &str = "heap_room=48 exit_cancel_delay_ms=150";

pub const WORKLOAD: Workload = Workload {
    name: "fid-memory",
    smp: 1,
    tick_hz: 100,
    peers: 0,
    quick_args: "rounds=4 pending=5 drops=2 calls=50 heap_refusals=3 refusals=3",
    full_args: "rounds=16 pending=8 drops=6 calls=400 heap_refusals=8 refusals=8",
    check,
};

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let w = |c| run.report.counter(Phase::Work, c);
    let calls = run.planted("calls")?;
    let exits = run.planted("exits")?;
    Ok(vec![
        Row::exact(
            name,
            "work: memory.pending_cancelled = sleeps left by exiting threads",
            run.planted("cancelled")?,
            w(memory::pending_cancelled.into()),
        ),
        Row::exact(
            name,
            "work: memory.completions_dropped = sleeps expired in a held exit",
            run.planted("drops")?,
            w(memory::completions_dropped.into()),
        ),
        Row::exact(
            name,
            "work: endpoint_queue acquisitions = 3 x calls + exits with work pending",
            3 * calls + exits,
            w(shared_kernel_lock::acquisitions.at(SharedLock::EndpointQueue)),
        ),
        Row::exact(
            name,
            "NOPs with 32 KiB of parameters refused (OutOfResources)",
            run.planted("heap_nops")?,
            run.planted("heap_refusals")?,
        ),
        Row::exact(
            name,
            "work: memory.heap_refusals = NOPs refused",
            run.planted("heap_refusals")?,
            w(memory::heap_refusals.into()),
        ),
        Row::exact(
            name,
            "work: memory.frame_refusals = refused growths within the heap limit",
            run.planted("frame_refusals")?,
            w(memory::frame_refusals.into()),
        ),
    ])
}
