//! The benchmark subcommands: `bench-capos` (capOS guest rows plus the Linux
//! guest rows of the same invocation), `bench-linux-native`,
//! `bench-linux-guest`, `bench-summary`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use capos_workloads::{ipc_scale, process_scale, thread_scale};
use clap::Args;

use super::capos::{CaposExec, SUPPRESS_SWITCH_LOGS_WORD};
use super::gates::Policy;
use super::guest::{self, GuestExec};
use super::knobs::Knobs;
use super::native::{NativeExec, Workload};
use super::runner::{self, Case, Executor};
use super::sched_policy::SchedPolicy;
use super::{artifacts, baseline, profile, report, results, Benchmark, Os};
use crate::cli::{parse_smp, parse_timeout, AccelChoice};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark.
    #[arg(value_enum)]
    pub benchmark: Benchmark,
    /// Worker counts to run (the 1-worker case is the speedup baseline).
    #[arg(long, value_name = "N,..", default_value = "1,2,4", value_delimiter = ',', value_parser = parse_smp)]
    pub workers: Vec<u32>,
    /// Runs per case (default: CAPOS_THREAD_SCALE_RUNS / CAPOS_SMP_SCALE_RUNS /
    /// CAPOS_IPC_SCALE_RUNS, else 5).
    #[arg(long, value_name = "K")]
    pub runs: Option<u32>,
    /// Pin to these host CPUs (`0-3` or `0,2`): native cases use the first N; guests use all.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Wall-clock limit per run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Accelerator (guest runs).
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
    /// Guest memory (QEMU `-m` syntax).
    #[arg(long, value_name = "SIZE", default_value = "512M")]
    pub mem: String,
    /// Guest kernel (default: newest /boot/vmlinuz-*).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Do not echo consoles; they still go to the artifact logs.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct CaposBenchArgs {
    #[command(flatten)]
    pub bench: BenchArgs,
    /// Skip the Linux guest rows (capOS rows only; no capOS/Linux ratio).
    #[arg(long)]
    pub no_linux: bool,
    /// capOS run-queue policies, each its own rows interleaved run by run
    /// (`percpu`, `global` or `percpu,global`; default: CAPOS_SCHED_POLICY,
    /// else percpu).
    #[arg(long, value_name = "POLICY,..")]
    pub sched_policy: Option<String>,
    /// Words added to every capOS boot's kernel command line (e.g.
    /// `--kernel-word tick_hz=1000`), timed, measure and overhead runs alike.
    #[command(flatten)]
    pub words: crate::cli::KernelWords,
    /// The measure pass's sample clock (`_GUEST_MEASURE=1`).
    #[command(flatten)]
    pub sample: crate::measure_tools::SampleHzArg,
    /// The overhead pass (normal kernel vs measure kernel at several rates).
    #[command(flatten)]
    pub overhead: super::overhead::OverheadArgs,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// An existing results.csv; summary.log and speedup-table.md go beside it.
    pub csv: PathBuf,
}

/// `0-3,6` -> [0, 1, 2, 3, 6].
pub fn parse_cpu_list(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || anyhow::anyhow!("`{s}` is not a CPU list like 0-3 or 0,2");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() {
        anyhow::bail!("empty CPU list");
    }
    Ok(out)
}

pub(crate) fn host_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

fn workload(bench: Benchmark, knobs: &Knobs) -> Workload {
    match bench {
        Benchmark::ThreadScale => Workload::ThreadScale {
            blocks: knobs.total_blocks.unwrap_or(thread_scale::DEFAULT_TOTAL_BLOCKS),
            rounds: knobs.work_rounds.unwrap_or(thread_scale::BENCH_WORK_ROUNDS),
        },
        Benchmark::ProcessScale => {
            let (lo, hi) =
                knobs.range.unwrap_or((process_scale::DEFAULT_LO, process_scale::DEFAULT_HI));
            Workload::ProcessScale { lo, hi }
        }
        Benchmark::IpcScale => {
            Workload::IpcScale { calls: knobs.calls.unwrap_or(ipc_scale::DEFAULT_CALLS) }
        }
    }
}

