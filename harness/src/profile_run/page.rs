//! `index.html` of a profile run: where the CPU time went (table and
//! chart), the flamegraphs, lock contention and its histograms, the
//! per-thread views and every file of the report set.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use capos_flamegraphs::{Artifact, IndexInput, LossBar, RunProfile, Table};
use capos_measure::cpu_time::CpuState;
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

/// Cycles to milliseconds at the report's TSC rate (0 when unknown).
fn ms(report: &Report, cycles: u64) -> f64 {
    match report.begin.map_or(0, |b| b.tsc_khz) {
        0 => 0.0,
        khz => cycles as f64 / khz as f64,
    }
}

/// Each phase's length and CPU time by state (all CPUs), in CPU-ms and
/// share of the phase's CPU time.
pub fn cpu_state_table(report: &Report) -> Option<Table> {
    let mut md = String::from("| phase | length ms | CPU-ms |");
    for s in CpuState::ALL {
        md.push_str(&format!(" {} |", s.name()));
    }
    md.push_str(&format!("\n|---|---|---|{}", "---|".repeat(CpuState::ALL.len())));
    let mut rows = 0;
    for (&phase, &cycles) in &report.phase_cycles {
        let mut states = [0u64; capos_measure::cpu_time::STATES];
        for ((p, _), c) in &report.cpu_time {
            if *p == phase {
                for (sum, v) in states.iter_mut().zip(c) {
                    *sum += v;
                }
            }
        }
        let total: u64 = states.iter().sum();
        if total == 0 {
            continue;
        }
        md.push_str(&format!(
            "\n| {} | {:.1} | {:.1} |",
            phase.name(),
            ms(report, cycles),
            ms(report, total)
        ));
        for v in states {
            md.push_str(&format!(
                " {:.1} ({:.1}%) |",
                ms(report, v),
                v as f64 * 100.0 / total as f64
            ));
        }
        rows += 1;
    }
    let caption = "Where the CPU time went: each phase's CPU time by state, all CPUs \
                   (CPU-ms and share)";
    (rows > 0).then(|| Table::from_markdown(caption, &md)).flatten()
}

/// One stacked bar per CPU: its time by state in `phase`, in ms.
pub fn cpu_state_bars(report: &Report, phase: Phase) -> Vec<LossBar> {
    (report.cpu_time.iter())
        .filter(|((p, _), c)| *p == phase && c.iter().any(|v| *v > 0))
        .map(|((_, cpu), c)| LossBar {
            label: format!("cpu {cpu}"),
            segments: (CpuState::ALL.iter().zip(c))
                .map(|(s, v)| (s.name().to_string(), ms(report, *v)))
                .collect(),
        })
        .collect()
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
        match capos_flamegraphs::write_loss_bars(&dir.join(CPU_STATES_CHART), &title, &bars) {
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
    use capos_measure::report::Begin;

    fn report() -> Report {
        let mut r = Report {
            begin: Some(Begin { cpus: 2, tsc_khz: 1_000, catalogue: 0 }),
            ..Report::default()
        };
        r.phase_cycles.insert(Phase::Aggregate, 10_000);
        r.cpu_time.insert((Phase::Aggregate, 0), [6_000, 2_000, 1_000, 0, 0, 1_000, 0]);
        r.cpu_time.insert((Phase::Aggregate, 1), [0, 0, 0, 0, 0, 10_000, 0]);
        r
    }

    #[test]
    fn cpu_states_are_summed_over_cpus_with_their_shares() {
        let t = cpu_state_table(&report()).unwrap();
        assert_eq!(t.rows.len(), 1);
        let row = &t.rows[0];
        assert_eq!(row[0], "aggregate");
        assert_eq!(row[1], "10.0", "10 000 cycles at 1 MHz");
        assert_eq!(row[2], "20.0", "two CPUs");
        assert_eq!(row[3], "6.0 (30.0%)", "user");
        assert_eq!(row[5], "1.0 (5.0%)", "lock_spin");
        assert_eq!(row[8], "11.0 (55.0%)", "idle");
        assert!(cpu_state_table(&Report::default()).is_none());
    }

    #[test]
    fn one_bar_per_cpu_in_the_scope() {
        let r = report();
        assert_eq!(scope(&r), Phase::Aggregate);
        let bars = cpu_state_bars(&r, Phase::Aggregate);
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[1].label, "cpu 1");
        assert_eq!(bars[1].segments[5], ("idle".to_string(), 10.0));
        assert!(cpu_state_bars(&r, Phase::Work).is_empty());
    }
}
