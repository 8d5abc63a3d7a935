//! The measure pass of two runs, case by case: the `work` phase's length,
//! CPU time by state and lock waits, and every counter per phase. One
//! measured run per side, so each change is reported without an interval.

use std::path::Path;

use anyhow::{Context, Result};
use capos_measure::catalogue::{scheduler_lock, shared_kernel_lock, SharedLock, GROUPS};
use capos_measure::cpu_time::CpuState;
use capos_measure::report::Report;
use capos_measure::{Counter, Phase};

use super::stats;
use super::Line;

/// Where a case's measure log lies in a run directory.
pub fn log_path(run: &Path, case: &str) -> std::path::PathBuf {
    run.join(case).join("measure").join("measure.log")
}

/// Cases measured in both runs, sorted.
pub fn common_cases(a: &Path, b: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(a) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|c| log_path(a, c).is_file() && log_path(b, c).is_file())
        .collect();
    out.sort();
    out
}

fn load(run: &Path, case: &str) -> Result<Report> {
    let p = log_path(run, case);
    let text =
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    capos_measure::log_parse::parse_measure_log(&text)
        .map_err(|e| anyhow::anyhow!("{} does not parse: {e}", p.display()))
}

/// A counter as `measure.log` names it: `group.field`, with ` key=label`
/// for a dimensioned group.
pub fn counter_name(c: Counter) -> String {
    let Some(g) = GROUPS.get(c.group as usize) else { return format!("group{}", c.group) };
    let field = g.fields.get(c.field as usize).map_or("?", |f| f.name);
    match g.dim.label(c.dim as usize) {
        Some(l) => format!("{}.{field} {}={l}", g.name, g.dim.key),
        None => format!("{}.{field}", g.name),
    }
}

fn ms(r: &Report, cycles: u64) -> f64 {
    match r.begin.map_or(0, |b| b.tsc_khz) {
        0 => f64::NAN,
        khz => cycles as f64 / khz as f64,
    }
}

/// CPU time of `state` in `phase`, all CPUs, in ms.
fn state_ms(r: &Report, phase: Phase, state: CpuState) -> f64 {
    let cycles: u64 =
        (r.cpu_time.iter()).filter(|((p, _), _)| *p == phase).map(|(_, c)| c[state as usize]).sum();
    ms(r, cycles)
}

/// The measured and counter lines of `case` in runs `a` and `b`.
pub fn compare_case(a: &Path, b: &Path, case: &str) -> Result<(Vec<Line>, Vec<Line>)> {
    let (ra, rb) = (load(a, case)?, load(b, case)?);
    let line =
        |metric: String, change| Line { case: case.to_string(), metric, change, gated: false };
    let mut measured = Vec::new();
    let work = Phase::Work;
    if let (Some(&pa), Some(&pb)) = (ra.phase_cycles.get(&work), rb.phase_cycles.get(&work)) {
        measured.push(line("work phase (ms)".into(), stats::single(ms(&ra, pa), ms(&rb, pb))));
    }
    for s in CpuState::ALL {
        let (x, y) = (state_ms(&ra, work, s), state_ms(&rb, work, s));
        if x > 0.0 || y > 0.0 {
            measured.push(line(format!("work {} (CPU-ms)", s.name()), stats::single(x, y)));
        }
    }
    let wait = |r: &Report, c: Counter| ms(r, r.counter(work, c));
    let sched = Counter::from(scheduler_lock::wait_cycles);
    measured.push(line(
        "work scheduler_lock wait (ms)".into(),
        stats::single(wait(&ra, sched), wait(&rb, sched)),
    ));
    for &l in SharedLock::ALL.iter() {
        let c = shared_kernel_lock::wait_cycles.at(l);
        let (x, y) = (wait(&ra, c), wait(&rb, c));
        if x > 0.0 || y > 0.0 {
            measured.push(line(format!("work {} lock wait (ms)", l.label()), stats::single(x, y)));
        }
    }
    let mut counters = Vec::new();
    let keys: std::collections::BTreeSet<(Phase, Counter)> =
        ra.counters.keys().chain(rb.counters.keys()).copied().collect();
    for (p, c) in keys {
        let (x, y) = (ra.counter(p, c), rb.counter(p, c));
        if x > 0 || y > 0 {
            let metric = format!("{} {}", p.name(), counter_name(c));
            counters.push(line(metric, stats::single(x as f64, y as f64)));
        }
    }
    Ok((measured, counters))
}

