//! Per-thread attribution, checked on `fid-oversub`'s two named spinners:
//! the report names each thread as it named itself (`SET_THREAD_NAME`), a
//! thread's share of the work phase's samples follows the CPU time it
//! planted, and its time-ordered samples (the timeline's flame chart) are
//! exactly its stack samples in the tables.

use capos_measure::phase::Phase;
use capos_measure::record::Mode;
use capos_measure::report::Report;

use super::table::Row;

/// The thread ref a thread named `name` has in `r`, if exactly one has it.
fn named(r: &Report, name: &str) -> Option<u64> {
    let mut it = r.thread_names.values().filter(|n| n.name == name);
    let first = it.next()?;
    it.next().is_none().then_some(first.thread)
}

/// Stack samples of thread `tid` in `phase` (user mode only with `user`).
fn stack_samples(r: &Report, phase: Phase, tid: u64, user: bool) -> u64 {
    r.stack_samples
        .iter()
        .filter(|((p, t, _), _)| *p == phase && t.tid == tid && (!user || t.family() == Mode::User))
        .map(|(_, n)| *n)
        .sum()
}

/// Rows for threads `names` whose planted run times are `ran` (cycles).
pub fn rows(workload: &str, r: &Report, names: &[&str], ran: &[u64]) -> Vec<Row> {
    let mut rows = Vec::new();
    let tids: Vec<Option<u64>> = names.iter().map(|n| named(r, n)).collect();
    for (name, tid) in names.iter().zip(&tids) {
        rows.push(Row::exact(
            workload,
            format!("thread_name {name}: reported once"),
            1,
            tid.is_some() as u64,
        ));
    }
    let tids: Vec<u64> = tids.into_iter().flatten().collect();
    if tids.len() != names.len() {
        return rows;
    }
    let work: Vec<u64> = tids.iter().map(|t| stack_samples(r, Phase::Work, *t, true)).collect();
    let (n, total) = (work.iter().sum::<u64>(), ran.iter().sum::<u64>().max(1) as f64);
    for ((name, k), planted) in names.iter().zip(&work).zip(ran) {
        let p = *planted as f64 / total;
        rows.push(Row::share(
            workload,
            format!("{name}: share of the named threads' work samples"),
            p,
            *k,
            n,
        ));
    }
    for (name, tid) in names.iter().zip(&tids) {
        let timed = (r.timed_samples.iter())
            .filter(|s| r.stack_defs.get(&s.stack).is_some_and(|(t, _)| t.tid == *tid))
            .count() as u64;
        rows.push(Row::exact(
            workload,
            format!("{name}: time-ordered samples = its stack samples (whole run)"),
            stack_samples(r, Phase::Aggregate, *tid, false),
            timed,
        ));
    }
    rows
}