/// Worker counts, the SMT case, and notes about what was not collected.
fn worker_counts(args: &BenchArgs, knobs: &Knobs, notes: &mut Vec<String>) -> Vec<u32> {
    let mut w = args.workers.clone();
    if knobs.include_smt {
        if host_cpus() >= 8 {
            w.push(8);
            notes.push("smp8-smt is an SMT diagnostic, not 8-core evidence".into());
        } else {
            notes.push(format!(
                "smp8-smt diagnostic not collected: the host has {} logical CPUs",
                host_cpus()
            ));
        }
    }
    w.dedup();
    w
}

fn common_setup(args: &BenchArgs) -> Result<(Knobs, Vec<String>, bool)> {
    let mut knobs = Knobs::from_env(args.benchmark)?;
    if let Some(r) = args.runs {
        knobs.runs = r.max(1);
    }
    let mut notes = Vec::new();
    let p = super::knobs::prefix(args.benchmark);
    if knobs.guest_measure || knobs.suppress_switch_logs {
        notes.push(format!(
            "{p}GUEST_MEASURE / SUPPRESS_SWITCH_LOGS apply to capOS guests; ignored for Linux"
        ));
    }
    let profile = profile::enabled(knobs.profile, &mut notes);
    Ok((knobs, notes, profile))
}

pub fn native(root: &Path, args: &BenchArgs) -> Result<bool> {
    let (knobs, mut notes, profile) = common_setup(args)?;
    let pin = pinned_cpus(args, &knobs)?;
    let cases: Vec<Case> = worker_counts(args, &knobs, &mut notes)
        .into_iter()
        .map(|w| match &pin {
            Some(list) => {
                let mine: Vec<u32> = list.iter().copied().take(w as usize).collect();
                Case {
                    label: format!("cpus{}-w{w}", mine.len()),
                    cpus: mine.len() as u32,
                    workers: w,
                    pin: Some(mine),
                }
            }
            None => Case { label: format!("w{w}"), cpus: 0, workers: w, pin: None },
        })
        .collect();
    let bin = baseline::build(root)?;
    let mut exec = NativeExec {
        bin,
        workload: workload(args.benchmark, &knobs),
        timeout: args.timeout,
        profile,
        quiet: args.quiet,
    };
    if pin.is_none() {
        notes.push(format!("not pinned: cases share the host's {} CPUs", host_cpus()));
    }
    run_and_report(root, args.benchmark, &mut exec, &cases, &knobs, &notes)
}

/// The host CPUs to pin to: `--cpus`, else `CAPOS_BENCH_CPUS`.
fn pinned_cpus(args: &BenchArgs, knobs: &Knobs) -> Result<Option<Vec<u32>>> {
    args.cpus.as_deref().or(knobs.host_cpus.as_deref()).map(parse_cpu_list).transpose()
}

/// Guest cases: N workers under `-smp N`, QEMU pinned to the whole list.
fn guest_cases(args: &BenchArgs, knobs: &Knobs, notes: &mut Vec<String>) -> Result<Vec<Case>> {
    let pin = pinned_cpus(args, knobs)?;
    Ok(worker_counts(args, knobs, notes)
        .into_iter()
        .map(|w| Case { label: format!("smp{w}-w{w}"), cpus: w, workers: w, pin: pin.clone() })
        .collect())
}

/// The Linux guest executor; its initramfs goes into `art`.
fn linux_guest(
    root: &Path,
    args: &BenchArgs,
    knobs: &Knobs,
    profile: bool,
    accel: crate::accel::Accel,
    art: &Path,
    notes: &mut Vec<String>,
) -> Result<GuestExec> {
    let kernel = match &args.kernel {
        Some(k) => k.clone(),
        None => guest::find_kernel(Path::new("/boot"))?,
    };
    let bin = baseline::build(root)?;
    let initramfs = art.join("initramfs.cpio");
    guest::write_initramfs(&bin, &initramfs)?;
    notes.push(format!("linux guest kernel {}", kernel.display()));
    Ok(GuestExec {
        kernel,
        initramfs,
        accel,
        mem: args.mem.clone(),
        workload: workload(args.benchmark, knobs),
        timeout: args.timeout,
        profile,
        quiet: args.quiet,
    })
}

