//! The overhead pass of `bench-capos` (`--overhead-runs N`,
//! `CAPOS_THREAD_SCALE_OVERHEAD_RUNS`): what the measure kernel costs the
//! work window, at several sample rates, against the normal kernel.
//!
//! For each case it runs N rounds; in each round the normal kernel and the
//! measure kernel at every rate of `--overhead-sample-hz` (default 100, 997
//! and 10000 Hz) boot once each, in an order rotated by one every round
//! ([`round_order`]), so host drift falls on every variant alike. Every run
//! goes through the same runner as the timed runs (disturbance probe and
//! retries, the one result-line parser: the work cycles are the result
//! line's `work=`, which the measure kernel prints the same). A measure run's
//! COM2 stream becomes its `measure.log`, from which the work phase's
//! `timer.sample_interrupts` gives the sample rate actually delivered.
//!
//! Per case and rate: median overhead = median(measure work) /
//! median(normal work) - 1, and as its spread the min..max of the per-round
//! paired overheads (measure / normal of the same round, - 1). Raw values go
//! to `overhead.csv`, the table to `summary.log` (and `index.html`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_flamegraphs::Table;
use capos_measure::catalogue::timer;
use capos_measure::Phase;
use clap::Args;

use super::capos::CaposExec;
use super::csv;
use super::knobs::Knobs;
use super::runner::{self, Case};
use super::stats::{self, FSpread, Spread};
use super::Benchmark;
use crate::build::{CargoBuild, KernelFlavor};
use crate::measure_tools::{parse_sample_hz, sample_hz_word};

/// Rounds when neither the option nor the knob says, with guest measurement on.
pub const DEFAULT_ROUNDS: u32 = 5;

/// File of the raw per-run values, in the artifact directory.
pub const CSV_FILE: &str = "overhead.csv";

#[derive(Args, Debug, Clone)]
pub struct OverheadArgs {
    /// Rounds of the overhead pass, each booting the normal kernel and the
    /// measure kernel at every `--overhead-sample-hz` once per case; 0 turns
    /// it off (default: CAPOS_THREAD_SCALE_OVERHEAD_RUNS, else 5 with
    /// _GUEST_MEASURE=1, else 0).
    #[arg(long, value_name = "N")]
    pub overhead_runs: Option<u32>,
    /// Sample rates of the measure kernel in the overhead pass.
    #[arg(
        long,
        value_name = "HZ,..",
        default_value = "100,997,10000",
        value_delimiter = ',',
        value_parser = parse_sample_hz
    )]
    pub overhead_sample_hz: Vec<u32>,
}

impl OverheadArgs {
    /// Rounds to run: the option, else the knob, else 5 when guest
    /// measurement is on, else 0 (off).
    pub fn rounds(&self, knobs: &Knobs) -> u32 {
        self.overhead_runs.or(knobs.overhead_runs).unwrap_or(if knobs.guest_measure {
            DEFAULT_ROUNDS
        } else {
            0
        })
    }

    /// The rates, checked: at least one, none twice.
    pub fn rates(&self) -> Result<Vec<u32>> {
        let r = &self.overhead_sample_hz;
        if r.is_empty() {
            bail!("--overhead-sample-hz: at least one sample rate is needed");
        }
        for (i, hz) in r.iter().enumerate() {
            if r[..i].contains(hz) {
                bail!("--overhead-sample-hz: {hz} Hz is given twice");
            }
        }
        Ok(r.clone())
    }
}

/// One kernel of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Normal,
    /// The measure kernel at this sample rate (Hz per CPU).
    Measure(u32),
}

impl Variant {
    pub fn label(self) -> String {
        match self {
            Variant::Normal => "normal".into(),
            Variant::Measure(hz) => format!("measure-{hz}hz"),
        }
    }

    fn sample_hz(self) -> Option<u32> {
        match self {
            Variant::Normal => None,
            Variant::Measure(hz) => Some(hz),
        }
    }
}

