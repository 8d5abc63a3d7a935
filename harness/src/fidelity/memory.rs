//! Planted cancellations, endpoint calls and frame refusals (`fid-memory`,
//! userspace/smokes/src/bin/fid-memory.rs), all exact in the work phase of
//! a one-CPU boot:
//!
//! * `memory.pending_cancelled` = `rounds x pending`: each of `rounds`
//!   threads exits with `pending` one-hour sleeps outstanding, and its exit
//!   (kernel/src/cap/completion.rs `cancel_for`) takes each out of the
//!   timer list; `memory.completions_dropped` = 0 (a cancelled sleep never
//!   completes);
//! * `shared_kernel_lock acquisitions lock=endpoint_queue` = `3 x calls +
//!   exits`: kernel/src/cap/objects/endpoint.rs takes the endpoint's queue
//!   lock once in `call`, once in `receive` and once in `reply`, and an
//!   exiting thread with operations outstanding (the `exits` sleepers)
//!   looks through the one endpoint's queues once (`cancel_for`);
//! * `memory.frame_refusals` = the program's count of refused heap growths
//!   within the heap's own limit (kernel/src/proc/process.rs `map_fresh`
//!   counts a refusal when the process's frame limit is reached; a growth
//!   past `USER_HEAP_MAX` is refused before and not counted).

use anyhow::Result;
use capos_measure::catalogue::{memory, shared_kernel_lock, SharedLock};
use capos_measure::Phase;

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-memory",
    smp: 1,
    tick_hz: 100,
    peers: 0,
    quick_args: "rounds=4 pending=5 calls=50 refusals=3",
    full_args: "rounds=16 pending=8 calls=400 refusals=8",
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
            "work: memory.completions_dropped = 0 (cancelled, never completed)",
            0,
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
            "work: memory.frame_refusals = refused growths within the heap limit",
            run.planted("frame_refusals")?,
            w(memory::frame_refusals.into()),
        ),
    ])
}