pub fn guest(root: &Path, args: &BenchArgs) -> Result<bool> {
    let (knobs, mut notes, profile) = common_setup(args)?;
    let (accel, why) = crate::accel::choose(args.accel, Path::new(crate::accel::KVM_DEVICE))?;
    eprintln!("harness: accel: {why}");
    let cases = guest_cases(args, &knobs, &mut notes)?;
    let art = artifacts::create(root, Os::LinuxGuest, args.benchmark)?;
    let mut exec = linux_guest(root, args, &knobs, profile, accel, &art, &mut notes)?;
    finish(args.benchmark, &mut exec, &cases, &knobs, &notes, &art)
}

/// `bench-capos`: the capOS demo at 1/2/4 workers under matching `-smp`,
/// interleaved run by run with the Linux guest running the same workload
/// (unless `--no-linux`), all rows in one results.csv and one summary.
pub fn capos(root: &Path, a: &CaposBenchArgs) -> Result<bool> {
    let started = std::time::Instant::now();
    let args = &a.bench;
    let bench = args.benchmark;
    let mut knobs = Knobs::from_env(bench)?;
    if let Some(r) = args.runs {
        knobs.runs = r.max(1);
    }
    if let Some(list) = &a.sched_policy {
        knobs.sched_policies = super::sched_policy::parse_list(list)?;
    }
    let mut notes = Vec::new();
    // Resolved before any run, so a bad CAPOS_MEASURE_SAMPLE_HZ fails first.
    let sample_hz = a.sample.resolve()?;
    let overhead_rounds = a.overhead.rounds(&knobs);
    let overhead_rates = a.overhead.rates()?;
    let profile = profile::enabled(knobs.profile, &mut notes);
    if profile {
        notes.push(
            "host profiling covers the timed capOS and Linux guest runs, not the measure and \
             overhead passes"
                .into(),
        );
    }
    let cmdline = if knobs.suppress_switch_logs { SUPPRESS_SWITCH_LOGS_WORD } else { "" };
    if knobs.suppress_switch_logs {
        notes.push(format!(
            "capOS kernel command line `{cmdline}`: no process/thread start and exit lines"
        ));
    }
    let extra = a.words.joined();
    if !extra.is_empty() {
        notes.push(format!("capOS kernel command line adds `{extra}` (--kernel-word)"));
    }
    let cmdline = [cmdline, extra.as_str()]
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let (accel, why) = crate::accel::choose(args.accel, Path::new(crate::accel::KVM_DEVICE))?;
    eprintln!("harness: accel: {why}");
    let cases = guest_cases(args, &knobs, &mut notes)?;
    let work = workload(bench, &knobs);
    notes.push(format!("workload {work:?}"));
    // Everything is built and every manifest compiled before the first run.
    let (images, manifests) = CaposExec::prepare(root, bench, &work, &cases)?;
    let art = artifacts::create(root, Os::Capos, bench)?;
    notes.push(format!(
        "guest_measure={}",
        if knobs.guest_measure {
            format!(
                "on (one measure-kernel pass per case, after the timed runs; sample clock \
                 {sample_hz} Hz per CPU, tick {} Hz unless a tick_hz= word says otherwise)",
                capos_abi::guest::DEFAULT_TICK_HZ
            )
        } else {
            "off".to_string()
        }
    ));
    let first = CaposExec {
        images,
        manifests,
        accel,
        mem: args.mem.clone(),
        timeout: args.timeout,
        quiet: args.quiet,
        cmdline,
        sched_policy: knobs.sched_policies.first().copied().unwrap_or(SchedPolicy::PerCpu),
        profile,
    };
    // One capOS executor per scheduler policy, interleaved run by run.
    let mut capos_execs: Vec<CaposExec> =
        knobs.sched_policies.iter().map(|&p| first.with_policy(p)).collect();
    notes.push(format!(
        "capOS scheduler policy: {} (kernel word sched=<policy>; case ids of other policies \
         than percpu end in -<policy>; speedups compare each policy with its own 1-worker case)",
        knobs.sched_policies.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    ));
    let mut linux = if a.no_linux {
        notes.push("Linux guest rows skipped (--no-linux)".into());
        None
    } else {
        Some(linux_guest(root, args, &knobs, profile, accel, &art, &mut notes)?)
    };
    eprintln!("harness: artifacts in {}", art.display());
    let mut rows = {
        let mut execs: Vec<&mut dyn Executor> =
            capos_execs.iter_mut().map(|e| e as &mut dyn Executor).collect();
        if let Some(l) = linux.as_mut() {
            execs.push(l);
        }
        runner::run_interleaved(bench, &mut execs, &cases, &knobs, &art)?
    };
    let mut loss_extra = Vec::new();
    let mut loss_bars = Vec::new();
    let measured = if knobs.guest_measure {
        let (mut m, mut diffs) = (Vec::new(), Vec::new());
        for capos in &capos_execs {
            let (mine, diff) = super::guest_measure::run(
                root,
                capos,
                sample_hz,
                &cases,
                &art,
                &mut rows,
                bench.binaries(),
            )?;
            // Each policy's cases against its own 1-worker case.
            let (loss_lines, loss_tables, bars) = super::guest_measure::scaling_loss(bench, &mine);
            notes.extend(loss_lines);
            loss_extra.extend(loss_tables);
            loss_bars.extend(bars);
            m.extend(mine);
            diffs.extend(diff);
        }
        if overhead_rounds == 0 {
            notes.extend(super::guest_measure::overhead_notes(&rows, &m));
        }
        notes.extend(super::guest_measure::check_notes(&m));
        diffs.extend(super::guest_measure::cpu_states_chart(&art, &m));
        diffs.extend(super::guest_measure::loss_chart(&art, &loss_bars));
        diffs.extend(super::guest_measure::lock_hist_chart(&art, &m));
        Some((m, diffs))
    } else {
        None
    };
    let capos = &capos_execs[0];
    if overhead_rounds > 0 && capos_execs.len() > 1 {
        notes.push(format!(
            "the overhead pass ran under the {} policy only",
            capos.sched_policy.name()
        ));
    }
    let (overhead_text, overhead_tables) = if overhead_rounds > 0 {
        let runs = super::overhead::run(
            root,
            bench,
            capos,
            &cases,
            &overhead_rates,
            overhead_rounds,
            &knobs,
            &art,
        )?;
        let st = super::overhead::summarize(&runs);
        (
            super::overhead::summary_text(&st, overhead_rounds, &overhead_rates),
            vec![super::overhead::table(&st)],
        )
    } else {
        (String::new(), Vec::new())
    };
    let wall: u64 = rows.iter().filter_map(|r| r.wall_ms).sum();
    notes.push(format!(
        "wall time: {:.1} s in QEMU over {} timed runs, {:.1} s for the whole command (builds and measure pass included)",
        wall as f64 / 1000.0,
        rows.len(),
        started.elapsed().as_secs_f64()
    ));
    let ok = write_summary(bench.name(), &rows, &knobs, &notes, &overhead_text, &art)?;
    if let Some((m, mut diff)) = measured {
        if let Some(chart) = super::guest_measure::speedup_chart(&art, bench.name(), &rows) {
            diff.insert(0, chart);
        }
        let index = super::guest_measure::write_index(
            &art,
            bench.name(),
            &m,
            diff,
            &notes,
            loss_extra.into_iter().chain(overhead_tables).collect(),
        )?;
        println!("harness: report: {}", index.display());
    }
    Ok(ok)
}

