//! Planted run-queue contention (`fid-sched`): three yielder threads on two
//! CPUs and three sleeper threads woken together by the timer while both
//! CPUs are busy
//! (userspace/smokes/src/bin/fid-sched.rs).
//!
//! What the kernel's rules make of it (kernel/src/sched/dispatch.rs):
//!
//! * every `yield` enters `schedule(Yield)`, whose pick takes the local
//!   run-queue lock once under `site=yield`, and nothing else does: over
//!   the run (`aggregate`, the frozen final snapshot) `scheduler_lock_site
//!   site=yield acquisitions` = `syscall nr=yield calls`, within one per
//!   CPU (a yield counted at entry whose lock falls after the stop). Not
//!   per phase: a mark's snapshot reads the catalogue group by group while
//!   the other CPU keeps yielding, so two groups' work-phase values differ
//!   by the yields made during the snapshot (7 in the first runs);
//! * the program counts only the yields made while its work flag was up,
//!   which is inside the work phase: `nr=yield calls >= planted yields`;
//! * one CPU always has a yielder queued and the other finds its own queue
//!   empty at every yield, so it steals (`candidates_stolen`) from a queue
//!   its owner is queueing to and picking from thousands of times a second:
//!   the run-queue locks are contended (`scheduler_lock.contended`). That
//!   is a race the program makes overwhelmingly likely, not one it can
//!   force, so those rows are lower bounds (at least one);
//! * three sleepers' timer wakeups come on one BSP tick while both CPUs are
//!   busy; placement queues each on the less loaded CPU (ties to the
//!   caller), so once the first has lengthened the BSP's queue a later one
//!   goes to the other CPU, which is flagged, not interrupted:
//!   `scheduler.resched_ipi_skipped` (at least one over the rounds);
//! * "contended with": the run-queue contention is the yielder's owner CPU
//!   picking from its queue (`site=yield`) against the other CPU stealing
//!   from it (`site=steal`): the work phase has at least one wait of
//!   `yield <- steal` or `steal <- yield` (a lower bound, like
//!   `contended`), and the holder the `steal` site waited for most often is
//!   `yield` (the first runs: `steal <- yield` 4, `steal <- preempt_requeue`
//!   1; the whole work phase had 10 contended run-queue acquisitions);
//! * handoffs (see `lock_pairs.rs`): over the run the scheduler locks (and
//!   the `heap`) have `handoffs >= contended` (exact at SMP 2) and
//!   `handoffs <= acquisitions`.

use anyhow::Result;
use capos_measure::catalogue::{scheduler, scheduler_lock, scheduler_lock_site, syscall};
use capos_measure::catalogue::{SchedLockSite, SharedLock, SyscallNr};
use capos_measure::{ContentionClass, Counter, Phase};

use super::lock_pairs;
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-sched",
    smp: 2,
    tick_hz: 100,
    peers: 0,
    quick_args: "sleeps=40 sleep_ms=2",
    full_args: "sleeps=200 sleep_ms=2",
    check,
};

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let work = |c: Counter| run.report.counter(Phase::Work, c);
    let yields = work(syscall::calls.at(SyscallNr::Yield));
    let cpus = run.report.begin.map_or(0, |b| u64::from(b.cpus));
    let all = |c: Counter| run.report.counter(Phase::Aggregate, c);
    let mut rows = vec![
        Row::at_least(
            name,
            "work syscall nr=yield calls vs planted yields",
            run.planted("yields")?,
            yields,
        ),
        Row::new(
            name,
            "aggregate scheduler_lock_site site=yield acquisitions = nr=yield calls",
            all(syscall::calls.at(SyscallNr::Yield)) as f64,
            all(scheduler_lock_site::acquisitions.at(SchedLockSite::Yield)) as f64,
            cpus as f64,
            "one per yield; one per CPU in flight at the stop",
        ),
        Row::at_least(
            name,
            "work scheduler.candidates_stolen",
            1,
            work(scheduler::candidates_stolen.into()),
        ),
        Row::at_least(
            name,
            "work scheduler_lock.contended",
            1,
            work(scheduler_lock::contended.into()),
        ),
        Row::at_least(
            name,
            "work scheduler.resched_ipi_skipped",
            1,
            work(scheduler::resched_ipi_skipped.into()),
        ),
    ];
    // The planted pairing, either way round: at least one wait (a lower
    // bound, like `contended`), and the steal site's heaviest holder (by
    // waits) is the queue owner's yield.
    let class = ContentionClass::SchedulerLock.name();
    let pairs = capos_flamegraphs::lock_pairs(&run.report, Phase::Work);
    let planted: u64 = pairs
        .iter()
        .filter(|p| p.class == class)
        .filter(|p| {
            matches!(
                (p.waiter.as_str(), p.holder.as_str()),
                ("yield", "steal") | ("steal", "yield")
            )
        })
        .map(|p| p.count)
        .sum();
    rows.push(Row::at_least(
        name,
        "work lock_pair count yield <- steal + steal <- yield",
        1,
        planted,
    ));
    let quantity = "work top holder of waiter=steal";
    let top = pairs
        .iter()
        .filter(|p| p.class == class && p.waiter == "steal")
        .max_by_key(|p| (p.count, p.wait_cycles));
    match top {
        Some(top) => {
            let text = lock_pairs::pair_text(top);
            rows.push(Row::name(name, quantity, "steal <- yield", &text, text == "steal <- yield"));
        }
        None => rows.push(Row::missing(name, quantity, "no lock_pair line with waiter=steal")),
    }
    rows.extend(lock_pairs::handoff_rows(run, name, SharedLock::Heap));
    Ok(rows)
}
