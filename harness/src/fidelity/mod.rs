//! `fidelity`: the ground-truth suite. Each planted workload (a `fid-*`
//! program in `userspace/smokes`) does something whose measurement is known
//! in advance, runs under the measure kernel, and its reports
//! (`measure.log`, `user-pc-symbols.log`, folded stacks) must find it.
//!
//! One file per workload: it says how to boot it ([`Workload`]) and turns a
//! finished [`Run`] into table rows ([`table::Row`]: expected, measured,
//! tolerance). Adding a planted quantity is one more row in its workload's
//! `check`; adding a workload is one more file and one line in [`WORKLOADS`].

mod artifacts;
mod coverage;
mod cpu_shares;
mod cpu_time;
mod ipi;
mod joins;
mod lock;
mod lock_pairs;
mod memory;
mod migrate;
mod overflow;
mod oversub;
mod run_queue;
mod samelink;
mod scenario;
mod scenarios;
mod sched;
mod sleep;
mod syscalls;
mod table;
#[cfg(test)]
mod tests;
mod thread_time;
mod thread_views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_flamegraphs::RunProfile;
use capos_measure::report::Report;
use capos_symbolize::{ElfPaths, ReportInput};
use clap::Args;

use crate::build::{self, Images, KernelFlavor, Module};
use crate::cli::QemuOpts;
use crate::{session, user};
pub use table::Row;

#[derive(Args, Debug)]
pub struct FidelityArgs {
    /// Only this workload (e.g. `fid-cpu-shares`).
    #[arg(long)]
    pub only: Option<String>,
    /// Boots per workload.
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// The longer runs of `make fidelity` (more samples, tighter tolerances)
    /// instead of the short ones of `make test`.
    #[arg(long)]
    pub full: bool,
    /// More measure.log files for the field coverage (`make test` passes
    /// the measure smoke's log); each must exist and parse.
    #[arg(long, value_name = "LOG")]
    pub coverage_log: Vec<PathBuf>,
    #[command(flatten)]
    pub sample: crate::measure_tools::SampleHzArg,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

/// A planted workload: how to boot it and how to judge its reports.
pub struct Workload {
    /// Binary and process name (a `fid-*` program of `capos-smokes`).
    pub name: &'static str,
    /// CPUs to boot with.
    pub smp: u32,
    /// Scheduler tick rate, kernel `tick_hz=` (samples have their own
    /// clock: the run's `--sample-hz`, kernel `sample_hz=`).
    pub tick_hz: u32,
    /// More processes running the same binary, with `peer=1` added to
    /// their arguments (named `<name>-peer<i>`; only `name` is judged by
    /// its PASS line and planted line, every process by its failures).
    pub peers: u32,
    /// Program arguments for the short (`make test`) and full runs.
    pub quick_args: &'static str,
    pub full_args: &'static str,
    /// The rows of one finished run.
    pub check: fn(&Run) -> Result<Vec<Row>>,
}

/// Every planted workload, in the order the suite runs them.
pub const WORKLOADS: &[&Workload] = &[
    &cpu_shares::WORKLOAD,
    &sleep::WORKLOAD,
    &lock::WORKLOAD,
    &joins::WORKLOAD,
    &migrate::WORKLOAD,
    &syscalls::WORKLOAD,
    &ipi::WORKLOAD,
    &oversub::WORKLOAD,
    &memory::WORKLOAD,
    &overflow::WORKLOAD,
    &sched::WORKLOAD,
    &samelink::WORKLOAD,
];

/// Kernel words some workloads' boots add, by workload name (kept apart
/// from [`Workload`] so the workloads that need none carry no field).
const EXTRA_CMDLINE: &[(&str, &str)] =
    &[(overflow::WORKLOAD.name, overflow::CMDLINE), (memory::WORKLOAD.name, memory::CMDLINE)];

/// Peers that run a binary of their own instead of the workload's, by
/// workload name (the peer's binary is built with the workload's).
const PEER_BINARIES: &[(&str, &str)] = &[(samelink::WORKLOAD.name, samelink::PEER)];

/// The binary `w`'s peers run.
fn peer_binary(w: &Workload) -> &'static str {
    PEER_BINARIES.iter().find(|(n, _)| *n == w.name).map_or(w.name, |(_, b)| b)
}

/// One finished, decoded and symbolized run of a workload.
pub struct Run {
    pub report: Report,
    /// The ELFs the run's views were resolved with.
    pub elfs: ElfPaths,
    /// The workload's `planted` line.
    pub planted: BTreeMap<String, u64>,
    pub profile: RunProfile,
}