/// The `n` counter lines of the `work` phase (else any phase) that moved
/// most, relatively, among those with at least 100 on a side (smaller
/// counts move by tens of percent from noise alone); sums only: an extreme
/// (`*_min`, `*_max`) moves by large factors with one event.
pub fn top_counter_changes(lines: &[Line], n: usize) -> Vec<Line> {
    let extreme = |l: &Line| l.metric.contains("_min") || l.metric.contains("_max");
    let big = |l: &&Line| l.change.a.max(l.change.b) >= 100.0 && !extreme(l);
    let mut v: Vec<&Line> =
        lines.iter().filter(big).filter(|l| l.metric.starts_with("work ")).collect();
    if v.is_empty() {
        v = lines.iter().filter(big).collect();
    }
    let size = |l: &Line| if l.change.rel.is_nan() { f64::INFINITY } else { l.change.rel.abs() };
    v.sort_by(|x, y| size(y).total_cmp(&size(x)));
    v.into_iter().take(n).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::catalogue::timer;
    use capos_measure::report::Begin;

    fn write(dir: &Path, case: &str, r: &Report) {
        let d = dir.join(case).join("measure");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("measure.log"), r.to_measure_log()).unwrap();
    }

    fn report(spin: u64, ticks: u64) -> Report {
        let mut r = Report {
            begin: Some(Begin { cpus: 2, tsc_khz: 1_000, catalogue: 0 }),
            ..Report::default()
        };
        r.checkpoints.insert(Phase::Boot, 0);
        r.checkpoints.insert(Phase::Work, 100);
        r.phase_cycles.insert(Phase::Work, 10_000);
        r.cpu_time.insert((Phase::Work, 0), [8_000, 1_000, spin, 0, 0, 0, 0]);
        r.cpu_time.insert((Phase::Work, 1), [9_000, 1_000, 0, 0, 0, 0, 0]);
        r.set_counter(Phase::Work, timer::interrupts.into(), ticks);
        r.set_counter(Phase::Work, scheduler_lock::wait_cycles.into(), spin);
        r
    }

    #[test]
    fn cases_measured_on_both_sides_are_compared() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(a.path(), "smp2-w2", &report(1_000, 200));
        write(b.path(), "smp2-w2", &report(3_000, 200));
        write(a.path(), "smp1-w1", &report(0, 100));
        assert_eq!(common_cases(a.path(), b.path()), ["smp2-w2"]);
        let (m, c) = compare_case(a.path(), b.path(), "smp2-w2").unwrap();
        let get = |metric: &str| m.iter().find(|l| l.metric == metric).unwrap().change.clone();
        let spin = get("work lock_spin (CPU-ms)");
        assert_eq!((spin.a, spin.b), (1.0, 3.0));
        assert!((spin.rel - 2.0).abs() < 1e-12);
        assert_eq!(get("work user (CPU-ms)").a, 17.0, "summed over CPUs");
        assert_eq!(get("work scheduler_lock wait (ms)").b, 3.0);
        let ticks = c.iter().find(|l| l.metric == "work timer.interrupts").unwrap();
        assert_eq!((ticks.change.a, ticks.change.b), (200.0, 200.0));
        let top = top_counter_changes(&c, 5);
        assert_eq!(top[0].metric, "work scheduler_lock.wait_cycles", "{top:?}");
        assert!(compare_case(a.path(), b.path(), "smp1-w1").is_err(), "B has no log");
    }
}
