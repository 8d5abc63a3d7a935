//! The guest-measurement pass of `bench-capos` (`..._GUEST_MEASURE=1`).
//!
//! After the timed runs (which always use the normal kernel, so measurement
//! never taints them), each case boots once more with the `measure` kernel
//! into `<case>/measure/`. Its COM2 capture becomes `measure.log` and
//! `measure.json`; the symbolizer and flamegraph tools then add
//! `user-pc-symbols.log`, `guest-symbol-map.txt`, flamegraphs (work phase,
//! per process and per thread, whole run, lock contention),
//! `who-ran-where.txt`, `timeline.json` (Perfetto), and at the top
//! of the artifact directory a differential flamegraph (1 worker vs the
//! most workers) and `index.html`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_flamegraphs::{Artifact, GateResult, IndexInput, LossBar, Scope, Table, ThreadViews};
use capos_measure::check::CheckResult;
use capos_measure::report::Report;
use capos_measure::Phase;
use capos_symbolize::{ElfPaths, ReportInput};

use super::capos::CaposExec;
use super::results::{self, Row};
use super::runner::{Case, Executor};
use super::Benchmark;
use crate::build::{CargoBuild, KernelFlavor};

/// What the pass produced for one case.
pub struct CaseMeasure {
    pub case: String,
    /// Workers of the case (the scaling loss compares against 1).
    pub workers: u32,
    pub dir: PathBuf,
    pub report: Report,
    pub pc_report: PathBuf,
    pub symbol_map: PathBuf,
    pub graphs: Vec<Artifact>,
    /// Per-process and per-thread graphs and who ran where, paths relative
    /// to the artifact directory.
    pub thread_views: ThreadViews,
    /// Work-phase cycles of the measured run (for the overhead comparison).
    pub work_cycles: Option<u64>,
    /// The counter-identity check of its measure.log.
    pub check: CheckResult,
}

/// Runs the pass for every case, the measure kernel sampling at
/// `sample_hz`; fills the symbol columns of `rows`.
pub fn run(
    root: &Path,
    timed: &CaposExec,
    sample_hz: u32,
    cases: &[Case],
    art: &Path,
    rows: &mut [Row],
    binaries: &[&str],
) -> Result<(Vec<CaseMeasure>, Option<Artifact>)> {
    let kernel = CargoBuild::kernel(KernelFlavor::Measure).run(root)?;
    let word = crate::measure_tools::sample_hz_word(sample_hz);
    let mut exec = timed.with_kernel(kernel.clone(), &word);
    let prog_dir = timed.program_dir().context("no user programs in the images")?;
    let mut elfs = ElfPaths::new().with_kernel(kernel.clone());
    for b in binaries {
        elfs = elfs.with_program(*b, prog_dir.join(b));
    }
    let mut out = Vec::new();
    for case in cases {
        // The case id carries the scheduler policy (`smp4-w4-global`).
        let label = exec.case_label(case);
        let dir = art.join(&label).join("measure");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let cap = exec.run(case, &dir).with_context(|| format!("measure pass of case {label}"))?;
        let (report, stats) = crate::measure_log::report_from_com2(&kernel, &dir.join("com2.bin"))
            .with_context(|| format!("measure pass of case {label}"))?;
        if stats.malformed > 0 {
            bail!("measure pass of case {label}: {} malformed COM2 frames", stats.malformed);
        }
        let log = crate::measure_log::write_measure_files(&report, &dir)?;
        crate::measure_log::validate_measure_log(
            &std::fs::read_to_string(&log)?,
            crate::measure_log::MARKED_PHASES,
        )
        .with_context(|| format!("measure pass of case {label}"))?;
        crate::measure_log::check_snapshot(&report, &kernel)
            .with_context(|| format!("measure pass of case {label}"))?;
        let check = crate::measure_tools::check_and_record(&log, case.cpus, timed.accel)
            .with_context(|| format!("measure check of case {label}"))?;
        let input = ReportInput::from_report(report.clone());
        let prof = capos_flamegraphs::write_run_profile(&input, &elfs, &dir)
            .with_context(|| format!("profile of case {label}"))?;
        let work_cycles = work_of(case.workers, &cap.lines);
        for r in rows.iter_mut().filter(|r| r.os == "capos" && r.case == label) {
            r.user_pc_symbol_report = prof.pc_report.report.display().to_string();
            r.guest_symbol_map = prof.pc_report.symbol_map.display().to_string();
        }
        let rel = |p: &Path| p.strip_prefix(art).unwrap_or(p).to_path_buf();
        let graphs = vec![
            Artifact::new(format!("{label}: work phase (user + kernel)"), rel(&prof.work.svg)),
            Artifact::new(format!("{label}: whole run"), rel(&prof.whole_run.svg)),
            Artifact::new(
                format!("{label}: work phase by process and thread"),
                rel(&prof.work_by_thread.svg),
            ),
            Artifact::new(
                format!("{label}: lock contention, whole run (wait cycles)"),
                rel(&prof.contention.svg),
            ),
        ];
        let thread_views = prof.thread_views(&case.label, rel);
        eprintln!("harness: measure: {} ({} frames)", log.display(), stats.frames);
        out.push(CaseMeasure {
            case: label,
            workers: case.workers,
            dir,
            report,
            pc_report: prof.pc_report.report,
            symbol_map: prof.pc_report.symbol_map,
            graphs,
            thread_views,
            work_cycles,
            check,
        });
    }
    results::write(&art.join("results.csv"), rows)?;
    let name = format!("differential-work{}", timed.sched_policy.case_suffix());
    let diff = differential(art, &out, &elfs, &name);
    Ok((out, diff))
}

