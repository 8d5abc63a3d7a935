//! The run loop every benchmark shares: cases x runs, disturbance retries,
//! one verified result line per run (fail closed), rows saved as they come.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use capos_workloads::line::{
    BenchClass, IpcScaleLine, ProcessScaleLine, ThreadScaleLine, IPC_SCALE_TAG, PROCESS_SCALE_TAG,
    THREAD_SCALE_TAG,
};

use super::disturb::Probe;
use super::knobs::Knobs;
use super::results::{self, Row};
use super::{artifacts, Benchmark, Os};

/// One timing case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// e.g. `smp2-w2` (guest) or `cpus2-w2` (native).
    pub label: String,
    /// vCPUs (guest) or pinned host CPUs (native; 0 when not pinned).
    pub cpus: u32,
    pub workers: u32,
    /// Host CPUs to pin to (taskset) and to watch for disturbance.
    pub pin: Option<Vec<u32>>,
}

/// What one run produced.
pub struct Capture {
    pub lines: Vec<String>,
    pub log: PathBuf,
    pub wall: Duration,
}

/// Runs one case once (native process, Linux guest, capOS guest).
pub trait Executor {
    fn os(&self) -> Os;
    /// `kvm`, `tcg` or `native`.
    fn accel(&self) -> &str;
    fn run(&mut self, case: &Case, dir: &Path) -> Result<Capture>;
    /// The capOS run-queue policy this executor boots (its rows'
    /// `sched_policy`); None for Linux.
    fn sched_policy(&self) -> Option<&'static str> {
        None
    }
    /// The case id of `case`'s rows and artifact directory from this
    /// executor (a capOS policy other than the default adds a suffix).
    fn case_label(&self, case: &Case) -> String {
        case.label.clone()
    }
}

fn tag(bench: Benchmark) -> &'static str {
    match bench {
        Benchmark::ThreadScale => THREAD_SCALE_TAG,
        Benchmark::ProcessScale => PROCESS_SCALE_TAG,
        Benchmark::IpcScale => IPC_SCALE_TAG,
    }
}

/// The binary that prints `bench`'s result line on capOS.
pub fn capos_binary(bench: Benchmark) -> &'static str {
    match bench {
        Benchmark::ThreadScale => "thread-scale",
        Benchmark::ProcessScale => "smp-process-scale",
        Benchmark::IpcScale => "ipc-scale",
    }
}

/// What a console line says as far as results go: the text of a capOS user
/// line from the benchmark's own process, or a plain line (a Linux guest's
/// console; the capOS kernel never prints result tags). Other capOS
/// processes' lines are ignored, so no program can forge a result.
pub fn result_text(bench: Benchmark, line: &str) -> Option<&str> {
    match capos_abi::guest::parse_user_line(line) {
        Some(u) => (u.name == capos_binary(bench)).then_some(u.text),
        None => Some(line),
    }
}

/// The row for the one verified result line in `lines`, or why there is none.
pub fn parse_row(bench: Benchmark, workers: u32, lines: &[String]) -> Result<Row> {
    let t = tag(bench);
    let found: Vec<&str> =
        lines.iter().filter_map(|l| result_text(bench, l)).filter(|l| l.contains(t)).collect();
    let line = match found.as_slice() {
        [one] => *one,
        [] => {
            let errors: Vec<&str> = lines
                .iter()
                .map(String::as_str)
                .filter(|l| ["error", "panic"].iter().any(|w| l.to_ascii_lowercase().contains(w)))
                .take(3)
                .collect();
            bail!(
                "no {t} result line{}",
                if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) }
            )
        }
        many => bail!("{} {t} result lines, expected one", many.len()),
    };
    let row = match bench {
        Benchmark::ThreadScale => {
            let l = ThreadScaleLine::parse(line)
                .map_err(|e| anyhow::anyhow!("malformed {t} line: {e}: `{line}`"))?;
            if l.bench_class != BenchClass::SyscallFreeCpu
                || l.hot_section_syscalls.is_some_and(|n| n != 0)
            {
                bail!(
                    "{t} line breaks the benchmark class (syscalls in the hot section): `{line}`"
                );
            }
            Row::from_thread_line(&l)
        }
        Benchmark::ProcessScale => Row::from_process_line(
            &ProcessScaleLine::parse(line)
                .map_err(|e| anyhow::anyhow!("malformed {t} line: {e}: `{line}`"))?,
        ),
        Benchmark::IpcScale => Row::from_ipc_line(
            &IpcScaleLine::parse(line)
                .map_err(|e| anyhow::anyhow!("malformed {t} line: {e}: `{line}`"))?,
        ),
    };
    if !row.verified {
        bail!("verified=false: the workload checksum did not match: `{line}`");
    }
    if row.workers != workers {
        bail!("the line reports {} workers, the case asked for {workers}: `{line}`", row.workers);
    }
    Ok(row)
}

