//! `profile`: any program under the measure kernel. Takes a boot manifest
//! (capnp text, anywhere on disk), builds the user programs it names (or
//! takes prebuilt ELFs), boots them under the measure kernel and writes the
//! report set of a benchmark case into one directory: `measure.log`,
//! `measure.json`, the identity check, symbols, flamegraphs, the timeline,
//! `samples.perf.txt`, charts and `index.html` (docs/profiling.md, "Profile
//! your own program").

mod binaries;
mod page;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_measure::Phase;
use capos_symbolize::{ElfPaths, ReportInput};
use clap::Args;

use crate::build::{self, KernelFlavor, Module};
use crate::cli::QemuOpts;
use crate::{session, user};

#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// The boot manifest: capnp text with a `manifest` constant of type
    /// `Manifest` (schema/manifest.capnp); imports resolve against schema/.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// Number of CPUs.
    #[arg(long, value_name = "N", default_value = "2", value_parser = crate::cli::parse_smp)]
    pub smp: u32,
    /// A prebuilt program for the manifest's `binary = "NAME"`: `NAME=PATH`,
    /// or `PATH` (named by its file name). Repeat for more. Binaries not
    /// given here are built from the user packages.
    #[arg(long = "elf", value_name = "[NAME=]PATH")]
    pub elfs: Vec<String>,
    /// Another boot module to include, by name: a program the manifest's
    /// processes spawn (e.g. `process-scale-worker`). Repeat for more.
    #[arg(long = "binary", value_name = "NAME")]
    pub binaries: Vec<String>,
    /// A user package to build and search for the manifest's binaries, as
    /// well as capos-demos and capos-smokes. Repeat for more.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// A kernel command-line word (e.g. `sched=global`); repeat for more.
    #[arg(long = "kernel-word", value_name = "WORD")]
    pub kernel_words: Vec<String>,
    /// The output directory (default: target/profile/<manifest name>-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub sample: crate::measure_tools::SampleHzArg,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

/// Kernel words every profile boot gets: no per-thread start/exit lines
/// on the console (COM1 noise in the measured run).
const CMDLINE: &str = "suppress_switch_logs";

/// What a profile run produced (for the page and the caller).
pub struct Profiled {
    pub dir: PathBuf,
    pub index: PathBuf,
    /// Whether the guest ended well and every identity held.
    pub ok: bool,
}

/// `profile`: the whole command; `Ok(false)` when the guest failed or the
/// measure check found a broken identity (the report set is still written).
pub fn run(root: &Path, a: &ProfileArgs) -> Result<bool> {
    let p = profile(root, a)?;
    println!("harness: profile: report set in {}", p.dir.display());
    println!("harness: profile: {}", p.index.display());
    Ok(p.ok)
}

fn profile(root: &Path, a: &ProfileArgs) -> Result<Profiled> {
    if !a.manifest.is_file() {
        bail!("no manifest file {}", a.manifest.display());
    }
    for w in &a.kernel_words {
        if w.is_empty() || w.contains(char::is_whitespace) {
            bail!("--kernel-word {w:?} must be one word");
        }
    }
    let stem = (a.manifest.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    let dir = match &a.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => crate::rundir::create_in(root, "profile", &stem)?,
    };
    let accel = session::pick_accel(&a.qemu)?;
    let sample_hz = a.sample.resolve()?;
    // The manifest first: a typo in it should not cost a kernel build.
    let manifest_bin = dir.join("manifest.bin");
    user::compile_manifest_file(root, &a.manifest, &manifest_bin)?;
    let bytes = std::fs::read(&manifest_bin)
        .with_context(|| format!("cannot read {}", manifest_bin.display()))?;
    let processes = binaries::processes(&bytes)
        .with_context(|| format!("manifest {}", a.manifest.display()))?;
    let given = binaries::parse_elf_args(&a.elfs)?;
    let programs = binaries::resolve(root, &processes, &a.binaries, &given, &a.packages)?;
    let mut images = build::build_images(root, KernelFlavor::Measure)?;
    let mut elfs = ElfPaths::new().with_kernel(images.kernel.clone());
    for (name, path) in &programs {
        images.modules.push(Module::new(name, path.clone(), ""));
        elfs = elfs.with_program(name, path.clone());
    }
    images.modules.push(Module::new("manifest", manifest_bin, user::MANIFEST_CMDLINE));
    let mut cmdline = format!("{CMDLINE} {}", crate::measure_tools::sample_hz_word(sample_hz));
    for w in &a.kernel_words {
        cmdline.push(' ');
        cmdline.push_str(w);
    }
    let out = session::boot_in_dir(&dir, &images, &cmdline, a.smp, &a.qemu, accel, false)?;
    let exit = out.exit.describe();
    eprintln!("harness: profile: guest exit: {exit}");
    let com2 = dir.join("com2.bin");
    let (report, stats) = crate::measure_log::report_from_com2(&images.kernel, &com2)
        .with_context(|| {
            format!("no measure report from the run (guest exit: {exit}; console in {})", {
                dir.join("serial.log").display()
            })
        })?;
    if report.end.is_none() {
        bail!(
            "the measure report has no end record: the run stopped before the kernel emitted it \
             (guest exit: {exit}; console in {})",
            dir.join("serial.log").display()
        );
    }
    let log = crate::measure_log::write_measure_files(&report, &dir)?;
    crate::measure_log::validate_measure_log(&std::fs::read_to_string(&log)?, &[Phase::Aggregate])?;
    let snapshot = crate::measure_log::check_snapshot(&report, &images.kernel).err();
    let check = crate::measure_tools::check_and_record(&log, a.smp, accel)?;
    let prof = capos_flamegraphs::write_run_profile(
        &ReportInput::from_report(report.clone()),
        &elfs,
        &dir,
    )
    .with_context(|| format!("profile of {}", dir.display()))?;
    let guest_ok = out.exit.check(true).is_ok();
    let mut notes = vec![
        format!("manifest: {}", a.manifest.display()),
        format!(
            "SMP {}, accel {:?}, sample clock {sample_hz} Hz per CPU, kernel command line `{cmdline}`",
            a.smp,
            accel
        ),
        format!("guest exit: {exit}{}", if guest_ok { "" } else { " (the run FAILED)" }),
        format!("COM2: {} defmt frames, {} malformed", stats.frames, stats.malformed),
        check.verdict_line(),
    ];
    notes.extend(check.failures().map(|r| format!("measure check failed: {r:#}")));
    if let Some(e) = &snapshot {
        notes.push(format!("snapshot check FAILED: {e:#}"));
    }
    notes.extend(programs.iter().map(|(n, p)| format!("program {n}: {}", p.display())));
    let index = page::write(&dir, &stem, &report, &prof, notes)?;
    Ok(Profiled { dir, index, ok: guest_ok && check.ok() && snapshot.is_none() })
}