/// The differential flamegraph of the work phase: first case -> last case
/// (of one scheduler policy), written as `name`.
fn differential(
    art: &Path,
    measured: &[CaseMeasure],
    elfs: &ElfPaths,
    name: &str,
) -> Option<Artifact> {
    let (first, last) = (measured.first()?, measured.last()?);
    if measured.len() < 2 {
        return None;
    }
    let labels = (first.case.as_str(), last.case.as_str());
    match capos_flamegraphs::write_differential(
        &first.report,
        &last.report,
        elfs,
        Scope::Phase(Phase::Work),
        labels,
        art,
        name,
    ) {
        Ok(g) => Some(Artifact::new(
            format!("differential, work phase: {} -> {}", first.case, last.case),
            g.svg.strip_prefix(art).unwrap_or(&g.svg).to_path_buf(),
        )),
        Err(e) => {
            eprintln!("harness: differential flamegraph: {e}");
            None
        }
    }
}

/// Work-window cycles of the run's verified result line (thread-scale and
/// ipc-scale `work=`, process-scale `elapsed=`), parsed by the one
/// result-line parser.
fn work_of(workers: u32, lines: &[String]) -> Option<u64> {
    [Benchmark::ThreadScale, Benchmark::ProcessScale, Benchmark::IpcScale]
        .into_iter()
        .find_map(|b| crate::bench::runner::parse_row(b, workers, lines).ok())
        .map(|r| r.work)
}

/// Median timed work per capOS case, from the rows.
fn timed_medians(rows: &[Row]) -> BTreeMap<String, u64> {
    let mut by: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.os == "capos" && r.verified) {
        by.entry(r.case.clone()).or_default().push(r.work);
    }
    by.into_iter()
        .filter_map(|(k, mut v)| {
            v.sort_unstable();
            v.get(v.len() / 2).map(|m| (k, *m))
        })
        .collect()
}

/// Notes comparing the measured run's work window with the timed median:
/// one run against a median, so no overhead figure; used only when the
/// overhead pass (`--overhead-runs`, [`super::overhead`]) is off.
pub fn overhead_notes(rows: &[Row], measured: &[CaseMeasure]) -> Vec<String> {
    let med = timed_medians(rows);
    measured
        .iter()
        .filter_map(|m| {
            let (w, t) = (m.work_cycles?, *med.get(&m.case)?);
            Some(format!(
                "measure run {}: work {} vs timed median {} cycles ({:+.2}%; one run, not an \
                 overhead figure: --overhead-runs N measures it)",
                m.case,
                w,
                t,
                (w as f64 / t as f64 - 1.0) * 100.0
            ))
        })
        .collect()
}