/// Runs every case `knobs.runs` times; writes `results.csv` in `art` after
/// each accepted run; errors name the case and run.
pub fn run_all(
    bench: Benchmark,
    exec: &mut dyn Executor,
    cases: &[Case],
    knobs: &Knobs,
    art: &Path,
) -> Result<Vec<Row>> {
    run_interleaved(bench, &mut [exec], cases, knobs, art)
}

/// Runs every case `knobs.runs` times on each executor in turn, interleaved
/// (case 1 run 0 on the first executor, then on the second, ...), so that
/// the systems compared share the host's conditions. The first executor's
/// runs and every capOS executor's (one per scheduler policy, told apart by
/// their case ids) go to `art/<case id>/`, the others' to
/// `art/<os>/<case id>/`; all rows go to one `art/results.csv`, rewritten
/// after every accepted run.
pub fn run_interleaved(
    bench: Benchmark,
    execs: &mut [&mut dyn Executor],
    cases: &[Case],
    knobs: &Knobs,
    art: &Path,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let csv = art.join("results.csv");
    let total = cases.len() as u64 * u64::from(knobs.runs) * execs.len() as u64;
    let progress = crate::progress::Progress::new(total, bench.name());
    for case in cases {
        for run in 0..knobs.runs {
            for (k, exec) in execs.iter_mut().enumerate() {
                let dir = if k == 0 || exec.sched_policy().is_some() {
                    art.to_path_buf()
                } else {
                    art.join(exec.os().name())
                };
                let what = format!(
                    "{} {} case {} run {run}",
                    exec.os(),
                    bench.name(),
                    exec.case_label(case)
                );
                progress.starting(&what);
                let row = run_with_retries(bench, &mut **exec, case, run, knobs, &dir)
                    .with_context(|| what.clone())?;
                progress.done(&format!(
                    "harness: {what}: work={} total={} wall={:.1}s other_cpu={:.1}%{}",
                    row.work,
                    row.total.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    row.wall_ms.unwrap_or(0) as f64 / 1000.0,
                    row.other_cpu_pct.unwrap_or(0.0),
                    if row.disturbed { " (disturbed)" } else { "" }
                ));
                rows.push(row);
                results::write(&csv, &rows)?;
            }
        }
    }
    Ok(rows)
}

