//! Planted migrations (`fid-migrate`, 2 CPUs): two never-blocking wakers
//! keep both CPUs busy and take turns unparking a mover thread, which the
//! placement rule then queues on the waker's own CPU; the mover counts the
//! rounds in which it was really woken by the other waker than last time
//! (userspace/smokes/src/bin/fid-migrate.rs). The wakers themselves never
//! move: they only yield or are preempted, and a requeued thread whose CPU
//! is busy, with the other CPU busy too, goes back to its own CPU.
//!
//! So `thread_placement.migrations` in the work phase, summed over CPUs,
//! equals the mover's count, but for two races the mover cannot see: a
//! round whose unpark comes before the mover is back in `park` wakes
//! nothing (the mover notices: no real wake-up), and a busy CPU that finds
//! its own queue empty at a yield or a slow-path tick steals from the other
//! CPU's queue (`scheduler.candidates_stolen`). Each such event can move
//! the mover once without its knowing and once back: the tolerance is two
//! migrations per round without a real wake-up and per steal in the work
//! phase (0 in most runs: then the count is exact). One such run is in
//! docs/measure.md. The rounds must also really wake the mover (else
//! nothing was planted): up to a tenth of them may find it not yet parked.

use anyhow::Result;
use capos_measure::catalogue::{scheduler, thread_placement};
use capos_measure::Phase;

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-migrate",
    smp: 2,
    tick_hz: 100,
    peers: 0,
    quick_args: "rounds=20",
    full_args: "rounds=100",
    check,
};

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let (rounds, wakes, moved) =
        (run.planted("rounds")?, run.planted("wakes")?, run.planted("migrations")?);
    let cpus = run.report.begin.map_or(0, |b| b.cpus as usize);
    let migrations: u64 = (0..cpus)
        .map(|i| run.report.counter(Phase::Work, thread_placement::migrations.at(i)))
        .sum();
    let stolen = run.report.counter(Phase::Work, scheduler::candidates_stolen);
    let races = rounds.saturating_sub(wakes) + stolen;
    Ok(vec![
        Row::new(
            name,
            "rounds that really woke the mover",
            rounds as f64,
            wakes as f64,
            (rounds / 10) as f64,
            "a tenth may find it not yet parked",
        ),
        Row::new(
            name,
            "work thread_placement.migrations (all CPUs)",
            moved as f64,
            migrations as f64,
            2.0 * races as f64,
            format!("2 per missed wake-up or steal ({races})"),
        ),
    ])
}
