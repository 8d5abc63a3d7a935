//! One boot of an image: accelerator choice, run directory, initrd, QEMU,
//! and for kernel tests the judged result.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::accel::{self, Accel};
use crate::archive;
use crate::build::Images;
use crate::cli::QemuOpts;
use crate::ktest::{self, Expect, KtestReport, Problem};
use crate::qemu::{self, BootMedia, QemuConfig, RunOutcome};

/// Picks the accelerator once and says which one is used.
pub fn pick_accel(opts: &QemuOpts) -> Result<Accel> {
    let (accel, why) = accel::choose(opts.accel, Path::new(accel::KVM_DEVICE))?;
    eprintln!("harness: accel: {why}");
    Ok(accel)
}

/// Boots `images` through the PVH loader with `cmdline`, in a new run dir `name-<ts>`.
pub fn boot_direct(
    root: &Path,
    name: &str,
    images: &Images,
    cmdline: &str,
    smp: u32,
    opts: &QemuOpts,
    accel: Accel,
) -> Result<(PathBuf, RunOutcome)> {
    let run_dir = crate::rundir::create(root, name)?;
    let outcome = boot_in_dir(&run_dir, images, cmdline, smp, opts, accel, false)?;
    Ok((run_dir, outcome))
}

/// Boots `images` (its loader unused) through the real Limine: builds a
/// BIOS/UEFI ISO with the kernel, every module and `limine.conf`
/// (`iso::build_iso`, Limine files from `limine_dir`, staged by
/// `limine::stage`), and boots it from a CD drive (under the UEFI
/// firmware `uefi` when given, else the BIOS), in a new run dir.
#[allow(clippy::too_many_arguments)]
pub fn boot_limine(
    root: &Path,
    name: &str,
    images: &Images,
    cmdline: &str,
    smp: u32,
    opts: &QemuOpts,
    accel: Accel,
    limine_dir: &Path,
    uefi: Option<&Path>,
) -> Result<(PathBuf, RunOutcome)> {
    let run_dir = crate::rundir::create(root, name)?;
    eprintln!("harness: run dir {}", run_dir.display());
    let iso_path = run_dir.join("capos.iso");
    crate::iso::build_iso(images, cmdline, limine_dir, &iso_path)?;
    let boot = match uefi {
        Some(firmware) => BootMedia::UefiCdrom { iso: iso_path, firmware: firmware.into() },
        None => BootMedia::Cdrom(iso_path),
    };
    let outcome = boot_media(boot, &run_dir, images, smp, opts, accel, false)?;
    Ok((run_dir, outcome))
}

/// Runs QEMU on `boot` in `run_dir` with the QEMU options of a capOS boot
/// and backtraces resolved against `images`; warns when the kernel was
/// silent. With `watch`, a guest that times out gets its vCPU stacks
/// recorded first (`qemu::run_watched`).
fn boot_media(
    boot: BootMedia,
    run_dir: &Path,
    images: &Images,
    smp: u32,
    opts: &QemuOpts,
    accel: Accel,
    watch: bool,
) -> Result<RunOutcome> {
    let cfg = QemuConfig {
        boot,
        smp,
        mem: opts.mem.clone(),
        accel,
        timeout: opts.timeout,
        run_dir: run_dir.to_path_buf(),
        quiet: opts.quiet,
        symbol_elfs: symbol_elfs(images),
    };
    let outcome = if watch { qemu::run_watched(&cfg)? } else { qemu::run(&cfg)? };
    outcome.warn_if_kernel_silent();
    Ok(outcome)
}

/// The ELFs a boot's backtraces resolve against: kernel and loader first,
/// then the user programs (not the manifest).
fn symbol_elfs(images: &Images) -> Vec<PathBuf> {
    [images.kernel.clone(), images.loader.clone()]
        .into_iter()
        .filter(|p| !p.as_os_str().is_empty())
        .chain(
            images
                .modules
                .iter()
                .filter(|m| m.cmdline != crate::user::MANIFEST_CMDLINE)
                .map(|m| m.host_path.clone()),
        )
        .collect()
}