fn run_and_report(
    root: &Path,
    bench: Benchmark,
    exec: &mut dyn Executor,
    cases: &[Case],
    knobs: &Knobs,
    notes: &[String],
) -> Result<bool> {
    let art = artifacts::create(root, exec.os(), bench)?;
    finish(bench, exec, cases, knobs, notes, &art)
}

fn finish(
    bench: Benchmark,
    exec: &mut dyn Executor,
    cases: &[Case],
    knobs: &Knobs,
    notes: &[String],
    art: &Path,
) -> Result<bool> {
    eprintln!("harness: artifacts in {}", art.display());
    let rows = runner::run_all(bench, exec, cases, knobs, art)?;
    write_summary(bench.name(), &rows, knobs, notes, "", art)
}

fn policy(knobs: &Knobs) -> Policy {
    Policy {
        require_work: knobs.require_speedup,
        work_threshold: knobs.speedup_threshold,
        require_total: knobs.require_total_speedup,
        total_threshold: knobs.total_speedup_threshold,
        require_work4: knobs.require_speedup_1to4,
        work4_threshold: knobs.speedup_threshold_1to4,
        require_total4: knobs.require_total_speedup_1to4,
        total4_threshold: knobs.total_speedup_threshold_1to4,
    }
}

/// Writes summary.log (with `extra` lines, e.g. the overhead table, after
/// the notes) and speedup-table.md into `dir`.
fn write_summary(
    bench: &str,
    rows: &[results::Row],
    knobs: &Knobs,
    notes: &[String],
    extra: &str,
    dir: &Path,
) -> Result<bool> {
    let mut s = report::summarize(bench, rows, &policy(knobs), host_cpus(), notes);
    s.text.push_str(extra);
    std::fs::write(dir.join("summary.log"), &s.text).context("writing summary.log")?;
    std::fs::write(dir.join("speedup-table.md"), &s.markdown)
        .context("writing speedup-table.md")?;
    print!("{}", s.text);
    eprintln!("harness: summary in {}", dir.join("summary.log").display());
    Ok(s.errors.is_empty())
}