/// One summary line per case: the verdict of `measure check` on its
/// measure.log, and its failed rows (the whole table is in
/// `<case>/measure/measure-check.log`).
pub fn check_notes(measured: &[CaseMeasure]) -> Vec<String> {
    let mut notes = Vec::new();
    for m in measured {
        notes.push(format!("{} {}", m.case, m.check.verdict_line()));
        for row in m.check.failures() {
            notes.push(format!("{} measure check failed: {row:#}", m.case));
        }
    }
    notes
}

/// The scaling-loss lines for summary.log, the table for index.html and
/// one stacked bar per case for its chart: every measured case with more
/// than one worker against the 1-worker case (`capos_measure::scaling`).
/// Empty without a 1-worker case.
pub fn scaling_loss(
    bench: Benchmark,
    measured: &[CaseMeasure],
) -> (Vec<String>, Vec<Table>, Vec<LossBar>) {
    let Some(base) = measured.iter().find(|m| m.workers == 1) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let mut bars = Vec::new();
    let mut lines = vec![format!(
        "scaling loss (work phase, measure pass, against {}): lost CPU time = CPUs x work time \
         - the 1-worker case's, split by CPU state; unexplained = user time growth",
        base.case
    )];
    let mut md = String::from(capos_measure::scaling::ScalingLoss::MARKDOWN_HEADER);
    for m in measured.iter().filter(|m| m.workers > 1) {
        let k = bench.work_factor(m.workers);
        match capos_measure::scaling::scaling_loss(&base.report, &m.report, m.workers, k) {
            Ok(l) => {
                lines.extend(l.detail_lines(&m.case));
                let (one, n) = ([base.dir.clone()], [m.dir.clone()]);
                if let Some((cause, path, how)) =
                    crate::call_paths::behind_first_cause(&l, &one, &n)
                {
                    lines.push(format!("  call path behind {cause} ({how}): {path}"));
                }
                bars.push(LossBar {
                    label: m.case.clone(),
                    segments: l.causes.iter().map(|c| (c.name.clone(), l.ms(c.cycles))).collect(),
                });
                md.push('\n');
                md.push_str(&l.markdown_row(&m.case));
            }
            Err(e) => lines.push(format!("{}: scaling loss not computed: {e}", m.case)),
        }
    }
    let title = format!(
        "Scaling loss against {}: where the lost CPU time went (work phase, measure pass; \
         CPU-ms and share of the loss)",
        base.case
    );
    (lines, Table::from_markdown(title, &md).into_iter().collect(), bars)
}

/// Name of the speedup chart in the artifact directory.
pub const SPEEDUP_CHART: &str = "speedup.svg";

/// Each system's line of median `work` speedups against workers (1x at
/// one worker), as the summary computes them, labelled `<prefix><os>
/// (<accel>)<policy>`; systems with fewer than two points are left out.
pub fn speedup_series(rows: &[Row], prefix: &str) -> Vec<capos_flamegraphs::SpeedupSeries> {
    use super::stats;
    let st = stats::case_stats(rows);
    let mut series = Vec::new();
    for sys in stats::systems(&st) {
        let mut workers: Vec<u32> =
            (st.iter()).filter(|s| stats::System::of(s) == sys).map(|s| s.workers).collect();
        workers.sort_unstable();
        workers.dedup();
        let points: Vec<(u32, f64)> = (workers.into_iter())
            .filter_map(|w| match w {
                1 => stats::speedup(&st, &sys, 1).map(|_| (1, 1.0)),
                _ => stats::speedup(&st, &sys, w).map(|s| (w, s.work)),
            })
            .collect();
        if points.len() > 1 {
            let label = format!("{prefix}{} ({}){}", sys.os, sys.accel, sys.policy_field());
            series.push(capos_flamegraphs::SpeedupSeries { label, points });
        }
    }
    series
}