/// [`boot_direct`] into an existing run directory (so a caller still knows
/// where the console log is when the boot fails, e.g. on a timeout). With
/// `watch`, a guest that times out gets its vCPU stacks recorded first
/// (`qemu::run_watched`).
pub fn boot_in_dir(
    run_dir: &Path,
    images: &Images,
    cmdline: &str,
    smp: u32,
    opts: &QemuOpts,
    accel: Accel,
    watch: bool,
) -> Result<RunOutcome> {
    eprintln!("harness: run dir {}", run_dir.display());
    let initrd = run_dir.join("initrd.tar");
    archive::write_initrd(images, cmdline, &initrd).context("cannot pack the initrd")?;
    let boot = BootMedia::Direct { loader: images.loader.clone(), initrd };
    boot_media(boot, run_dir, images, smp, opts, accel, watch)
}

/// A judged kernel-test run.
pub struct KtestRun {
    pub report: KtestReport,
    pub problems: Vec<Problem>,
    pub outcome: RunOutcome,
}

/// The kernel command line for a test run (`extra` words come first).
pub fn ktest_cmdline(filter: Option<&str>, extra: &str) -> String {
    use capos_abi::guest::{CMDLINE_KTEST, CMDLINE_KTEST_FILTER};
    let ktest = match filter {
        Some(f) => format!("{CMDLINE_KTEST_FILTER}{f}"),
        None => CMDLINE_KTEST.to_string(),
    };
    if extra.trim().is_empty() {
        ktest
    } else {
        format!("{} {ktest}", extra.trim())
    }
}

/// What a kernel-test run is asked to do.
pub struct KtestAsk<'a> {
    /// `ktest=<filter>`: only tests whose name contains it.
    pub filter: Option<&'a str>,
    /// More kernel command-line words.
    pub extra_cmdline: &'a str,
    pub expect: &'a Expect,
}

/// Boots the ktest kernel and judges the run; prints the per-test results
/// and `harness: ktest smp=N: P passed, F failed`.
pub fn run_ktest(
    root: &Path,
    images: &Images,
    smp: u32,
    ask: &KtestAsk,
    opts: &QemuOpts,
    accel: Accel,
) -> Result<KtestRun> {
    let KtestAsk { filter, extra_cmdline, expect } = *ask;
    let name = format!("ktest-smp{smp}");
    let (_, outcome) =
        boot_direct(root, &name, images, &ktest_cmdline(filter, extra_cmdline), smp, opts, accel)?;
    let report = KtestReport::parse(outcome.lines.iter().map(String::as_str));
    let problems = ktest::evaluate(&report, outcome.exit, expect);
    for t in &report.passed {
        eprintln!("harness:   ok      {t}");
    }
    for (t, why) in &report.failed {
        eprintln!("harness:   FAILED  {t}: {why}");
    }
    eprintln!("harness: guest exit: {}", outcome.exit.describe());
    println!(
        "harness: ktest smp={smp}: {} passed, {} failed",
        report.passed.len(),
        report.failed.len()
    );
    for p in &problems {
        eprintln!("harness: problem: {p}");
    }
    Ok(KtestRun { report, problems, outcome })
}

/// Whether `lines` show the kernel running the run-queue policy the last
/// `sched=` word of `cmdline` asks for (`Ok` when it names none), so a run
/// under a word the kernel ignored cannot pass as that policy's.
pub fn check_sched_policy(cmdline: &str, lines: &[String]) -> Result<(), String> {
    use capos_abi::guest::{CMDLINE_SCHED, SCHED_POLICY_LINE};
    let Some(want) =
        cmdline.split_whitespace().filter_map(|w| w.strip_prefix(CMDLINE_SCHED)).next_back()
    else {
        return Ok(());
    };
    match lines.iter().find_map(|l| l.trim_end().strip_prefix(SCHED_POLICY_LINE)) {
        Some(got) if got == want => Ok(()),
        Some(got) => Err(format!("{CMDLINE_SCHED}{want} asked for, the kernel ran policy={got}")),
        None => Err(format!("{CMDLINE_SCHED}{want} asked for, no `{SCHED_POLICY_LINE}` line")),
    }
}

