//! Planted joins (`fid-joins`, 2 CPUs): a spinner thread keeps one CPU in
//! the process's address space for the whole work phase; on the other CPU
//! the main thread spawns and joins `joins` children, one at a time.
//!
//! Expected counts, from the kernel's rules:
//! * `tlb` (kernel/src/arch/x86_64/tlb.rs, mm/address_space.rs): an exiting
//!   thread's ring page is unmapped (`Ring::unmap` ->
//!   `AddressSpace::unmap_borrowed` -> `tlb::shootdown` of one page). A
//!   shootdown is a remote request only when another CPU has the space
//!   loaded (`active_cpus`); the spinner's CPU always has. So each join
//!   makes one request (`shootdown_requests`), aimed at one CPU
//!   (`shootdown_target_cpus`), one IPI (`shootdown_ipis`), serviced once
//!   on the spinner's CPU (`pending_flush_checks`: the IPI handler's check;
//!   no initiator ever waits for the shootdown lock, so no other check;
//!   `deferred_completion_drains`: the serviced flush). One page is below
//!   the full-flush threshold (32 pages): `pending_flush_all` = 0. Each
//!   request is one `shootdown` trace event.
//! * `thread_placement` (sched/dispatch.rs, kcore placement): the children
//!   are placed on the main thread's CPU (the spinner's is busy, ties go to
//!   the caller's CPU), so per join there are two user dispatches (the
//!   child, and the main thread after the join), the child's first
//!   (`first_selected` = joins) and no migration; no CR3 is loaded because
//!   every switch stays within the process's space.

use anyhow::Result;
use capos_measure::catalogue::{
    scheduler, scheduler_lock_site, thread_placement, tlb, SchedLockSite,
};
use capos_measure::{Counter, Phase, TraceKind};

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-joins",
    smp: 2,
    tick_hz: 100,
    peers: 0,
    quick_args: "joins=20",
    // At most 40: each join leaves about eight events (switches, run-queue
    // changes and the shootdown) in one CPU's 1024-event trace ring, which
    // must not wrap.
    full_args: "joins=40",
    check,
};

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let joins = run.planted("joins")?;
    let mut rows = vec![Row::exact(
        name,
        "spinner ran through the work phase",
        1,
        run.planted("spinner_ran")?,
    )];
    let work = |c: Counter| run.report.counter(Phase::Work, c);
    // A slow-path tick on the spinner's CPU may steal the main thread while
    // it sits briefly in its queue (`scheduler.candidates_stolen`): the two
    // threads swap CPUs, which adds up to 2 CR3 loads, 1 dispatch, 2 first
    // dispatches and 2 migrations per steal. Shootdowns are not affected.
    let steals = work(scheduler::candidates_stolen.into());
    let per_steal = |what: &str, expected: u64, measured: u64, k: u64| {
        Row::new(
            name,
            what.to_string(),
            expected as f64,
            measured as f64,
            (k * steals) as f64,
            format!("exact; {k} per work-phase steal ({steals})"),
        )
    };
    for (what, counter, expected) in [
        ("tlb.shootdown_requests", tlb::shootdown_requests.into(), joins),
        ("tlb.shootdown_target_cpus", tlb::shootdown_target_cpus.into(), joins),
        ("tlb.shootdown_ipis", tlb::shootdown_ipis.into(), joins),
        ("tlb.pending_flush_checks", tlb::pending_flush_checks.into(), joins),
        ("tlb.deferred_completion_drains", tlb::deferred_completion_drains.into(), joins),
        ("tlb.pending_flush_all", tlb::pending_flush_all.into(), 0),
    ] {
        rows.push(Row::exact(name, format!("work {what}"), expected, work(counter)));
    }
    rows.push(per_steal("work tlb.cr3_writes", 0, work(tlb::cr3_writes.into()), 2));
    let cpus = run.report.begin.map_or(0, |b| b.cpus as usize);
    let sum = |f: fn(usize) -> Counter| (0..cpus).map(|i| work(f(i))).sum::<u64>();
    // A tick that preempts the main thread or a child while the other is
    // queued requeues it (`preempt_requeue`) and dispatches it once more:
    // CI saw 2 such ticks give 42 dispatches for 20 joins.
    let preempts = work(scheduler_lock_site::acquisitions.at(SchedLockSite::PreemptRequeue));
    rows.push(Row::new(
        name,
        "work thread_placement.selected (all CPUs)",
        (2 * joins) as f64,
        sum(|i| thread_placement::selected.at(i)) as f64,
        (steals + preempts) as f64,
        format!("exact; 1 per work-phase steal ({steals}) and preempt requeue ({preempts})"),
    ));
    rows.push(per_steal(
        "work thread_placement.first_selected (all CPUs)",
        joins,
        sum(|i| thread_placement::first_selected.at(i)),
        2,
    ));
    rows.push(per_steal(
        "work thread_placement.migrations (all CPUs)",
        0,
        sum(|i| thread_placement::migrations.at(i)),
        2,
    ));

    let cp = &run.report.checkpoints;
    let dropped: u64 = run.report.trace_dropped.values().sum();
    match (cp.get(&Phase::Work), cp.get(&Phase::Shutdown)) {
        (Some(&start), Some(&stop)) if dropped == 0 => {
            let n = run
                .report
                .trace
                .iter()
                .filter(|e| e.kind == TraceKind::Shootdown && (start..stop).contains(&e.tsc))
                .count() as u64;
            rows.push(Row::exact(name, "work shootdown trace events", joins, n));
        }
        _ => rows.push(Row::missing(
            name,
            "work shootdown trace events",
            format!("no work window or {dropped} trace events dropped"),
        )),
    }
    Ok(rows)
}
