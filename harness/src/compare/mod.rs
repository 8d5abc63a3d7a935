//! `compare A B`: did a change make a benchmark better or worse, and is the
//! difference real? Reads two benchmark artifact directories (`make
//! run-thread-scale` and friends: `results.csv`, and per capOS case its
//! guest-measure pass under `<case>/measure/`) and prints, per case and
//! metric, A's and B's value, the relative change with its 95% bootstrap
//! interval ([`stats`]) and a verdict; writes the same table as text and
//! CSV, the counter changes, a differential flamegraph per measured case,
//! a speedup chart of both runs and `index.html` (docs/benchmarks.md,
//! "Comparing two runs").

mod measured;
mod page;
pub mod stats;
mod timed;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use stats::{Change, Verdict};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The run before the change: a benchmark artifact directory (with results.csv).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The run after the change.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Changes at most this large (percent) are "no significant change"
    /// even when the interval excludes zero (run-to-run drift of a shared
    /// host under TCG).
    #[arg(long, value_name = "PCT", default_value_t = 5.0, value_parser = parse_noise)]
    pub noise: f64,
    /// Exit with failure when any timed metric (work, total, speedups) is
    /// worse: the regression gate for CI.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// The output directory (default: target/compare/<A>-vs-<B>-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_noise(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..100.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a percentage in 0..100")),
    }
}

/// One compared metric of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// System and case, e.g. `capos tcg percpu smp2-w2`.
    pub case: String,
    pub metric: String,
    pub change: Change,
    /// Whether the regression gate looks at it.
    pub gated: bool,
}

/// Everything one comparison found.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Timed metrics (from results.csv): work, total, speedups.
    pub timed: Vec<Line>,
    /// One measure run per side: CPU states, lock waits, phase lengths.
    pub measured: Vec<Line>,
    /// Every counter per phase (compare-counters.csv).
    pub counters: Vec<Line>,
    /// What the reader must know besides the lines: cases only one side
    /// has, runs left out (disturbed), cases whose runs computed different
    /// work, measure passes that could not be compared.
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Line> {
        self.timed.iter().filter(|l| l.gated && l.change.verdict == Verdict::Worse)
    }
}

/// A run directory and its name in the output.
pub struct Side {
    pub dir: PathBuf,
    pub name: String,
}

impl Side {
    fn new(dir: &Path) -> Result<Side> {
        if !dir.join("results.csv").is_file() {
            bail!(
                "{} is not a benchmark run directory: it has no results.csv (give the \
                 directory `make run-thread-scale` printed, e.g. target/thread-scale/<time>)",
                dir.display()
            );
        }
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Side { dir: dir.to_path_buf(), name })
    }
}

pub fn run(root: &Path, a: &CompareArgs) -> Result<bool> {
    let (sa, sb) = (Side::new(&a.a)?, Side::new(&a.b)?);
    let noise = a.noise / 100.0;
    let rows_a = crate::bench::results::read(&sa.dir.join("results.csv"))
        .with_context(|| format!("run A ({})", sa.dir.display()))?;
    let rows_b = crate::bench::results::read(&sb.dir.join("results.csv"))
        .with_context(|| format!("run B ({})", sb.dir.display()))?;
    let mut cmp = timed::compare(&rows_a, &rows_b, noise);
    if cmp.timed.is_empty() {
        bail!(
            "runs A and B have no case in common (A: {}, B: {})",
            sa.dir.display(),
            sb.dir.display()
        );
    }
    let cases = measured::common_cases(&sa.dir, &sb.dir);
    for case in &cases {
        match measured::compare_case(&sa.dir, &sb.dir, case) {
            Ok((m, c)) => {
                cmp.measured.extend(m);
                cmp.counters.extend(c);
            }
            Err(e) => cmp.notes.push(format!("{case}: measure pass not compared: {e:#}")),
        }
    }
    let out = match &a.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => crate::rundir::create_in(root, "compare", &format!("{}-vs-{}", sa.name, sb.name))?,
    };
    let text = render(&cmp, &sa, &sb, a.noise);
    print!("{text}");
    page::write_files(&out, &cmp, &text)?;
    let graphs = page::diff_graphs(&out, &sa, &sb, &cases);
    let index = page::write_index(&out, &cmp, &sa, &sb, a.noise, graphs, &rows_a, &rows_b)?;
    println!("compare: {}", index.display());
    let worse: Vec<&Line> = cmp.regressions().collect();
    if a.fail_on_regression && !worse.is_empty() {
        println!("compare: regression gate FAILED: {} metrics worse", worse.len());
        return Ok(false);
    }
    if a.fail_on_regression {
        println!("compare: regression gate passed: no timed metric is worse");
    }
    Ok(true)
}