/// A boot through the real Limine: Limine loaded the kernel and each of
/// `modules` modules (its own `limine: Loading ...` messages on COM1, from
/// `serial: yes`), and the kernel names Limine as its bootloader. Under
/// UEFI Limine writes through the firmware's console, one character at a
/// time between cursor moves and without line breaks, so the console is
/// read as one text with its escape sequences taken out.
pub fn check_limine_boot(lines: &[String], modules: usize) -> Result<(), String> {
    let text = strip_escapes(&lines.join("\n"));
    let has = |p: &str| text.matches(p).count();
    if has("limine: Loading kernel") != 1 {
        return Err("no `limine: Loading kernel` line: Limine did not load the kernel".into());
    }
    let loaded = has("limine: Loading module");
    if loaded != modules {
        return Err(format!("Limine loaded {loaded} modules, the image has {modules}"));
    }
    if has("kernel: booted by Limine ") != 1 {
        return Err("the kernel does not say `booted by Limine`".into());
    }
    Ok(())
}

/// `text` without ANSI/VT100 control sequences (`ESC [ params letter`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final letter.
            for p in chars.by_ref() {
                if p.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod limine_boot_tests {
    use super::check_limine_boot;

    #[test]
    fn a_limine_boot_shows_limine_loading_everything() {
        let lines: Vec<String> = [
            "limine: Loading kernel `boot():/boot/kernel`...",
            "limine: Loading module `boot():/boot/modules/a`...",
            "limine: Loading module `boot():/boot/modules/manifest`...",
            "kernel: booted by Limine 8.2.0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(check_limine_boot(&lines, 2), Ok(()));
        assert!(check_limine_boot(&lines, 3).unwrap_err().contains("loaded 2 modules"));
        assert!(check_limine_boot(&lines[1..], 2).unwrap_err().contains("Loading kernel"));
        let pvh = ["kernel: booted by capos-pvh 0.1".to_string()];
        assert!(check_limine_boot(&pvh, 0).is_err());
    }

    #[test]
    fn a_uefi_console_is_read_through_its_cursor_moves() {
        // Limine under OVMF: characters between cursor moves, no newline
        // before the kernel's first line.
        let mut s = String::from("\u{1b}[2J\u{1b}[01;01H");
        for (i, c) in "limine: Loading kernel `k`...".chars().enumerate() {
            s.push_str(&format!("\u{1b}[01;{:02}H{c}", i + 1));
        }
        s.push_str("limine: Loading module `m`...kernel: capOS starting");
        let lines = vec![s, "kernel: booted by Limine 8.2.0".to_string()];
        assert_eq!(check_limine_boot(&lines, 1), Ok(()));
    }
}

#[cfg(test)]
mod sched_policy_tests {
    use super::check_sched_policy;

    #[test]
    fn the_kernel_must_run_the_policy_the_command_line_names() {
        let lines = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
        let global = lines("kernel: tick 100 Hz\nkernel: scheduler policy=global\n");
        assert!(check_sched_policy("", &global).is_ok());
        assert!(check_sched_policy("noapic sched=global", &global).is_ok());
        let e = check_sched_policy("sched=percpu", &global).unwrap_err();
        assert!(e.contains("ran policy=global"), "{e}");
        let e = check_sched_policy("sched=global", &lines("kernel: tick 100 Hz\n")).unwrap_err();
        assert!(e.contains("no `kernel: scheduler policy=` line"), "{e}");
        // The last word wins, as in the kernel.
        assert!(check_sched_policy("sched=percpu sched=global", &global).is_ok());
    }
}