/// One run of `case` on `exec` into `art/<case>/run<run>[-retry<k>]/`, retried
/// while disturbed (up to `knobs.disturb_retries`); its parsed row.
pub(crate) fn run_with_retries(
    bench: Benchmark,
    exec: &mut dyn Executor,
    case: &Case,
    run: u32,
    knobs: &Knobs,
    art: &Path,
) -> Result<Row> {
    let mut attempt = 0;
    let label = exec.case_label(case);
    loop {
        let dir = artifacts::run_dir(art, &label, run, attempt)?;
        let probe = Probe::start(case.pin.clone())?;
        let cap = exec.run(case, &dir)?;
        let other = probe.finish()?;
        let mut row = parse_row(bench, case.workers, &cap.lines)
            .with_context(|| format!("console in {}", cap.log.display()))?;
        let disturbed = other > knobs.disturb_pct;
        if disturbed && attempt < knobs.disturb_retries {
            eprintln!(
                "harness: {label} run {run}: other processes took {other:.1}% of the host CPUs (> {}%); retrying",
                knobs.disturb_pct
            );
            attempt += 1;
            continue;
        }
        row.os = exec.os().name().into();
        row.accel = exec.accel().into();
        row.case = label;
        row.sched_policy = exec.sched_policy().unwrap_or_default().into();
        if case.cpus > 0 {
            row.cpus = case.cpus;
        }
        row.run = run;
        row.attempts = attempt + 1;
        row.disturbed = disturbed;
        // Kept at the 0.1% results.csv records, so a row read back equals it.
        row.other_cpu_pct = Some((other * 10.0).round() / 10.0);
        row.host_cpus =
            (case.pin.iter().flatten()).map(u32::to_string).collect::<Vec<_>>().join(",");
        row.wall_ms = Some(cap.wall.as_millis() as u64);
        row.serial_log = cap.log.display().to_string();
        return Ok(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_lines(name: &str) -> Vec<String> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench").join(name);
        std::fs::read_to_string(p).unwrap().lines().map(String::from).collect()
    }

    #[test]
    fn fixture_logs_parse_and_fail_closed() {
        let ok = fixture_lines("thread-scale-smp2.log");
        assert_eq!(parse_row(Benchmark::ThreadScale, 2, &ok).unwrap().workers, 2);
        let e = parse_row(Benchmark::ThreadScale, 4, &ok).unwrap_err().to_string();
        assert!(e.contains("case asked for 4"), "{e}");
        let e = parse_row(Benchmark::ThreadScale, 1, &fixture_lines("thread-scale-unverified.log"))
            .unwrap_err();
        assert!(e.to_string().contains("verified=false"), "{e}");
        let e = parse_row(Benchmark::ProcessScale, 2, &fixture_lines("process-scale-crash.log"))
            .unwrap_err();
        assert!(e.to_string().contains("no [smp-process-scale] result line"), "{e}");
        assert!(e.to_string().contains("panic"), "{e}");
        assert_eq!(
            parse_row(Benchmark::ProcessScale, 1, &fixture_lines("process-scale-smp1.log"))
                .unwrap()
                .primes,
            Some(216_816)
        );
        let twice: Vec<String> = ok.iter().chain(ok.iter()).cloned().collect();
        assert!(parse_row(Benchmark::ThreadScale, 2, &twice)
            .unwrap_err()
            .to_string()
            .contains("2 [thread-scale]"));
    }

    struct Fake {
        lines: Vec<String>,
        calls: u32,
    }

    impl Executor for Fake {
        fn os(&self) -> Os {
            Os::LinuxNative
        }
        fn accel(&self) -> &str {
            "native"
        }
        fn run(&mut self, _: &Case, dir: &Path) -> Result<Capture> {
            self.calls += 1;
            Ok(Capture {
                lines: self.lines.clone(),
                log: dir.join("serial.log"),
                wall: Duration::from_millis(5),
            })
        }
    }

    /// A capOS-like executor booting one scheduler policy.
    struct FakePolicy(Fake, &'static str);

    impl Executor for FakePolicy {
        fn os(&self) -> Os {
            Os::Capos
        }
        fn accel(&self) -> &str {
            "tcg"
        }
        fn run(&mut self, case: &Case, dir: &Path) -> Result<Capture> {
            self.0.run(case, dir)
        }
        fn sched_policy(&self) -> Option<&'static str> {
            Some(self.1)
        }
        fn case_label(&self, case: &Case) -> String {
            match self.1 {
                "percpu" => case.label.clone(),
                p => format!("{}-{p}", case.label),
            }
        }
    }

    #[test]
    fn policies_run_interleaved_as_their_own_rows_and_directories() {
        let art = tempfile::tempdir().unwrap();
        let mut knobs = Knobs::from_lookup(Benchmark::ThreadScale, |_| None).unwrap();
        (knobs.runs, knobs.disturb_pct) = (2, 100.0);
        let case = Case { label: "smp2-w2".into(), cpus: 2, workers: 2, pin: None };
        let fake = || Fake { lines: fixture_lines("thread-scale-smp2.log"), calls: 0 };
        let (mut per, mut glob) = (FakePolicy(fake(), "percpu"), FakePolicy(fake(), "global"));
        let mut linux = fake();
        let rows = run_interleaved(
            Benchmark::ThreadScale,
            &mut [&mut per, &mut glob, &mut linux],
            std::slice::from_ref(&case),
            &knobs,
            art.path(),
        )
        .unwrap();
        let got: Vec<(&str, &str, u32)> =
            rows.iter().map(|r| (r.case.as_str(), r.sched_policy.as_str(), r.run)).collect();
        assert_eq!(
            got,
            [
                ("smp2-w2", "percpu", 0),
                ("smp2-w2-global", "global", 0),
                ("smp2-w2", "", 0),
                ("smp2-w2", "percpu", 1),
                ("smp2-w2-global", "global", 1),
                ("smp2-w2", "", 1),
            ]
        );
        let under = |i: usize, p: &str| {
            rows[i].serial_log.starts_with(&*art.path().join(p).to_string_lossy())
        };
        assert!(under(0, "smp2-w2/run0") && under(1, "smp2-w2-global/run0"));
        assert!(under(2, "linux-native/smp2-w2/run0"));
        let back = results::read(&art.path().join("results.csv")).unwrap();
        let policies: Vec<&str> = back.iter().map(|r| r.sched_policy.as_str()).collect();
        assert_eq!(policies, ["percpu", "global", "", "percpu", "global", ""]);
    }

    #[test]
    fn run_all_writes_rows_and_names_failing_cases() {
        let art = tempfile::tempdir().unwrap();
        let mut knobs = Knobs::from_lookup(Benchmark::ThreadScale, |_| None).unwrap();
        knobs.runs = 2;
        knobs.disturb_pct = 100.0;
        let case = Case { label: "smp2-w2".into(), cpus: 2, workers: 2, pin: None };
        let mut fake = Fake { lines: fixture_lines("thread-scale-smp2.log"), calls: 0 };
        let rows = run_all(
            Benchmark::ThreadScale,
            &mut fake,
            std::slice::from_ref(&case),
            &knobs,
            art.path(),
        )
        .unwrap();
        assert_eq!((rows.len(), fake.calls, rows[1].run, rows[0].attempts), (2, 2, 1, 1));
        assert_eq!(results::read(&art.path().join("results.csv")).unwrap(), rows);
        let art2 = tempfile::tempdir().unwrap();
        let mut a = Fake { lines: fixture_lines("thread-scale-smp2.log"), calls: 0 };
        let mut b = Fake { lines: fixture_lines("thread-scale-smp2.log"), calls: 0 };
        let rows = run_interleaved(
            Benchmark::ThreadScale,
            &mut [&mut a, &mut b],
            std::slice::from_ref(&case),
            &knobs,
            art2.path(),
        )
        .unwrap();
        assert_eq!((rows.len(), a.calls, b.calls), (4, 2, 2));
        assert_eq!(rows.iter().map(|r| r.run).collect::<Vec<_>>(), [0, 0, 1, 1]);
        assert!(rows[0]
            .serial_log
            .starts_with(&*art2.path().join("smp2-w2/run0").to_string_lossy()));
        assert!(rows[1]
            .serial_log
            .starts_with(&*art2.path().join("linux-native/smp2-w2/run0").to_string_lossy()));
        assert_eq!(results::read(&art2.path().join("results.csv")).unwrap(), rows);
        let mut bad = Fake { lines: vec!["Kernel panic - not syncing".into()], calls: 0 };
        let e = format!(
            "{:#}",
            run_all(Benchmark::ThreadScale, &mut bad, &[case], &knobs, art.path()).unwrap_err()
        );
        assert!(e.contains("linux-native thread-scale case smp2-w2 run 0"), "{e}");
    }
}