/// Writes the speedup-against-workers chart of `rows` (the median `work`
/// speedup of every system, capOS per policy and the Linux guest, as the
/// summary computes it) into `art`; its graph entry for index.html, or
/// `None` (with a note on stderr) when no system has a 1-worker case.
pub fn speedup_chart(art: &Path, bench: &str, rows: &[Row]) -> Option<Artifact> {
    let series = speedup_series(rows, "");
    if series.is_empty() {
        return None;
    }
    let title = format!("{bench}: median work speedup against workers");
    match capos_flamegraphs::write_speedup(&art.join(SPEEDUP_CHART), &title, &series) {
        Ok(()) => Some(Artifact::new(title, SPEEDUP_CHART)),
        Err(e) => {
            eprintln!("harness: speedup chart: {e}");
            None
        }
    }
}

/// Name of the lock-histogram chart in the artifact directory.
pub const LOCK_HIST_CHART: &str = "lock-histograms.svg";

/// The wait and hold histograms of the scheduler lock and of the shared
/// kernel lock that waited longest, in `phase` of `report`.
pub fn lock_hist_series(report: &Report, phase: Phase) -> Vec<capos_flamegraphs::HistSeries> {
    use capos_measure::catalogue::{scheduler_lock as sl, shared_kernel_lock as sk, SharedLock};
    use capos_measure::Hist;
    let worst = SharedLock::ALL
        .iter()
        .copied()
        .max_by_key(|l| report.counter(phase, sk::wait_cycles.at(*l)))
        .filter(|l| report.counter(phase, sk::acquisitions.at(*l)) > 0);
    let mut hists: Vec<(String, Hist)> = vec![
        ("scheduler_lock wait".into(), sl::wait.into()),
        ("scheduler_lock hold".into(), sl::hold.into()),
    ];
    if let Some(l) = worst {
        hists.push((format!("{} wait", l.label()), sk::wait.at(l)));
        hists.push((format!("{} hold", l.label()), sk::hold.at(l)));
    }
    hists
        .into_iter()
        .filter_map(|(label, h)| {
            let buckets: Vec<(u8, u64)> = (report.hists.get(&(phase, h)))?
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(b, n)| (*b, *n))
                .collect();
            (!buckets.is_empty()).then_some(capos_flamegraphs::HistSeries { label, buckets })
        })
        .collect()
}

/// Writes the lock-histogram chart of the measured case with the most
/// workers into `art`; its graph entry, or `None` when it has no lock
/// histogram in the work phase.
pub fn lock_hist_chart(art: &Path, measured: &[CaseMeasure]) -> Option<Artifact> {
    let m = measured.iter().max_by_key(|m| m.workers)?;
    let series = lock_hist_series(&m.report, Phase::Work);
    if series.is_empty() {
        return None;
    }
    let title = format!("{}: lock wait and hold histograms (work phase)", m.case);
    match capos_flamegraphs::write_lock_hists(&art.join(LOCK_HIST_CHART), &title, &series) {
        Ok(()) => Some(Artifact::new(title, LOCK_HIST_CHART)),
        Err(e) => {
            eprintln!("harness: lock histogram chart: {e}");
            None
        }
    }
}

/// Name of the per-case CPU-state chart in the artifact directory.
pub const CPU_STATES_CHART: &str = "cpu-states.svg";

/// Writes the chart of where each measured case's CPU time went in its
/// work phase (one stacked bar per case, CPU-ms by state, all CPUs) into
/// `art`; its graph entry, or `None` when no case has CPU-state time.
pub fn cpu_states_chart(art: &Path, measured: &[CaseMeasure]) -> Option<Artifact> {
    let bars: Vec<LossBar> = (measured.iter())
        .filter_map(|m| crate::cpu_states::case_bar(&m.case, &m.report, Phase::Work))
        .collect();
    if bars.is_empty() {
        return None;
    }
    let title = "Where the CPU time went per case: work phase, all CPUs, by state (CPU-ms)";
    let chart = art.join(CPU_STATES_CHART);
    match capos_flamegraphs::write_state_bars(&chart, title, "CPU-ms (all CPUs)", &bars) {
        Ok(()) => Some(Artifact::new(title, CPU_STATES_CHART)),
        Err(e) => {
            eprintln!("harness: CPU-state chart: {e}");
            None
        }
    }
}

/// Name of the scaling-loss chart in the artifact directory.
pub const LOSS_CHART: &str = "scaling-loss.svg";

