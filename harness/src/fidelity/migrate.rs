//! Planted migrations (`fid-migrate`, 2 CPUs): two never-blocking wakers
//! keep both CPUs busy and take turns unparking a mover thread, which the
//! placement rule then queues on the waker's own CPU; the mover counts the
//! rounds in which it was really woken by the other waker than last time
//! (userspace/smokes/src/bin/fid-migrate.rs). The wakers themselves never
//! move: they only yield or are preempted, and a requeued thread whose CPU
//! is busy, with the other CPU busy too, goes back to its own CPU.
//!
//! So `thread_placement.migrations` in the work phase, summed over CPUs,
//! must equal the mover's count, exactly. The rounds must also really wake
//! the mover (else nothing was planted): a round whose unpark comes before
//! the mover is back in `park` moves nothing (and the mover does not count
//! it); up to a tenth of the rounds may do that (none did in the runs in
//! docs/measure.md).

use anyhow::Result;
use capos_measure::catalogue::thread_placement;
use capos_measure::Phase;

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-migrate",
    smp: 2,
    tick_hz: 100,
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
    Ok(vec![
        Row::new(
            name,
            "rounds that really woke the mover",
            rounds as f64,
            wakes as f64,
            (rounds / 10) as f64,
            "a tenth may find it not yet parked",
        ),
        Row::exact(name, "work thread_placement.migrations (all CPUs)", moved, migrations),
    ])
}