/// The normal kernel, then the measure kernel at each rate.
pub fn variants(rates: &[u32]) -> Vec<Variant> {
    std::iter::once(Variant::Normal).chain(rates.iter().map(|&hz| Variant::Measure(hz))).collect()
}

/// The order of `n` variants (indices) in round `round`: the list rotated
/// left by `round`, so over `n` rounds every variant runs once in every
/// position, and the one run before each variant changes round by round.
pub fn round_order(n: usize, round: u32) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let shift = round as usize % n;
    (0..n).map(|i| (i + shift) % n).collect()
}

/// One slot of the pass's schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub case: usize,
    pub round: u32,
    pub position: usize,
    pub variant: usize,
}

/// Every run of the pass in the order it boots: case by case, `rounds`
/// rounds each, each round every one of `variants` once in
/// [`round_order`].
pub fn schedule(cases: usize, rounds: u32, variants: usize) -> Vec<Slot> {
    let mut out = Vec::new();
    for case in 0..cases {
        for round in 0..rounds {
            for (position, variant) in round_order(variants, round).into_iter().enumerate() {
                out.push(Slot { case, round, position, variant });
            }
        }
    }
    out
}

/// One run of the pass.
#[derive(Clone, Debug, PartialEq)]
pub struct OverheadRun {
    pub case: String,
    pub cpus: u32,
    pub workers: u32,
    pub round: u32,
    /// Position in its round (0 = first).
    pub position: usize,
    pub variant: Variant,
    /// The result line's `work=` (cycles).
    pub work: u64,
    pub disturbed: bool,
    pub other_cpu_pct: Option<f64>,
    /// Work-phase `timer.sample_interrupts` (measure runs).
    pub sample_interrupts: Option<u64>,
    /// Work-phase length in TSC cycles, from measure.log (measure runs).
    pub work_phase_cycles: Option<u64>,
    pub tsc_khz: Option<u64>,
    pub serial_log: String,
}

impl OverheadRun {
    /// Sample interrupts per CPU-second of the work phase: the rate the
    /// sample clock actually delivered (one worker per CPU in these cases,
    /// so also samples per worker-second).
    pub fn delivered_hz(&self) -> Option<f64> {
        let (n, cycles, khz) = (self.sample_interrupts?, self.work_phase_cycles?, self.tsc_khz?);
        let cpu_seconds = self.cpus.max(1) as f64 * cycles as f64 / (khz as f64 * 1000.0);
        (cpu_seconds > 0.0).then(|| n as f64 / cpu_seconds)
    }
}

