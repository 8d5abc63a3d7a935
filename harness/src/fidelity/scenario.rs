//! Scenarios with a known cause: a scaling demo booted under the measure
//! kernel at one worker and at n workers, once per variant (kernel words
//! that plant or remove the cause), and the scaling-loss table
//! (`capos_measure::scaling`) judged against the cause that was planted.
//!
//! Where [`super::Workload`]s check single counters against planted
//! quantities, a scenario checks the end-to-end explanation: the cause the
//! report puts first, its share of the lost CPU time, and the kernel call
//! path behind it. The cases live in `scenarios.rs`; each run's files land
//! in its own `target/runs/scenario-<name>-<variant>-<case>-*` directory
//! and the explanation (every variant's loss lines and the verdicts'
//! findings) in `target/runs/scenario-<name>-*/explanation.log`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_measure::report::Report;
use capos_measure::scaling::{median, scaling_loss, ScalingLoss};
use capos_symbolize::{ElfPaths, ReportInput};
use capos_workloads::line::ThreadScaleLine;

use super::table::Row;
use super::FidelityArgs;
use crate::accel::Accel;
use crate::bench::{capos as bench_capos, runner, Benchmark};
use crate::build::{Images, Module};
use crate::{session, user};

/// CPUs and workers of the n-worker case.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub cpus: u32,
    pub workers: u32,
}

/// One variant: a label and the kernel words it boots with.
pub struct Variant {
    pub label: &'static str,
    pub words: &'static str,
}

pub struct Scenario {
    /// Name in the fidelity table and `--only`.
    pub name: &'static str,
    pub bench: Benchmark,
    /// The n-worker case of `make test` and of `--full`.
    pub quick: Shape,
    pub full: Shape,
    /// Scheduler tick rate of every boot.
    pub tick_hz: u32,
    /// Boots of each (variant, case); the verdicts read the median of
    /// every figure (`capos_measure::scaling::median`): under TCG a
    /// single run moves by tens of CPU-ms.
    pub repeats: u32,
    pub variants: &'static [Variant],
    /// The demo's `args` for (workers, cpus, full).
    pub args: fn(u32, u32, bool) -> String,
    /// The verdicts, and more explanation lines for the log.
    pub check: fn(&Outcome) -> (Vec<Row>, Vec<String>),
}

/// One measured boot.
pub struct Measured {
    pub report: Report,
    /// Its run directory, with the profile's folded stacks
    /// (`crate::call_paths`).
    pub dir: PathBuf,
}

/// One variant: its n-worker boots and the median of their losses, each
/// against the 1-worker boot of the same repeat.
pub struct VariantRun {
    pub label: &'static str,
    /// The 1-worker boots, repeat by repeat (paired with `n`).
    pub one: Vec<Measured>,
    pub n: Vec<Measured>,
    pub loss: ScalingLoss,
}

pub struct Outcome {
    pub name: &'static str,
    pub runs: Vec<VariantRun>,
}

impl Outcome {
    /// The run of variant `label`.
    pub fn variant(&self, label: &str) -> Option<&VariantRun> {
        self.runs.iter().find(|r| r.label == label)
    }
}

/// What the scenario boots from: the measure kernel's images (no user
/// modules) and the directory of the built demos.
pub struct Base<'a> {
    pub images: &'a Images,
    pub demos: &'a Path,
}