impl Run {
    /// A planted value.
    pub fn planted(&self, key: &str) -> Result<u64> {
        artifacts::value(&self.planted, key)
    }

    /// A file the run wrote, as text.
    pub fn read(&self, path: &Path) -> Result<String> {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Kernel words every fidelity boot gets besides its tick rate: no
/// per-thread start/exit lines on the console (they would be COM1 noise in
/// the measured phases).
const CMDLINE: &str = "suppress_switch_logs";

/// The capnp manifest of `w`: its process and peers, the fidelity
/// capability slots (`capos_smokes::fidelity`: slots 5 and 6 are one
/// endpoint, served and called by the same process), `args`.
fn manifest_text(w: &Workload, args: &str) -> String {
    let process = |name: &str, b: &str, args: &str| {
        format!(
            "  (name = \"{name}\", binary = \"{b}\", args = \"{args}\",\n   \
             caps = [(kind = console), (kind = timer), (kind = threadSpawner), \
             (kind = parkSpace), (kind = measure), \
             (kind = endpoint, endpoint = \"fidelity\", receive = true), \
             (kind = endpoint, endpoint = \"fidelity\")])"
        )
    };
    let mut procs = vec![process(w.name, w.name, args)];
    for i in 1..=w.peers {
        let name = format!("{}-peer{i}", w.name);
        procs.push(process(&name, peer_binary(w), &format!("{args} peer=1")));
    }
    format!(
        "@0xc3a1f0e2d4b5a6f1;\nusing M = import \"/manifest.capnp\";\n\
         const manifest :M.Manifest = (processes = [\n{}\n]);\n",
        procs.join(",\n")
    )
}

fn images_for(
    root: &Path,
    base: &Images,
    programs: &Path,
    w: &Workload,
    args: &str,
) -> Result<Images> {
    let dir = root.join("target/manifests");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let src = dir.join(format!("fidelity-{}.capnp", w.name));
    std::fs::write(&src, manifest_text(w, args))
        .with_context(|| format!("cannot write {}", src.display()))?;
    let bin =
        user::compile_manifest_file(root, &src, &dir.join(format!("fidelity-{}.bin", w.name)))?;
    let mut images = base.clone();
    let prog = programs.join(w.name);
    if !prog.is_file() {
        bail!("user binary {} was not built", prog.display());
    }
    images.modules.push(Module::new(w.name, prog, ""));
    let peer = peer_binary(w);
    if peer != w.name && w.peers > 0 {
        let prog = programs.join(peer);
        if !prog.is_file() {
            bail!("user binary {} was not built", prog.display());
        }
        images.modules.push(Module::new(peer, prog, ""));
    }
    images.modules.push(Module::new("manifest", bin, user::MANIFEST_CMDLINE));
    Ok(images)
}

/// Boots `w` once, decodes and symbolizes its reports, and checks them.
fn run_once(
    root: &Path,
    images: &Images,
    programs: &Path,
    w: &Workload,
    args: &FidelityArgs,
    accel: crate::accel::Accel,
    logs: &mut Vec<PathBuf>,
) -> Result<Vec<Row>> {
    let sample = crate::measure_tools::sample_hz_word(args.sample.resolve()?);
    let mut cmdline = format!("{CMDLINE} tick_hz={} {sample}", w.tick_hz);
    for (_, words) in EXTRA_CMDLINE.iter().filter(|(n, _)| *n == w.name) {
        cmdline.push(' ');
        cmdline.push_str(words);
    }
    let name = format!("fidelity-{}", w.name);
    let (dir, out) = session::boot_direct(root, &name, images, &cmdline, w.smp, &args.qemu, accel)?;
    let log = dir.join("serial.log");
    crate::smokes::judge(w.name, &out.lines, out.exit)
        .map_err(|e| anyhow::anyhow!("{e} (log: {})", log.display()))?;
    let (report, stats) =
        crate::measure_log::report_from_com2(&images.kernel, &dir.join("com2.bin"))?;
    if stats.malformed > 0 {
        bail!("{} malformed COM2 frames in {}", stats.malformed, dir.display());
    }
    match report.end {
        Some(e) if e.lost == 0 => {}
        Some(e) => bail!("{} of {} measure records lost in {}", e.lost, e.records, dir.display()),
        None => bail!("the measure report in {} has no end record", dir.display()),
    }
    let mlog = crate::measure_log::write_measure_files(&report, &dir)?;
    crate::measure_log::validate_measure_log(
        &std::fs::read_to_string(&mlog)?,
        crate::measure_log::MARKED_PHASES,
    )?;
    logs.push(mlog.clone());
    crate::measure_log::check_snapshot(&report, &images.kernel)?;
    // Every log the suite produces must also pass the counter identities.
    let check = crate::measure_tools::check_and_record_at(&mlog, w.smp, accel, w.tick_hz)?;
    let identities = Row::name(
        w.name,
        "measure check (counter identities)",
        "ok",
        check.verdict_line(),
        check.ok(),
    );
    let mut elfs = ElfPaths::new()
        .with_kernel(images.kernel.clone())
        .with_program(w.name, programs.join(w.name));
    if peer_binary(w) != w.name {
        elfs = elfs.with_program(peer_binary(w), programs.join(peer_binary(w)));
    }
    let profile = capos_flamegraphs::write_run_profile(
        &ReportInput::from_report(report.clone()),
        &elfs,
        &dir,
    )
    .with_context(|| format!("profile of {}", dir.display()))?;
    let planted = artifacts::planted(&out.lines, w.name)
        .with_context(|| format!("log: {}", log.display()))?;
    eprintln!("harness: fidelity: {} reports in {}", w.name, dir.display());
    let run = Run { report, elfs, planted, profile };
    let mut rows = (w.check)(&run)?;
    rows.push(identities);
    Ok(rows)
}

/// Adds run `k` of `name` to `rows` (a run that failed as a whole is one
/// failed row saying why) and prints its summary line.
fn keep(name: &str, k: u32, got: Result<Vec<Row>>, rows: &mut Vec<Row>) {
    let got = got
        .unwrap_or_else(|e| vec![Row::missing(name, format!("run {}", k + 1), format!("{e:#}"))]);
    let bad = got.iter().filter(|r| !r.pass()).count();
    eprintln!("harness: fidelity: {name} run {}: {} rows, {bad} failed", k + 1, got.len());
    rows.extend(got);
}

pub fn run(root: &Path, args: &FidelityArgs) -> Result<bool> {
    let accel = session::pick_accel(&args.qemu)?;
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .copied()
        .filter(|w| args.only.as_deref().is_none_or(|o| o == w.name))
        .collect();
    let scenarios: Vec<&scenario::Scenario> = scenarios::SCENARIOS
        .iter()
        .copied()
        .filter(|s| args.only.as_deref().is_none_or(|o| o == s.name))
        .collect();
    if selected.is_empty() && scenarios.is_empty() {
        let names: Vec<&str> = (WORKLOADS.iter().map(|w| w.name))
            .chain(scenarios::SCENARIOS.iter().map(|s| s.name))
            .collect();
        bail!("no fidelity workload named {:?} (workloads: {})", args.only, names.join(", "));
    }
    let base = build::build_images(root, KernelFlavor::Measure)?;
    let programs = user::build_package(root, "capos-smokes")?;
    let mut rows = Vec::new();
    let mut logs = Vec::new();
    if !scenarios.is_empty() {
        let demos = user::build_package(root, crate::bench::capos::DEMOS_PACKAGE)?;
        let sbase = scenario::Base { images: &base, demos: &demos };
        for s in scenarios {
            for k in 0..args.repeat {
                let got = scenario::run(root, &sbase, s, args, accel, &mut logs);
                keep(s.name, k, got, &mut rows);
            }
        }
    }
    for w in selected {
        let wargs = if args.full { w.full_args } else { w.quick_args };
        let images = images_for(root, &base, &programs, w, wargs)?;
        for k in 0..args.repeat {
            let got = run_once(root, &images, &programs, w, args, accel, &mut logs);
            keep(w.name, k, got, &mut rows);
        }
    }
    let failed = rows.iter().filter(|r| !r.pass()).count();
    println!(
        "\nfidelity: every planted quantity ({} rows, {} runs each):",
        rows.len(),
        args.repeat
    );
    print!("{}", table::render(&rows));
    println!("fidelity: {} of {} rows within tolerance", rows.len() - failed, rows.len());
    // Coverage is a property of the whole suite: a run of one workload
    // (`--only`) cannot raise every field, so it prints no verdict.
    let covered = if args.only.is_some() {
        println!("fidelity: field coverage not judged for --only");
        true
    } else {
        logs.extend(args.coverage_log.iter().cloned());
        coverage::run(&logs)?
    };
    // The failures again, last: CI keeps only the tail of the output, and
    // the coverage matrix above pushes the table out of it.
    if failed > 0 {
        println!("fidelity: {failed} rows outside tolerance:");
        let bad: Vec<Row> = rows.into_iter().filter(|r| !r.pass()).collect();
        print!("{}", table::render(&bad));
    }
    Ok(failed == 0 && covered)
}