/// A metric value as printed: integers as such, ratios with two decimals.
pub fn value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// A relative change in percent.
pub fn pct(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{:+.1}%", v * 100.0)
    }
}

/// The interval in percent, or why there is none.
pub fn interval(c: &Change) -> String {
    match c.ci {
        Some((lo, hi)) => format!("[{}, {}]", pct(lo), pct(hi)),
        None => "-".into(),
    }
}

/// One line's cells: case, metric, A, B, change, interval, verdict.
pub fn cells(l: &Line) -> [String; 7] {
    let c = &l.change;
    [
        l.case.clone(),
        l.metric.clone(),
        value(c.a),
        value(c.b),
        pct(c.rel),
        interval(c),
        c.verdict.describe().to_string(),
    ]
}

/// The table of `lines` as text, one line each.
pub fn table(lines: &[Line]) -> String {
    let w = lines.iter().map(|l| l.case.len()).max().unwrap_or(4).max(4);
    let m = lines.iter().map(|l| l.metric.len()).max().unwrap_or(6).max(6);
    let mut s = format!(
        "{:w$}  {:m$}  {:>14}  {:>14}  {:>8}  {:>18}  verdict\n",
        "case", "metric", "A", "B", "change", "95% interval"
    );
    for l in lines {
        let [case, metric, a, b, change, ci, verdict] = cells(l);
        s.push_str(&format!(
            "{case:w$}  {metric:m$}  {a:>14}  {b:>14}  {change:>8}  {ci:>18}  {verdict}\n"
        ));
    }
    s
}

/// The whole printed report.
fn render(cmp: &Comparison, a: &Side, b: &Side, noise_pct: f64) -> String {
    let mut s = format!(
        "compare: A = {}\ncompare: B = {}\n\
         change = median(B) / median(A) - 1; 95% interval: percentile bootstrap over the runs \
         ({} resamples, each side resampled on its own); verdict: the interval excludes 0 and \
         |change| > {noise_pct}% (noise), at least {} runs a side\n\n",
        a.dir.display(),
        b.dir.display(),
        stats::RESAMPLES,
        stats::MIN_RUNS,
    );
    s.push_str("Timed runs (results.csv):\n");
    s.push_str(&table(&cmp.timed));
    if !cmp.measured.is_empty() {
        s.push_str(
            "\nMeasure pass (one run a side: the change is shown, not judged; \
             CPU-ms are summed over CPUs):\n",
        );
        s.push_str(&table(&cmp.measured));
    }
    let top = measured::top_counter_changes(&cmp.counters, 15);
    if !top.is_empty() {
        s.push_str("\nCounters that moved most (all in compare-counters.csv):\n");
        s.push_str(&table(&top));
    }
    for u in &cmp.notes {
        s.push_str(&format!("note: {u}\n"));
    }
    let count = |v: Verdict| cmp.timed.iter().filter(|l| l.change.verdict == v).count();
    s.push_str(&format!(
        "\ncompare: timed metrics: {} better, {} worse, {} no significant change, {} not judged\n",
        count(Verdict::Better),
        count(Verdict::Worse),
        count(Verdict::NoChange),
        count(Verdict::NotJudged)
    ));
    s
}
