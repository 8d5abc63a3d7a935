//! `measure-check` and `measure-coverage`: host checks on `measure.log`
//! files (the logic is `capos_measure::check` and `capos_measure::coverage`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_measure::check::{check_log_text, CheckConfig, CheckResult};
use capos_measure::coverage::Coverage;
use capos_measure::report::Report;
use clap::Args;

use crate::accel::Accel;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// measure.log files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The guest's timer tick rate (kernel command line `tick_hz=`).
    #[arg(long, value_name = "HZ", default_value_t = capos_abi::guest::DEFAULT_TICK_HZ)]
    pub tick_hz: u32,
    /// The guest's sample clock (kernel `sample_hz=`), for a log whose
    /// `instrument` line does not state it.
    #[arg(long, value_name = "HZ", default_value_t = capos_abi::guest::DEFAULT_SAMPLE_HZ)]
    pub sample_hz: u32,
    /// Ticks that may be missing, in parts per thousand of those expected
    /// (1000 for a TCG run: its lower bound is not checked).
    #[arg(long, value_name = "PERMILLE", default_value_t = capos_measure::check::DEFAULT_LOST_TICK_PERMILLE)]
    pub lost_tick_permille: u32,
    /// Print only failed rows and the verdict line.
    #[arg(long)]
    pub failures_only: bool,
}

#[derive(Args, Debug)]
pub struct CoverageArgs {
    /// measure.log files: the columns of the matrix.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// A field allowed to stay unraised (as printed, e.g.
    /// `scheduler.outcome_drop`); repeat for more.
    #[arg(long, value_name = "FIELD")]
    pub allow: Vec<String>,
}

/// The environment knob for the measure kernel's sample clock.
pub const SAMPLE_HZ_ENV: &str = "CAPOS_MEASURE_SAMPLE_HZ";

/// `--sample-hz` of the commands that boot the measure kernel: the sample
/// clock's rate on every CPU (kernel `sample_hz=`).
#[derive(Args, Debug, Clone, Default)]
pub struct SampleHzArg {
    /// Sample clock of the measure kernel, per CPU, 10 to 20000 Hz (default:
    /// `CAPOS_MEASURE_SAMPLE_HZ`, else 997). Independent of the scheduler
    /// tick (`tick_hz`).
    #[arg(long, value_name = "HZ", value_parser = parse_sample_hz)]
    pub sample_hz: Option<u32>,
}

impl SampleHzArg {
    /// The rate to boot with: the option, else the environment, else the
    /// default; a bad environment value is an error naming the variable.
    pub fn resolve(&self) -> Result<u32> {
        sample_hz_from(self.sample_hz, std::env::var(SAMPLE_HZ_ENV).ok())
    }
}

/// [`SampleHzArg::resolve`] with the environment value given.
pub fn sample_hz_from(option: Option<u32>, env: Option<String>) -> Result<u32> {
    if let Some(hz) = option {
        return Ok(hz);
    }
    match env.as_deref().map(str::trim) {
        None | Some("") => Ok(capos_abi::guest::DEFAULT_SAMPLE_HZ),
        Some(v) => parse_sample_hz(v).map_err(|e| anyhow::anyhow!("{SAMPLE_HZ_ENV}={v}: {e}")),
    }
}

/// A sample rate in the range the kernel accepts (it would clamp one
/// outside; the harness refuses it instead, so a run never silently
/// samples at another rate than asked).
pub fn parse_sample_hz(s: &str) -> Result<u32, String> {
    let r = capos_abi::guest::SAMPLE_HZ_RANGE;
    match s.trim().parse::<u32>() {
        Ok(hz) if r.contains(&hz) => Ok(hz),
        Ok(hz) => Err(format!("sample rate {hz} Hz is out of range: {} to {}", r.start(), r.end())),
        Err(_) => Err(format!("`{s}` is not a sample rate in Hz")),
    }
}

/// The kernel command-line word for a sample rate.
pub fn sample_hz_word(hz: u32) -> String {
    format!("sample_hz={hz}")
}

/// Reads and checks one `measure.log`; a file that cannot be read, is
/// empty, does not parse or is truncated is an error naming the file.
pub fn check_file(path: &Path, cfg: &CheckConfig) -> Result<CheckResult> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    check_log_text(&text, cfg).with_context(|| format!("{} cannot be checked", path.display()))
}

/// File the check's table is written to, beside `measure.log`.
pub const CHECK_LOG: &str = "measure-check.log";

/// Checks a written `measure.log` of a guest of `vcpus` run on this host
/// under `accel` and writes the table to `measure-check.log` in the same
/// directory.
pub fn check_and_record(log: &Path, vcpus: u32, accel: Accel) -> Result<CheckResult> {
    check_and_record_at(log, vcpus, accel, capos_abi::guest::DEFAULT_TICK_HZ)
}

