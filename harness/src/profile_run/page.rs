//! `index.html` of a profile run: where the CPU time went (table and
//! chart), the flamegraphs, lock contention and its histograms, the
//! per-thread views and every file of the report set.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use capos_flamegraphs::{Artifact, IndexInput, RunProfile};

use crate::cpu_states::{cpu_state_bars, cpu_state_table};
use capos_measure::report::Report;
use capos_measure::Phase;

/// The CPU-state chart's file name.
pub const CPU_STATES_CHART: &str = "cpu-states.svg";
/// The lock-histogram chart's file name.
pub const LOCK_HIST_CHART: &str = crate::bench::guest_measure::LOCK_HIST_CHART;

/// The phase the page leads with: `work` when the program marked it, else
/// the whole run (`aggregate`).
pub fn scope(report: &Report) -> Phase {
    if report.phase_cycles.contains_key(&Phase::Work) {
        Phase::Work
    } else {
        Phase::Aggregate
    }
}

/// Writes `index.html` (and its charts) into `dir`; returns its path.
pub fn write(
    dir: &Path,
    name: &str,
    report: &Report,
    prof: &RunProfile,
    mut notes: Vec<String>,
) -> Result<PathBuf> {
    let scope = scope(report);
    let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).to_path_buf();
    let mut graphs = Vec::new();
    let bars = cpu_state_bars(report, scope);
    if !bars.is_empty() {
        let title = format!("CPU time by state per CPU, {} (ms)", scope.name());
        let chart = dir.join(CPU_STATES_CHART);
        match capos_flamegraphs::write_state_bars(&chart, &title, "ms of the CPU's time", &bars) {
            Ok(()) => graphs.push(Artifact::new(title, CPU_STATES_CHART)),
            Err(e) => notes.push(format!("CPU-state chart not drawn: {e}")),
        }
    }
    let hists = crate::bench::guest_measure::lock_hist_series(report, scope);
    if !hists.is_empty() {
        let title = format!("Lock wait and hold histograms, {}", scope.name());
        match capos_flamegraphs::write_lock_hists(&dir.join(LOCK_HIST_CHART), &title, &hists) {
            Ok(()) => graphs.push(Artifact::new(title, LOCK_HIST_CHART)),
            Err(e) => notes.push(format!("lock histogram chart not drawn: {e}")),
        }
    }
    if scope == Phase::Work {
        graphs.push(Artifact::new("work phase (user + kernel)", rel(&prof.work.svg)));
        graphs
            .push(Artifact::new("work phase by process and thread", rel(&prof.work_by_thread.svg)));
        graphs.push(Artifact::new("lock contention, work phase", rel(&prof.contention_work.svg)));
    } else {
        notes.push(
            "no `work` phase marked: the graphs cover the whole run, and the per-thread graphs \
             (work phase only) are empty; mark the phases with the measure capability \
             (docs/profiling.md)"
                .into(),
        );
    }
    graphs.push(Artifact::new("whole run (user + kernel)", rel(&prof.whole_run.svg)));
    graphs
        .push(Artifact::new("lock contention, whole run (wait cycles)", rel(&prof.contention.svg)));
    graphs.push(Artifact::new("off-CPU time, whole run (blocked cycles)", rel(&prof.offcpu.svg)));
    let file = |title: &str, p: &str| Artifact::new(title, p);
    let files = vec![
        file("measure.log", "measure.log"),
        file("measure.json", "measure.json"),
        file("measure check", crate::measure_tools::CHECK_LOG),
        file("user-pc-symbols.log", &rel(&prof.pc_report.report).to_string_lossy()),
        file("guest symbol map", &rel(&prof.pc_report.symbol_map).to_string_lossy()),
        file("timeline (Perfetto)", capos_flamegraphs::TIMELINE_FILE),
        file("samples (perf script text)", capos_flamegraphs::PERF_SCRIPT_FILE),
        file("who ran where", &rel(&prof.who_ran.path).to_string_lossy()),
        file("lock pairs", &rel(&prof.lock_pairs_file).to_string_lossy()),
        file("console (COM1)", "serial.log"),
    ];
    for line in report.limits(scope).lines() {
        notes.push(format!("measure: {line}"));
    }
    let input = IndexInput {
        title: format!("capOS profile: {name}"),
        notes,
        tables: cpu_state_table(report).into_iter().collect(),
        gates: Vec::new(),
        lock_sites: capos_flamegraphs::lock_sites(report, scope).into_iter().take(10).collect(),
        lock_pairs: (capos_flamegraphs::lock_pairs(report, scope).into_iter())
            .take(capos_flamegraphs::lock_pairs::TOP_PAIRS)
            .collect(),
        graphs,
        files,
        preformatted: Vec::new(),
        thread_views: vec![prof.thread_views(name, rel)],
    };
    let out = capos_flamegraphs::write_index(&input, dir).context("writing index.html")?;
    if !out.missing.is_empty() {
        eprintln!("harness: index.html: missing files {:?}", out.missing);
    }
    Ok(out.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_leads_with_work_when_marked() {
        let mut r = Report::default();
        assert_eq!(scope(&r), Phase::Aggregate);
        r.phase_cycles.insert(Phase::Work, 1);
        assert_eq!(scope(&r), Phase::Work);
    }
}