/// Writes the stacked-bar chart of `bars` into `art`; its graph entry for
/// index.html, or `None` (with a note on stderr) when there is nothing to
/// draw or it cannot be written.
pub fn loss_chart(art: &Path, bars: &[LossBar]) -> Option<Artifact> {
    if bars.is_empty() {
        return None;
    }
    let title = "Where the lost CPU time went, per case (stacked by cause)";
    match capos_flamegraphs::write_loss_bars(&art.join(LOSS_CHART), title, bars) {
        Ok(()) => Some(Artifact::new(title, LOSS_CHART)),
        Err(e) => {
            eprintln!("harness: scaling-loss chart: {e}");
            None
        }
    }
}

/// `index.html` of the artifact directory.
pub fn write_index(
    art: &Path,
    bench: &str,
    measured: &[CaseMeasure],
    diffs: Vec<Artifact>,
    notes: &[String],
    extra_tables: Vec<Table>,
) -> Result<PathBuf> {
    let mut graphs: Vec<Artifact> = diffs;
    let thread_views = measured.iter().map(|m| m.thread_views.clone()).collect();
    let mut files = vec![
        Artifact::new("results.csv", "results.csv"),
        Artifact::new("summary.log", "summary.log"),
    ];
    if art.join(super::overhead::CSV_FILE).is_file() {
        files.push(Artifact::new(super::overhead::CSV_FILE, super::overhead::CSV_FILE));
    }
    for m in measured {
        graphs.extend(m.graphs.iter().cloned());
        let rel = |p: &Path| p.strip_prefix(art).unwrap_or(p).to_path_buf();
        files.push(Artifact::new(
            format!("{} measure.log", m.case),
            rel(&m.dir.join("measure.log")),
        ));
        files.push(Artifact::new(format!("{} user-pc-symbols.log", m.case), rel(&m.pc_report)));
        files.push(Artifact::new(format!("{} guest symbol map", m.case), rel(&m.symbol_map)));
        files.push(Artifact::new(
            format!("{} timeline (Perfetto)", m.case),
            rel(&m.dir.join(capos_flamegraphs::TIMELINE_FILE)),
        ));
    }
    let md = std::fs::read_to_string(art.join("speedup-table.md")).unwrap_or_default();
    let summary = std::fs::read_to_string(art.join("summary.log")).unwrap_or_default();
    let gates: Vec<GateResult> = summary
        .lines()
        .filter(|l| l.contains("gate"))
        .map(|l| GateResult {
            name: l.split(':').next().unwrap_or(l).trim().to_string(),
            status: if l.contains("PASS") || l.contains("pass") {
                "pass"
            } else if l.contains("not collected") {
                "not collected"
            } else if l.contains("FAIL") || l.contains("fail") {
                "fail"
            } else {
                "info"
            }
            .into(),
            detail: l.trim().to_string(),
        })
        .collect();
    let lock_sites = measured
        .last()
        .map(|m| capos_flamegraphs::lock_sites(&m.report, Phase::Work))
        .unwrap_or_default();
    let lock_pairs = measured
        .last()
        .map(|m| capos_flamegraphs::lock_pairs(&m.report, Phase::Work))
        .unwrap_or_default();
    // The instrument's limits for every measured case (losses, accelerator
    // and the TCG caveat, probe cost, hold correction).
    let mut notes = notes.to_vec();
    for m in measured {
        for line in m.report.limits(Phase::Aggregate).lines() {
            notes.push(format!("{} measure: {line}", m.case));
        }
    }
    let input = IndexInput {
        title: format!("capOS {bench}"),
        notes,
        tables: Table::from_markdown("Speedups (capOS and Linux guest, same run)", &md)
            .into_iter()
            .chain(extra_tables)
            .collect(),
        gates,
        lock_sites: lock_sites.into_iter().take(10).collect(),
        lock_pairs: lock_pairs.into_iter().take(capos_flamegraphs::lock_pairs::TOP_PAIRS).collect(),
        graphs,
        files,
        preformatted: vec![("summary.log".into(), summary)],
        thread_views,
    };
    let out = capos_flamegraphs::write_index(&input, art).context("writing index.html")?;
    if !out.missing.is_empty() {
        eprintln!("harness: index.html: missing files {:?}", out.missing);
    }
    Ok(out.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_notes_give_each_case_its_verdict_and_failed_rows() {
        use capos_measure::check::{Row, Verdict};
        let row = |identity: &'static str, measured: u64, verdict: Verdict| Row {
            identity,
            phase: Some(Phase::Work),
            subject: "timer.interrupts".into(),
            expected: 10,
            measured,
            below: 1,
            above: 1,
            verdict,
        };
        let case = |name: &str, rows: Vec<Row>| CaseMeasure {
            case: name.into(),
            workers: 1,
            dir: PathBuf::new(),
            report: Report::default(),
            pc_report: PathBuf::new(),
            symbol_map: PathBuf::new(),
            graphs: Vec::new(),
            thread_views: ThreadViews::default(),
            work_cycles: None,
            check: CheckResult { rows },
        };
        let notes = check_notes(&[
            case("smp1-w1", vec![row("timer_rate", 10, Verdict::Pass)]),
            case(
                "smp2-w2",
                vec![row("timer_rate", 10, Verdict::Pass), row("timer_split", 20, Verdict::Fail)],
            ),
        ]);
        assert_eq!(
            notes,
            [
                "smp1-w1 measure check: ok (1 identities)",
                "smp2-w2 measure check: FAILED (1 of 2)",
                "smp2-w2 measure check failed: timer_split work timer.interrupts: expected=10 measured=20 tolerance=±1 FAILED",
            ]
        );
    }

    #[test]
    fn scaling_loss_compares_every_case_with_the_one_worker_case() {
        use capos_measure::report::Begin;
        let measured = |name: &str, workers: u32, work: u64, per_cpu: &[[u64; 7]]| {
            let mut report = Report {
                begin: Some(Begin { cpus: per_cpu.len() as u8, tsc_khz: 1_000, catalogue: 0 }),
                ..Report::default()
            };
            report.phase_cycles.insert(Phase::Work, work);
            for (cpu, c) in per_cpu.iter().enumerate() {
                report.cpu_time.insert((Phase::Work, cpu as u8), *c);
            }
            CaseMeasure {
                case: name.into(),
                workers,
                dir: PathBuf::new(),
                report,
                pc_report: PathBuf::new(),
                symbol_map: PathBuf::new(),
                graphs: Vec::new(),
                thread_views: ThreadViews::default(),
                work_cycles: None,
                check: CheckResult { rows: Vec::new() },
            }
        };
        let cases = [
            measured("smp1-w1", 1, 1_000, &[[1_000, 0, 0, 0, 0, 0, 0]]),
            // 2 CPUs x 600 = 1 200: 200 lost, 100 of them idle.
            measured("smp2-w2", 2, 600, &[[550, 0, 0, 0, 0, 50, 0], [550, 0, 0, 0, 0, 50, 0]]),
            measured("smp4-w4", 4, 400, &[]),
        ];
        let (lines, tables, bars) = scaling_loss(Benchmark::ThreadScale, &cases);
        assert!(lines[0].contains("against smp1-w1"), "{lines:?}");
        assert!(lines[1].starts_with("smp2-w2: ideal 2x, measured 1.67x"), "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("idle") && l.contains("0.1 CPU-ms   50.0%")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.starts_with("smp4-w4: scaling loss not computed")));
        assert_eq!(tables.len(), 1);
        assert_eq!(bars.len(), 1, "one bar per explained case");
        assert_eq!(bars[0].label, "smp2-w2");
        let idle = bars[0].segments.iter().find(|s| s.0 == "idle").unwrap().1;
        assert!((idle - 0.1).abs() < 1e-9, "{:?}", bars[0]);
        let dir = std::env::temp_dir().join(format!("capos-loss-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = loss_chart(&dir, &bars).unwrap();
        let svg = std::fs::read_to_string(dir.join(LOSS_CHART)).unwrap();
        assert!(svg.contains("smp2-w2") && chart.path == std::path::Path::new(LOSS_CHART));
        assert_eq!(loss_chart(&dir, &[]), None);
        std::fs::remove_dir_all(&dir).unwrap();
        let (lines, tables, bars) = scaling_loss(Benchmark::ThreadScale, &cases[1..]);
        assert!(lines.is_empty() && tables.is_empty(), "no 1-worker case, no table");
        assert!(bars.is_empty());
    }

    #[test]
    fn lock_histograms_of_the_scheduler_lock_and_the_worst_shared_lock() {
        use capos_measure::catalogue::{
            scheduler_lock as sl, shared_kernel_lock as sk, SharedLock,
        };
        let mut r = Report::default();
        r.hists.insert((Phase::Work, sl::hold.into()), [(6u8, 50u64), (7, 5)].into());
        r.hists.insert((Phase::Work, sl::wait.into()), [(9u8, 0u64)].into());
        r.set_counter(Phase::Work, sk::acquisitions.at(SharedLock::Heap), 9);
        r.set_counter(Phase::Work, sk::wait_cycles.at(SharedLock::Heap), 4_000);
        r.hists.insert((Phase::Work, sk::wait.at(SharedLock::Heap)), [(11u8, 3u64)].into());
        let s = lock_hist_series(&r, Phase::Work);
        let labels: Vec<&str> = s.iter().map(|h| h.label.as_str()).collect();
        // The all-zero wait histogram and the empty heap hold are left out.
        assert_eq!(labels, ["scheduler_lock hold", "heap wait"]);
        assert_eq!(s[0].buckets, [(6, 50), (7, 5)]);
        assert!(lock_hist_series(&Report::default(), Phase::Work).is_empty());
    }

    #[test]
    fn the_speedup_chart_draws_each_system_from_its_medians() {
        let csv = "benchmark,os,accel,case,sched_policy,cpus,workers,run,work,verified\n\
                   thread-scale,capos,tcg,smp1-w1,percpu,1,1,0,1000,true\n\
                   thread-scale,capos,tcg,smp2-w2,percpu,2,2,0,500,true\n\
                   thread-scale,capos,tcg,smp4-w4,percpu,4,4,0,400,true\n\
                   thread-scale,linux-guest,tcg,smp1-w1,,1,1,0,1000,true\n\
                   thread-scale,linux-guest,tcg,smp2-w2,,2,2,0,520,true\n";
        let rows = results::from_csv(csv).unwrap();
        let dir = std::env::temp_dir().join(format!("capos-speedup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = speedup_chart(&dir, "thread-scale", &rows).unwrap();
        assert_eq!(chart.path, std::path::Path::new(SPEEDUP_CHART));
        let svg = std::fs::read_to_string(dir.join(SPEEDUP_CHART)).unwrap();
        assert!(
            svg.contains("capos (tcg) sched_policy=percpu") && svg.contains("linux-guest (tcg)")
        );
        // Markers: 3 capOS points (1x, 2x, 2.5x) and 2 Linux ones.
        assert_eq!(svg.matches("<circle").count(), 5);
        assert_eq!(speedup_chart(&dir, "thread-scale", &rows[..1]), None, "one case, no line");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn fixture(name: &str) -> Vec<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bench")
            .join(name);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn work_comes_from_verified_lines_of_the_benchmark_process_only() {
        let t = fixture("capos-thread-scale-smp2.log");
        let expected = crate::bench::runner::parse_row(Benchmark::ThreadScale, 2, &t).unwrap().work;
        assert_eq!(work_of(2, &t), Some(expected));
        assert_eq!(work_of(2, &fixture("capos-thread-scale-unverified.log")), None);
        // A result line printed by some other capOS process is not a result.
        let forged: Vec<String> = t
            .iter()
            .map(|l| l.replacen("[thread-scale]", "user 9 evil: [thread-scale]", 1))
            .collect();
        assert_eq!(work_of(2, &forged), None);
        let own: Vec<String> = t
            .iter()
            .map(|l| l.replacen("[thread-scale]", "user 3 thread-scale: [thread-scale]", 1))
            .collect();
        assert_eq!(work_of(2, &own), Some(expected));
        assert_eq!(work_of(2, &["noise".to_string()]), None);
    }
}