/// [`check_and_record`] for a kernel booted with `tick_hz=` (the sample
/// rate is the one the log's `instrument` line states).
pub fn check_and_record_at(
    log: &Path,
    vcpus: u32,
    accel: Accel,
    tick_hz: u32,
) -> Result<CheckResult> {
    let host = crate::bench::commands::host_cpus();
    let cfg = CheckConfig { tick_hz, ..CheckConfig::for_run(vcpus, host, accel == Accel::Tcg) };
    let result = check_file(log, &cfg)?;
    let out = log.with_file_name(CHECK_LOG);
    std::fs::write(&out, result.to_string())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(result)
}

/// `measure-check FILE...`: every file's table and verdict; `false` if any
/// file fails or cannot be checked.
pub fn run_check(a: &CheckArgs) -> Result<bool> {
    let cfg = CheckConfig {
        tick_hz: a.tick_hz,
        sample_hz: a.sample_hz,
        lost_tick_permille: a.lost_tick_permille,
        ..CheckConfig::default()
    };
    let mut all_ok = true;
    for path in &a.files {
        if a.files.len() > 1 {
            println!("== {}", path.display());
        }
        match check_file(path, &cfg) {
            Ok(result) => {
                if a.failures_only {
                    result.failures().for_each(|r| println!("{r}"));
                    println!("{}", result.verdict_line());
                } else {
                    print!("{result}");
                }
                all_ok &= result.ok();
            }
            Err(e) => {
                println!("measure check: error: {e:#}");
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}

fn read_report(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim().is_empty() {
        bail!("{} is empty", path.display());
    }
    capos_measure::log_parse::parse_measure_log(&text)
        .with_context(|| format!("{} does not parse", path.display()))
}

/// `measure-coverage LOG...`: the matrix; `false` if a field outside
/// `--allow` was raised by no log.
pub fn run_coverage(a: &CoverageArgs) -> Result<bool> {
    let reports = a.logs.iter().map(|p| read_report(p)).collect::<Result<Vec<_>>>()?;
    let coverage = Coverage::of(&reports);
    let known: Vec<&str> = coverage.entries.iter().map(|e| e.name.as_str()).collect();
    if let Some(bad) = a.allow.iter().find(|f| !known.contains(&f.as_str())) {
        bail!("--allow {bad}: no such catalogue field (names as the matrix prints them)");
    }
    let labels: Vec<String> = a.logs.iter().map(|p| p.display().to_string()).collect();
    print!("{}", coverage.to_text(&labels));
    let missing: Vec<&str> =
        coverage.never_raised().into_iter().filter(|m| !a.allow.iter().any(|x| x == m)).collect();
    if missing.is_empty() {
        println!("measure coverage: ok ({} allowed unraised)", a.allow.len());
        Ok(true)
    } else {
        println!("measure coverage: FAILED ({} fields never raised)", missing.len());
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_rate_comes_from_the_option_then_the_environment_then_997() {
        assert_eq!(sample_hz_from(None, None).unwrap(), 997);
        assert_eq!(sample_hz_from(None, Some(" ".into())).unwrap(), 997);
        assert_eq!(sample_hz_from(None, Some("100".into())).unwrap(), 100);
        assert_eq!(sample_hz_from(Some(10_000), Some("100".into())).unwrap(), 10_000);
        for bad in ["fast", "5", "20001", "-1"] {
            let e = sample_hz_from(None, Some(bad.into())).unwrap_err();
            assert!(format!("{e:#}").starts_with(&format!("{SAMPLE_HZ_ENV}={bad}: ")), "{e:#}");
        }
        assert_eq!(parse_sample_hz("20000"), Ok(20_000));
        assert!(parse_sample_hz("9").unwrap_err().contains("out of range"));
        assert_eq!(sample_hz_word(997), "sample_hz=997");
    }

    #[test]
    fn missing_empty_and_garbage_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = CheckConfig::default();
        let e = check_file(&dir.path().join("nope.log"), &cfg).unwrap_err();
        assert!(format!("{e:#}").contains("cannot read"), "{e:#}");
        let empty = dir.path().join("empty.log");
        std::fs::write(&empty, "\n").unwrap();
        let e = check_file(&empty, &cfg).unwrap_err();
        assert!(format!("{e:#}").contains("empty"), "{e:#}");
        let junk = dir.path().join("junk.log");
        std::fs::write(&junk, "hello world\n").unwrap();
        let e = check_file(&junk, &cfg).unwrap_err();
        assert!(format!("{e:#}").contains("line 1"), "{e:#}");
        let cut = dir.path().join("cut.log");
        std::fs::write(&cut, "measure: begin version=1 cpus=2 tsc_khz=1000 catalogue=0x1\n")
            .unwrap();
        let e = check_file(&cut, &cfg).unwrap_err();
        assert!(format!("{e:#}").contains("truncated"), "{e:#}");
        assert!(read_report(&empty).is_err() && read_report(&junk).is_err());
    }
}