/// Summary-only replay of an existing results.csv.
pub fn summary(args: &SummaryArgs) -> Result<bool> {
    let rows = results::read(&args.csv)?;
    let first = rows.first().context("results.csv has no rows")?;
    let bench = Benchmark::from_name(&first.benchmark).with_context(|| {
        format!("unknown benchmark `{}` in {}", first.benchmark, args.csv.display())
    })?;
    let knobs = Knobs::from_env(bench)?;
    let dir = args.csv.parent().unwrap_or(Path::new("."));
    let overhead_csv = dir.join(super::overhead::CSV_FILE);
    let overhead = if overhead_csv.is_file() {
        super::overhead::replay(&overhead_csv)?
    } else {
        String::new()
    };
    write_summary(
        bench.name(),
        &rows,
        &knobs,
        &["summary replayed from results.csv (and overhead.csv, if any)".into()],
        &overhead,
        dir,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench_args(benchmark: Benchmark) -> BenchArgs {
        BenchArgs {
            benchmark,
            workers: vec![1, 2, 4],
            runs: None,
            cpus: None,
            timeout: Duration::from_secs(60),
            accel: AccelChoice::Auto,
            mem: "512M".into(),
            kernel: None,
            quiet: true,
        }
    }

    #[test]
    fn ipc_scale_cases_are_one_pair_per_vcpu() {
        let args = bench_args(Benchmark::IpcScale);
        let knobs = Knobs::from_lookup(Benchmark::IpcScale, |_| None).unwrap();
        let cases = guest_cases(&args, &knobs, &mut Vec::new()).unwrap();
        let got: Vec<(&str, u32, u32)> =
            cases.iter().map(|c| (c.label.as_str(), c.cpus, c.workers)).collect();
        assert_eq!(got, [("smp1-w1", 1, 1), ("smp2-w2", 2, 2), ("smp4-w4", 4, 4)]);
        let w = workload(Benchmark::IpcScale, &knobs);
        assert_eq!(w, Workload::IpcScale { calls: ipc_scale::DEFAULT_CALLS });
        let small = Knobs { calls: Some(40), ..knobs };
        let w = workload(Benchmark::IpcScale, &small);
        assert_eq!(super::super::capos::demo_args(&w, 4, 4), "pairs=4 calls=40 cpus=4");
        assert_eq!(w.cmdline_value(2), "ipc-scale,pairs=2,calls=40");
        assert_eq!(w.argv(2), ["ipc-scale", "--pairs=2", "--calls=40"]);
        assert_eq!(
            Benchmark::IpcScale.binaries(),
            ["ipc-scale", "ipc-scale-server", "ipc-scale-client"]
        );
        assert_eq!(Benchmark::from_name("ipc-scale"), Some(Benchmark::IpcScale));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,6").unwrap(), [0, 1, 2, 3, 6]);
        assert_eq!(parse_cpu_list("1").unwrap(), [1]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
    }
}
