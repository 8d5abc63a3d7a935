//! Planted CPU shares (`fid-cpu-shares`): one thread on one CPU spends
//! known fractions of its work phase, by the TSC, in three functions. The
//! work phase's user PC samples (`user-pc-symbols.log`) and its stack
//! samples (`flamegraph-work.folded`) must split the same way, each share
//! within [`table::SHARE_SDS`] binomial standard deviations of the cycle
//! share the program measured. The program leaves out of each function's
//! cycles the steps of its spin loop that took over half a millisecond
//! (`stolen`: the vCPU was not running, so no sample could be taken; see
//! userspace/smokes/src/bin/fid-cpu-shares.rs).

use anyhow::Result;
use capos_measure::catalogue::timer;
use capos_measure::Phase;

use super::artifacts::{folded, pc_section, weight_with_frame};
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-cpu-shares",
    smp: 1,
    // The default tick; the sample clock (997 Hz by default) gives
    // n ~ 2000 user samples in the 2 s work phase of a short run.
    tick_hz: 100,
    peers: 0,
    quick_args: "ms=2000 a=60 b=30 c=10",
    full_args: "ms=8000 a=60 b=30 c=10",
    check,
};

/// The planted functions and their keys in the planted line.
const FUNCS: [(&str, &str); 3] =
    [("a", "planted_share_a"), ("b", "planted_share_b"), ("c", "planted_share_c")];

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let spent: Vec<u64> = FUNCS.iter().map(|(k, _)| run.planted(k)).collect::<Result<_>>()?;
    let other = run.planted("other")?;
    let total = (spent.iter().sum::<u64>() + other).max(1) as f64;
    let mut rows = Vec::new();

    // Every sample interrupt samples the interrupted context once: the
    // work phase's user and kernel rows of user-pc-symbols.log add up to
    // its `timer.sample_interrupts` in measure.log (not the scheduler
    // ticks, `timer.interrupts`: another clock). A mark snapshots the
    // counters with the marking CPU's interrupts masked, but a sample on
    // another CPU can land inside the snapshot and be counted in one phase
    // and tagged with the other: one per other CPU at each of the phase's
    // two marks. (How many samples a second of work gets is not checked
    // here: under TCG on a loaded host, deadlines that fall due while
    // QEMU's vCPU thread is descheduled coalesce; the shares below do not
    // depend on it.)
    let text = run.read(&run.profile.pc_report.report)?;
    let pcs = pc_section(&text, "work", "user")?;
    let kernel = pc_section(&text, "work", "kernel").map(|s| s.samples).unwrap_or(0);
    let interrupts = run.report.counter(Phase::Work, timer::sample_interrupts);
    let others = f64::from(WORKLOAD.smp - 1);
    rows.push(Row::new(
        name,
        "work samples (user + kernel) = sample interrupts",
        interrupts as f64,
        (pcs.samples + kernel) as f64,
        2.0 * others,
        "exact; ±1 per other CPU per mark",
    ));
    for ((_, sym), cycles) in FUNCS.iter().zip(&spent) {
        let p = *cycles as f64 / total;
        let k = pcs.count(|s| s.ends_with(sym));
        rows.push(Row::share(name, format!("user-pc-symbols {sym}"), p, k, pcs.samples));
    }

    let stacks = folded(&run.read(&run.profile.work.folded)?)?;
    let user_marker = format!("{name}`");
    let n = weight_with_frame(&stacks, |f| f.starts_with(&user_marker));
    for ((_, sym), cycles) in FUNCS.iter().zip(&spent) {
        let p = *cycles as f64 / total;
        let k = weight_with_frame(&stacks, |f| f.starts_with(&user_marker) && f.ends_with(sym));
        rows.push(Row::share(name, format!("flamegraph-work {sym}"), p, k, n));
    }
    Ok(rows)
}