/// Boots every variant of `s` at one worker and at its n-worker shape,
/// explains each n-worker case, and judges the explanations. The measure
/// logs are added to `logs` (for the field coverage); the explanation is
/// printed and kept in `target/scenarios/`.
pub fn run(
    root: &Path,
    base: &Base<'_>,
    s: &Scenario,
    args: &FidelityArgs,
    accel: Accel,
    logs: &mut Vec<PathBuf>,
) -> Result<Vec<Row>> {
    let shape = if args.full { s.full } else { s.quick };
    let sample = crate::measure_tools::sample_hz_word(args.sample.resolve()?);
    let mut runs = Vec::new();
    let mut text = Vec::new();
    for v in s.variants {
        let boot = |cpus: u32, workers: u32, logs: &mut Vec<PathBuf>| -> Result<Measured> {
            let label = format!("{}-{}-smp{cpus}-w{workers}", s.name, v.label);
            let demo_args = (s.args)(workers, cpus, args.full);
            let cmdline = format!("{} tick_hz={} {sample} {}", super::CMDLINE, s.tick_hz, v.words);
            let case = Case {
                label: &label,
                args: &demo_args,
                cmdline: cmdline.trim(),
                cpus,
                workers,
                tick_hz: s.tick_hz,
            };
            boot_one(root, base, s.bench, &case, args, accel)
                .map(|(m, log)| {
                    logs.push(log);
                    m
                })
                .with_context(|| format!("scenario {label}"))
        };
        let case = format!("{} {} smp{}-w{}", s.name, v.label, shape.cpus, shape.workers);
        let (mut ones, mut ns, mut losses) = (Vec::new(), Vec::new(), Vec::new());
        for boots in 1..=s.repeats.max(1) {
            let one = boot(1, 1, logs)?;
            let n = boot(shape.cpus, shape.workers, logs)?;
            let k = s.bench.work_factor(shape.workers);
            let loss = scaling_loss(&one.report, &n.report, shape.workers, k)
                .with_context(|| format!("scenario {} {}", s.name, v.label))?;
            // User time growth on the same user work: how much slower the
            // emulator ran this pair's n-worker boot (also short kernel
            // paths: it is not a verdict, only context).
            let mut lines = loss.detail_lines(&format!(
                "{case} (repeat {boots}: user time {:+.0}%)",
                loss.user_growth() * 100.0
            ));
            lines.push(format!("  reports: {} (1 worker: {})", n.dir.display(), one.dir.display()));
            say(&mut text, lines);
            ones.push(one);
            ns.push(n);
            losses.push(loss);
        }
        let loss = median(&losses).context("no repeat")?;
        say(&mut text, loss.detail_lines(&format!("{case}: median of {} repeats", losses.len())));
        runs.push(VariantRun { label: v.label, one: ones, n: ns, loss });
    }
    let outcome = Outcome { name: s.name, runs };
    let (rows, mut lines) = (s.check)(&outcome);
    for r in rows.iter().filter(|r| r.names.is_some()) {
        if let Some((want, found, _)) = &r.names {
            lines.push(format!("  {}: {} (expected {want})", r.quantity, found));
        }
    }
    say(&mut text, lines);
    let file =
        crate::rundir::create(root, &format!("scenario-{}", s.name))?.join("explanation.log");
    std::fs::write(&file, text.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", file.display()))?;
    eprintln!("harness: scenario {}: {}", s.name, file.display());
    Ok(rows)
}

/// Prints explanation lines as they come and keeps them for the log.
fn say(text: &mut Vec<String>, lines: Vec<String>) {
    for line in &lines {
        eprintln!("harness: scenario {line}");
    }
    text.extend(lines);
}

/// One boot of a scenario.
struct Case<'a> {
    label: &'a str,
    args: &'a str,
    cmdline: &'a str,
    cpus: u32,
    workers: u32,
    tick_hz: u32,
}

/// Boots one case and returns its decoded, checked and profiled reports
/// and its measure.log.
fn boot_one(
    root: &Path,
    base: &Base<'_>,
    bench: Benchmark,
    case: &Case<'_>,
    args: &FidelityArgs,
    accel: Accel,
) -> Result<(Measured, PathBuf)> {
    let (label, cpus, workers) = (case.label, case.cpus, case.workers);
    let manifest = bench_capos::compile_case_manifest(root, bench, label, case.args)?;
    let mut images = base.images.clone();
    let mut elfs = ElfPaths::new().with_kernel(images.kernel.clone());
    for b in bench.binaries() {
        let path = base.demos.join(b);
        if !path.is_file() {
            bail!("user binary {} was not built", path.display());
        }
        images.modules.push(Module::new(b, path.clone(), ""));
        elfs = elfs.with_program(*b, path);
    }
    images.modules.push(Module::new("manifest", manifest, user::MANIFEST_CMDLINE));
    let name = format!("scenario-{label}");
    let (dir, out) =
        session::boot_direct(root, &name, &images, case.cmdline, cpus, &args.qemu, accel)?;
    let log = dir.join("serial.log");
    bench_capos::judge_exit(out.exit, &out.lines)
        .with_context(|| format!("log: {}", log.display()))?;
    verify(bench, workers, &out.lines).with_context(|| format!("log: {}", log.display()))?;
    let (report, stats) =
        crate::measure_log::report_from_com2(&images.kernel, &dir.join("com2.bin"))?;
    if stats.malformed > 0 {
        bail!("{} malformed COM2 frames in {}", stats.malformed, dir.display());
    }
    let mlog = crate::measure_log::write_measure_files(&report, &dir)?;
    crate::measure_log::validate_measure_log(
        &std::fs::read_to_string(&mlog)?,
        crate::measure_log::MARKED_PHASES,
    )?;
    crate::measure_log::check_snapshot(&report, &images.kernel)?;
    let check = crate::measure_tools::check_and_record_at(&mlog, cpus, accel, case.tick_hz)?;
    if !check.ok() {
        bail!("{} ({})", check.verdict_line(), dir.join("measure-check.log").display());
    }
    capos_flamegraphs::write_run_profile(&ReportInput::from_report(report.clone()), &elfs, &dir)
        .with_context(|| format!("profile of {}", dir.display()))?;
    eprintln!("harness: scenario {label}: reports in {}", dir.display());
    Ok((Measured { report, dir }, mlog))
}

/// The demo's result line says it did the whole work correctly (a
/// thread-scale line of either class: scenarios may yield).
fn verify(bench: Benchmark, workers: u32, lines: &[String]) -> Result<()> {
    let verified = match bench {
        Benchmark::ThreadScale => {
            let found: Vec<ThreadScaleLine> =
                lines.iter().filter_map(|l| ThreadScaleLine::parse(l).ok()).collect();
            match found.as_slice() {
                [l] => l.verified && l.threads == workers,
                other => bail!("{} thread-scale result lines, expected one", other.len()),
            }
        }
        _ => runner::parse_row(bench, workers, lines)?.verified,
    };
    if !verified {
        bail!("the {} result line is not verified", bench.name());
    }
    Ok(())
}