const CSV_HEADER: [&str; 14] = [
    "case",
    "cpus",
    "workers",
    "round",
    "position",
    "variant",
    "sample_hz",
    "work",
    "disturbed",
    "other_cpu_pct",
    "sample_interrupts",
    "work_phase_cycles",
    "tsc_khz",
    "serial_log",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The CSV text of `runs` (header, one record per run, plus the delivered
/// rate as its own column for readers that do not want to compute it).
pub fn to_csv(runs: &[OverheadRun]) -> String {
    let mut header: Vec<String> = CSV_HEADER.iter().map(|s| s.to_string()).collect();
    header.push("delivered_hz".into());
    let mut out = csv::write_record(&header);
    for r in runs {
        out.push_str(&csv::write_record(&[
            r.case.clone(),
            r.cpus.to_string(),
            r.workers.to_string(),
            r.round.to_string(),
            r.position.to_string(),
            r.variant.label(),
            opt(r.variant.sample_hz()),
            r.work.to_string(),
            r.disturbed.to_string(),
            opt(r.other_cpu_pct.map(|p| format!("{p:.1}"))),
            opt(r.sample_interrupts),
            opt(r.work_phase_cycles),
            opt(r.tsc_khz),
            r.serial_log.clone(),
            opt(r.delivered_hz().map(|h| format!("{h:.1}"))),
        ]));
    }
    out
}

/// Reads `overhead.csv` text back (for `bench-summary`); errors name the
/// line and column.
pub fn from_csv(text: &str) -> Result<Vec<OverheadRun>> {
    let records = csv::parse(text)?;
    let (header, body) = records.split_first().context("empty overhead CSV (no header)")?;
    for name in CSV_HEADER {
        if !header.iter().any(|h| h == name) {
            bail!("overhead CSV: no `{name}` column");
        }
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut out = Vec::new();
    for (i, rec) in body.iter().enumerate() {
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        let line = i + 2;
        let get = |name: &str| col(name).and_then(|c| rec.get(c)).map(String::as_str).unwrap_or("");
        fn parse<T: std::str::FromStr>(line: usize, name: &str, v: &str) -> Result<T> {
            v.parse().map_err(|_| anyhow::anyhow!("line {line}: `{name}`={v} is not valid"))
        }
        let num = |name: &str| -> Result<u64> { parse(line, name, get(name)) };
        let maybe = |name: &str| -> Result<Option<u64>> {
            match get(name) {
                "" => Ok(None),
                v => parse(line, name, v).map(Some),
            }
        };
        let variant = match (get("variant"), maybe("sample_hz")?) {
            ("normal", None) => Variant::Normal,
            (label, Some(hz)) if label == Variant::Measure(hz as u32).label() => {
                Variant::Measure(hz as u32)
            }
            (label, hz) => {
                bail!("line {line}: variant `{label}` does not match sample_hz={hz:?}")
            }
        };
        out.push(OverheadRun {
            case: match get("case") {
                "" => bail!("line {line}: column `case` is empty"),
                c => c.to_string(),
            },
            cpus: parse(line, "cpus", get("cpus"))?,
            workers: parse(line, "workers", get("workers"))?,
            round: parse(line, "round", get("round"))?,
            position: parse(line, "position", get("position"))?,
            variant,
            work: num("work")?,
            disturbed: parse(line, "disturbed", get("disturbed"))?,
            other_cpu_pct: match get("other_cpu_pct") {
                "" => None,
                v => Some(parse(line, "other_cpu_pct", v)?),
            },
            sample_interrupts: maybe("sample_interrupts")?,
            work_phase_cycles: maybe("work_phase_cycles")?,
            tsc_khz: maybe("tsc_khz")?,
            serial_log: get("serial_log").to_string(),
        });
    }
    Ok(out)
}

/// The summary.log lines of an existing `overhead.csv` (rounds and rates
/// as found in it).
pub fn replay(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let runs = from_csv(&text).with_context(|| format!("{}", path.display()))?;
    let rounds = runs.iter().map(|r| r.round + 1).max().unwrap_or(0);
    let mut rates: Vec<u32> = Vec::new();
    for hz in runs.iter().filter_map(|r| r.variant.sample_hz()) {
        if !rates.contains(&hz) {
            rates.push(hz);
        }
    }
    Ok(summary_text(&summarize(&runs), rounds, &rates))
}

/// Runs the pass: `rounds` interleaved rounds per case of the normal
/// executor `normal` and the measure kernel at each of `rates`, under
/// `art/overhead/<variant>/<case>/run<round>/`; writes `art/overhead.csv`
/// after every run.
#[allow(clippy::too_many_arguments)]
pub fn run(
    root: &Path,
    bench: Benchmark,
    normal: &CaposExec,
    cases: &[Case],
    rates: &[u32],
    rounds: u32,
    knobs: &Knobs,
    art: &Path,
) -> Result<Vec<OverheadRun>> {
    let kernel = CargoBuild::kernel(KernelFlavor::Measure).run(root)?;
    let vs = variants(rates);
    let mut execs: Vec<CaposExec> = vs
        .iter()
        .map(|v| match v {
            Variant::Normal => normal.with_kernel(normal.images.kernel.clone(), ""),
            Variant::Measure(hz) => normal.with_kernel(kernel.clone(), &sample_hz_word(*hz)),
        })
        .collect();
    let csv_path = art.join(CSV_FILE);
    let mut out = Vec::new();
    for Slot { case, round, position, variant: k } in schedule(cases.len(), rounds, vs.len()) {
        let case = &cases[case];
        let variant = vs[k];
        let dir = variant_dir(art, variant);
        let what = format!("overhead {} case {} round {round}", variant.label(), case.label);
        let row = runner::run_with_retries(bench, &mut execs[k], case, round, knobs, &dir)
            .with_context(|| what.clone())?;
        let mut r = OverheadRun {
            case: case.label.clone(),
            cpus: case.cpus,
            workers: case.workers,
            round,
            position,
            variant,
            work: row.work,
            disturbed: row.disturbed,
            other_cpu_pct: row.other_cpu_pct,
            sample_interrupts: None,
            work_phase_cycles: None,
            tsc_khz: None,
            serial_log: row.serial_log.clone(),
        };
        if variant != Variant::Normal {
            let run_dir = Path::new(&row.serial_log)
                .parent()
                .with_context(|| format!("{what}: no run directory"))?;
            let (report, st) =
                crate::measure_log::report_from_com2(&kernel, &run_dir.join("com2.bin"))
                    .with_context(|| what.clone())?;
            if st.malformed > 0 {
                bail!("{what}: {} malformed COM2 frames", st.malformed);
            }
            crate::measure_log::write_measure_files(&report, run_dir)
                .with_context(|| what.clone())?;
            r.sample_interrupts = Some(report.counter(Phase::Work, timer::sample_interrupts));
            r.work_phase_cycles = report.phase_cycles.get(&Phase::Work).copied();
            r.tsc_khz = report.begin.map(|b| b.tsc_khz);
        }
        eprintln!(
            "harness: {what} (position {position}): work={}{}{}",
            r.work,
            r.delivered_hz().map(|h| format!(" delivered={h:.1} Hz")).unwrap_or_default(),
            if r.disturbed { " (disturbed)" } else { "" }
        );
        out.push(r);
        std::fs::write(&csv_path, to_csv(&out))
            .with_context(|| format!("cannot write {}", csv_path.display()))?;
    }
    Ok(out)
}

/// The figures of one (case, rate).
#[derive(Clone, Debug, PartialEq)]
pub struct OverheadStat {
    pub case: String,
    pub sample_hz: u32,
    /// Rounds with both a normal and a measure run.
    pub pairs: usize,
    pub normal: Spread,
    pub measure: Spread,
    /// median(measure work) / median(normal work) - 1.
    pub overhead: f64,
    /// Per-round paired overheads (measure / normal of one round, - 1).
    pub paired: FSpread,
    /// Delivered sample rate per CPU over the measure runs.
    pub delivered: Option<FSpread>,
    /// Runs of this (case, rate) or of its normal kernel marked disturbed.
    pub disturbed: usize,
}

/// Groups `runs` by case (first-seen order) and rate (first-seen order).
pub fn summarize(runs: &[OverheadRun]) -> Vec<OverheadStat> {
    let mut cases: Vec<&str> = Vec::new();
    let mut rates: Vec<u32> = Vec::new();
    for r in runs {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
        if let Some(hz) = r.variant.sample_hz() {
            if !rates.contains(&hz) {
                rates.push(hz);
            }
        }
    }
    let mut out = Vec::new();
    for case in cases {
        let of = |v: Variant| -> Vec<&OverheadRun> {
            runs.iter().filter(|r| r.case == case && r.variant == v).collect()
        };
        let normal = of(Variant::Normal);
        let Some(n_spread) = stats::spread(&normal.iter().map(|r| r.work).collect::<Vec<_>>())
        else {
            continue;
        };
        for &hz in &rates {
            let measure = of(Variant::Measure(hz));
            let Some(m_spread) = stats::spread(&measure.iter().map(|r| r.work).collect::<Vec<_>>())
            else {
                continue;
            };
            let paired: Vec<f64> = measure
                .iter()
                .filter_map(|m| {
                    let n = normal.iter().find(|n| n.round == m.round)?;
                    (n.work > 0).then(|| m.work as f64 / n.work as f64 - 1.0)
                })
                .collect();
            let Some(paired_spread) = stats::fspread(&paired) else {
                continue;
            };
            if n_spread.median == 0 {
                continue;
            }
            let delivered: Vec<f64> = measure.iter().filter_map(|r| r.delivered_hz()).collect();
            out.push(OverheadStat {
                case: case.to_string(),
                sample_hz: hz,
                pairs: paired.len(),
                normal: n_spread,
                measure: m_spread,
                overhead: m_spread.median as f64 / n_spread.median as f64 - 1.0,
                paired: paired_spread,
                delivered: stats::fspread(&delivered),
                disturbed: normal.iter().chain(&measure).filter(|r| r.disturbed).count(),
            });
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:+.2}%", x * 100.0)
}

/// How the figures are made, for the summary and the index.
pub fn method(rounds: u32, rates: &[u32]) -> String {
    let rates: Vec<String> = rates.iter().map(u32::to_string).collect();
    format!(
        "overhead: {rounds} interleaved rounds per case, each booting the normal kernel and the \
         measure kernel at sample_hz={} once, the order rotated by one each round; \
         overhead_median = median(measure work) / median(normal work) - 1; spread = min..max of \
         the per-round paired overheads (measure / normal work of the same round - 1); \
         delivered_hz = work-phase timer.sample_interrupts per CPU-second (one worker per CPU, \
         so per worker-second), median (min..max); raw values in {CSV_FILE}",
        rates.join(",")
    )
}

/// summary.log lines: the method, then one `overhead ...` line per (case, rate).
pub fn summary_text(st: &[OverheadStat], rounds: u32, rates: &[u32]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{}", method(rounds, rates));
    for s in st {
        let _ = write!(
            t,
            "overhead case={} sample_hz={} pairs={} normal_work_median={} measure_work_median={} \
             overhead_median={} paired_min={} paired_max={} paired_median={}",
            s.case,
            s.sample_hz,
            s.pairs,
            s.normal.median,
            s.measure.median,
            pct(s.overhead),
            pct(s.paired.min),
            pct(s.paired.max),
            pct(s.paired.median),
        );
        if let Some(d) = s.delivered {
            let _ = write!(
                t,
                " delivered_hz_median={:.1} delivered_hz_min={:.1} delivered_hz_max={:.1}",
                d.median, d.min, d.max
            );
        }
        if s.disturbed > 0 {
            let _ = write!(t, " disturbed={}", s.disturbed);
        }
        t.push('\n');
    }
    t
}

/// The table for index.html.
pub fn table(st: &[OverheadStat]) -> Table {
    Table {
        caption: "Measure-kernel overhead on the work window (interleaved rounds; spread = \
                  min..max of per-round paired overheads)"
            .into(),
        header: [
            "case",
            "sample Hz",
            "pairs",
            "normal work median",
            "measure work median",
            "overhead (median)",
            "spread (paired min..max)",
            "delivered Hz per CPU (median)",
            "disturbed",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: st
            .iter()
            .map(|s| {
                vec![
                    s.case.clone(),
                    s.sample_hz.to_string(),
                    s.pairs.to_string(),
                    s.normal.median.to_string(),
                    s.measure.median.to_string(),
                    pct(s.overhead),
                    format!("{} .. {}", pct(s.paired.min), pct(s.paired.max)),
                    s.delivered.map(|d| format!("{:.1}", d.median)).unwrap_or_else(|| "-".into()),
                    s.disturbed.to_string(),
                ]
            })
            .collect(),
    }
}

/// The directory a variant's runs go to (for the docs and tests).
pub fn variant_dir(art: &Path, v: Variant) -> PathBuf {
    art.join("overhead").join(v.label())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn rotation_puts_every_variant_in_every_position() {
        assert_eq!(round_order(4, 0), [0, 1, 2, 3]);
        assert_eq!(round_order(4, 1), [1, 2, 3, 0]);
        assert_eq!(round_order(4, 5), [1, 2, 3, 0]);
        assert!(round_order(0, 3).is_empty());
        for n in 1..6 {
            let mut seen = vec![vec![0u32; n]; n];
            for round in 0..n as u32 {
                let o = round_order(n, round);
                let mut sorted = o.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "round {round} runs each once");
                for (pos, v) in o.into_iter().enumerate() {
                    seen[v][pos] += 1;
                }
            }
            assert!(seen.iter().flatten().all(|&c| c == 1), "n={n}: {seen:?}");
        }
        let s = schedule(2, 3, 3);
        assert_eq!(s.len(), 18);
        let order: Vec<(usize, u32, usize)> =
            s.iter().map(|x| (x.case, x.round, x.variant)).collect();
        assert_eq!(
            order[..9],
            [
                (0, 0, 0),
                (0, 0, 1),
                (0, 0, 2),
                (0, 1, 1),
                (0, 1, 2),
                (0, 1, 0),
                (0, 2, 2),
                (0, 2, 0),
                (0, 2, 1)
            ]
        );
        assert_eq!(order[9..], order[..9].iter().map(|&(_, r, v)| (1, r, v)).collect::<Vec<_>>());
        assert!(s.iter().enumerate().all(|(i, x)| x.position == i % 3));
        assert!(schedule(3, 0, 4).is_empty());
        assert_eq!(
            variants(&[100, 997]),
            [Variant::Normal, Variant::Measure(100), Variant::Measure(997)]
        );
        assert_eq!(Variant::Measure(997).label(), "measure-997hz");
        assert_eq!(
            variant_dir(Path::new("/a"), Variant::Normal),
            PathBuf::from("/a/overhead/normal")
        );
    }

    fn run(case: &str, round: u32, variant: Variant, work: u64) -> OverheadRun {
        OverheadRun {
            case: case.into(),
            cpus: 2,
            workers: 2,
            round,
            position: 0,
            variant,
            work,
            disturbed: false,
            other_cpu_pct: Some(1.0),
            sample_interrupts: variant.sample_hz().map(|hz| u64::from(hz) * 2 * 3),
            work_phase_cycles: variant.sample_hz().map(|_| 3_000_000_000),
            tsc_khz: variant.sample_hz().map(|_| 1_000_000),
            serial_log: format!("/x/{case}/run{round}/serial.log"),
        }
    }

    #[test]
    fn medians_paired_spread_and_delivered_rate() {
        use Variant::*;
        let runs = vec![
            run("smp2-w2", 0, Normal, 1000),
            run("smp2-w2", 0, Measure(997), 1010),
            run("smp2-w2", 1, Measure(997), 1030),
            run("smp2-w2", 1, Normal, 1000),
            run("smp2-w2", 2, Normal, 1100),
            run("smp2-w2", 2, Measure(997), 1100),
            run("smp2-w2", 0, Measure(100), 1000),
        ];
        let st = summarize(&runs);
        assert_eq!(st.len(), 2);
        let s = &st[0];
        assert_eq!((s.case.as_str(), s.sample_hz, s.pairs), ("smp2-w2", 997, 3));
        assert_eq!((s.normal.median, s.measure.median), (1000, 1030));
        assert!((s.overhead - 0.03).abs() < 1e-12);
        assert!((s.paired.min - 0.0).abs() < 1e-12 && (s.paired.max - 0.03).abs() < 1e-12);
        assert!((s.paired.median - 0.01).abs() < 1e-12);
        // 997 x 2 CPUs x 3 s of interrupts over 2 CPUs x 3 s of work phase.
        let d = s.delivered.unwrap();
        assert!((d.median - 997.0).abs() < 1e-9, "{d:?}");
        assert_eq!((st[1].sample_hz, st[1].pairs), (100, 1));
        assert_eq!(st[1].overhead, 0.0);
        let text = summary_text(&st, 3, &[997, 100]);
        assert!(text.starts_with("overhead: 3 interleaved rounds"), "{text}");
        assert!(
            text.contains(
                "overhead case=smp2-w2 sample_hz=997 pairs=3 normal_work_median=1000 \
                 measure_work_median=1030 overhead_median=+3.00% paired_min=+0.00% \
                 paired_max=+3.00% paired_median=+1.00% delivered_hz_median=997.0"
            ),
            "{text}"
        );
        let t = table(&st);
        assert_eq!(t.rows[0][5], "+3.00%");
        assert_eq!(t.rows[0][6], "+0.00% .. +3.00%");
        // No normal run: nothing to compare against.
        assert!(summarize(&[run("c", 0, Measure(997), 5)]).is_empty());
        // A normal run without a delivered rate stays out of `delivered`.
        assert_eq!(run("c", 0, Normal, 1).delivered_hz(), None);
    }

    #[test]
    fn csv_has_one_record_per_run() {
        let runs = vec![
            run("smp1-w1", 0, Variant::Normal, 10),
            run("smp1-w1", 0, Variant::Measure(100), 11),
        ];
        let recs = csv::parse(&to_csv(&runs)).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0][0], "case");
        assert_eq!(recs[0].last().unwrap(), "delivered_hz");
        assert_eq!(recs[1][5], "normal");
        assert_eq!(recs[1][6], "");
        assert_eq!(recs[2][5..8], ["measure-100hz", "100", "11"]);
        assert_eq!(recs[2].last().unwrap(), "100.0");
        // It reads back as written, and a replay gives the same summary.
        let back = from_csv(&to_csv(&runs)).unwrap();
        assert_eq!(back, runs);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CSV_FILE);
        std::fs::write(&p, to_csv(&runs)).unwrap();
        assert_eq!(replay(&p).unwrap(), summary_text(&summarize(&runs), 1, &[100]));
        let bad = to_csv(&runs).replace("measure-100hz,100,", "measure-100hz,997,");
        let e = from_csv(&bad).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("does not match"), "{e}");
        let bad = to_csv(&runs).replace(",11,", ",eleven,");
        let e = from_csv(&bad).unwrap_err().to_string();
        assert!(e.contains("line 3: `work`=eleven"), "{e}");
        assert!(from_csv("case,work\nx,1\n").unwrap_err().to_string().contains("no `cpus`"));
        assert!(replay(&dir.path().join("none.csv")).is_err());
    }

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        o: OverheadArgs,
    }

    fn knobs(pairs: &[(&str, &str)]) -> Knobs {
        let m: std::collections::HashMap<String, String> =
            pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Knobs::from_lookup(Benchmark::ThreadScale, |k| m.get(k).cloned()).unwrap()
    }

    #[test]
    fn options_knob_and_defaults() {
        let cli =
            |args: &[&str]| Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()));
        let d = cli(&[]).unwrap().o;
        assert_eq!(d.rates().unwrap(), [100, 997, 10000]);
        assert_eq!(d.rounds(&knobs(&[])), 0);
        assert_eq!(d.rounds(&knobs(&[("CAPOS_THREAD_SCALE_GUEST_MEASURE", "1")])), 5);
        assert_eq!(
            d.rounds(&knobs(&[
                ("CAPOS_THREAD_SCALE_GUEST_MEASURE", "1"),
                ("CAPOS_THREAD_SCALE_OVERHEAD_RUNS", "0")
            ])),
            0
        );
        assert_eq!(d.rounds(&knobs(&[("CAPOS_THREAD_SCALE_OVERHEAD_RUNS", "3")])), 3);
        let o = cli(&["--overhead-runs", "2", "--overhead-sample-hz", "997,50"]).unwrap().o;
        assert_eq!(o.rounds(&knobs(&[("CAPOS_THREAD_SCALE_OVERHEAD_RUNS", "7")])), 2);
        assert_eq!(o.rates().unwrap(), [997, 50]);
        let e = cli(&["--overhead-sample-hz", "997,5"]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = cli(&["--overhead-sample-hz", "fast"]).unwrap_err().to_string();
        assert!(e.contains("not a sample rate"), "{e}");
        assert!(cli(&["--overhead-runs", "-1"]).is_err());
        let twice = cli(&["--overhead-sample-hz", "100,100"]).unwrap().o;
        assert!(twice.rates().unwrap_err().to_string().contains("given twice"));
    }
}
