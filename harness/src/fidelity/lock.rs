//! Planted lock contention (`fid-lock`): two processes on two CPUs make
//! `Timer.now` calls as fast as they can. Each call is one SQE through
//! `capos_kernel::cap::ring::submit`, which allocates and frees on the
//! kernel heap several times (the SQE's parameters, the capnp reply built
//! by `timer_now`). The other locks on that path are the process's own
//! (capability table, address space: two processes so that they do not
//! meet there; two threads of one process met on the `address_space` lock,
//! which `AddressSpace::access` holds across each result copy, about as
//! much as on the heap), so the one lock the two CPUs meet on is the `heap`
//! shared kernel lock, taken on that path.
//!
//! Checks:
//! * the lock with the most wait in the whole-run contention flamegraph
//!   (`contention-run.folded`, summed over its stacks) is
//!   `[lock shared_kernel_lock heap]`, and its heaviest stack passes through
//!   `cap::ring::submit` (summed per lock because the heap's wait is spread
//!   over several allocation and free stacks, and under TCG one wait can
//!   include the time the holder's vCPU thread was descheduled);
//! * for every lock (each shared lock and each scheduler-lock site) in the
//!   work phase and the whole run: the `contention_stack` lines' wait
//!   cycles and counts add up to the lock's `wait_cycles` and `contended`
//!   (exact: each contended acquisition records both);
//! * the flamegraph's `heap` bars weigh the run's `heap` `wait_cycles`;
//! * "contended with": the shared-lock pair with the most waits in the
//!   work phase is `heap <- heap` (a shared kernel lock's holder is the
//!   lock itself), and each of its waits saw its holder on the other CPU
//!   or none (`cross_cpu` = count less the waits whose holder had gone);
//! * handoffs (see `lock_pairs.rs`): over the run the `heap` lock and the
//!   scheduler locks have `handoffs >= contended` (exact at SMP 2) and
//!   `handoffs <= acquisitions`.
//!
//! How many acquisitions contend is not planted (it depends on when the
//! two vCPUs meet); where they contend is.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use capos_measure::catalogue::{
    scheduler_lock_site, shared_kernel_lock, SchedLockSite, SharedLock,
};
use capos_measure::{ContentionClass, Counter, Phase};

use super::artifacts::folded;
use super::lock_pairs;
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-lock",
    smp: 2,
    tick_hz: 100,
    peers: 1,
    quick_args: "calls=20000",
    full_args: "calls=100000",
    check,
};

/// The planted lock, as the contention flamegraph names it.
const LOCK_FRAME: &str = "[lock shared_kernel_lock heap]";
/// The planted path: a frame of the heaviest stack ends with this.
const PATH: &str = "capos_kernel::cap::ring::submit_[k]";

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let mut rows = Vec::new();
    let stacks = folded(&run.read(&run.profile.contention.folded)?)?;
    // Wait per lock (the graph's root frames), heaviest first.
    let mut by_lock: BTreeMap<&str, u64> = BTreeMap::new();
    for (frames, w) in &stacks {
        *by_lock.entry(frames.first().map_or("", String::as_str)).or_default() += w;
    }
    let (heaviest, _) = by_lock
        .iter()
        .max_by_key(|(_, w)| **w)
        .context("the contention flamegraph is empty: no contended acquisition at all")?;
    rows.push(Row::name(
        name,
        "heaviest lock in the contention graph",
        LOCK_FRAME,
        *heaviest,
        *heaviest == LOCK_FRAME,
    ));
    let top = stacks
        .iter()
        .filter(|(f, _)| f.first().map(String::as_str) == Some(LOCK_FRAME))
        .max_by_key(|(_, w)| *w);
    let path = top.and_then(|(f, _)| f.iter().find(|x| x.ends_with(PATH)));
    rows.push(Row::name(
        name,
        "heaviest heap stack: path",
        format!("…{PATH}"),
        path.cloned()
            .or_else(|| top.and_then(|(f, _)| f.last().cloned()))
            .unwrap_or_else(|| "no heap stack".into()),
        path.is_some(),
    ));

    for phase in [Phase::Work, Phase::Aggregate] {
        for lock in SharedLock::ALL {
            let (w, n) = (
                shared_kernel_lock::wait_cycles.at(*lock),
                shared_kernel_lock::contended.at(*lock),
            );
            let class = ContentionClass::SharedKernelLock;
            rows.extend(identity(run, phase, class, *lock as u8, lock.label(), w, n));
        }
        for site in SchedLockSite::ALL {
            let (w, n) = (
                scheduler_lock_site::wait_cycles.at(*site),
                scheduler_lock_site::contended.at(*site),
            );
            let class = ContentionClass::SchedulerLock;
            rows.extend(identity(run, phase, class, *site as u8, site.label(), w, n));
        }
    }

    let heap_bars: u64 = stacks
        .iter()
        .filter(|(f, _)| f.first().map(String::as_str) == Some(LOCK_FRAME))
        .map(|(_, w)| w)
        .sum();
    rows.push(Row::exact(
        name,
        "contention-run heap bars = aggregate heap wait_cycles",
        run.report.counter(Phase::Aggregate, shared_kernel_lock::wait_cycles.at(SharedLock::Heap)),
        heap_bars,
    ));

    let shared = ContentionClass::SharedKernelLock.name();
    let heap = SharedLock::Heap.label();
    match lock_pairs::top_by_count(run, Phase::Work, shared) {
        Some(top) => {
            let text = lock_pairs::pair_text(&top);
            let planted = top.waiter == heap && top.holder == heap;
            rows.push(Row::name(
                name,
                "work top shared-lock pair",
                format!("{heap} <- {heap}"),
                text,
                planted,
            ));
            rows.push(Row::exact(
                name,
                "work top pair cross_cpu = count (holder on the other CPU)",
                top.count,
                top.cross_cpu,
            ));
        }
        None => rows.push(Row::missing(name, "work top shared-lock pair", "no lock_pair line")),
    }
    rows.extend(lock_pairs::handoff_rows(run, name, SharedLock::Heap));
    Ok(rows)
}

/// Rows for one lock in one phase (none when it never contended there):
/// the contention stacks' waits and counts against its counters.
fn identity(
    run: &Run,
    phase: Phase,
    class: ContentionClass,
    lock: u8,
    label: &str,
    wait: Counter,
    contended: Counter,
) -> Vec<Row> {
    let (mut n, mut w) = (0u64, 0u64);
    for ((p, c, l, _), (count, cycles)) in &run.report.contention_stacks {
        if *p == phase && *c == class as u8 && *l == lock {
            n += count;
            w += cycles;
        }
    }
    let (cw, cn) = (run.report.counter(phase, wait), run.report.counter(phase, contended));
    if (n, w, cw, cn) == (0, 0, 0, 0) {
        return Vec::new();
    }
    let what = format!("{} {label} {}", class.name(), phase.name());
    vec![
        Row::exact(WORKLOAD.name, format!("{what}: stacks' wait = wait_cycles"), cw, w),
        Row::exact(WORKLOAD.name, format!("{what}: stacks' count = contended"), cn, n),
    ]
}
