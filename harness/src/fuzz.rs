//! `fuzz`: boots the syscall and ring fuzzer (`fuzz` / `fuzz-child` in
//! userspace/smokes, planned by `capos_fuzzplan`) once per seed and CPU
//! count and judges each run: a kernel panic, a hang (QEMU killed at the
//! run's timeout) or a run without the parent's PASS line is a failure
//! with a replay command. With `--seconds N` it keeps starting runs with
//! the next seed until N seconds have passed.
//!
//! Each run's manifest is `schema/manifests/fuzz.capnp` with the parent's
//! `args = "seed=..."` replaced, written to target/manifests/fuzz-<seed>.capnp.

mod judge;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use capos_fuzzplan::args::{ParentArgs, DEFAULT_THREADS, MAX_CHILDREN, MAX_OPS};
use capos_fuzzplan::plan::{child_deadline_ms, max_ops_per_worker};
use clap::Args;

use crate::build::{self, Images, KernelFlavor, Module};
use crate::cli::{parse_smp, parse_timeout, AccelChoice, QemuOpts};
use crate::{rundir, session, user};
use judge::{Report, Verdict};

/// Ops per run unless `--ops` says otherwise (also the Makefile's default).
pub const DEFAULT_OPS: u32 = 5000;
pub const DEFAULT_CHILDREN: u32 = 3;
/// Kernel command line of fuzz runs: every spawn would otherwise print
/// its start and exit lines, slowing the guest down.
const CMDLINE: &str = "suppress_switch_logs";
/// Binaries the parent and children start by name (not in the manifest).
const SPAWNED_BINARIES: [&str; 2] = ["fuzz-child", "exit-child"];

#[derive(Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Keep starting runs (the next seed each time) until this many seconds
    /// have passed; 0: one run per CPU count.
    #[arg(long, value_name = "N", default_value = "0")]
    pub seconds: u64,
    /// Seed of the first run (default: from the clock).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Ops per run, split over the children and their worker threads.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_OPS, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_OPS)))]
    pub ops: u32,
    /// Fuzz children per run (they run at once).
    #[arg(long, value_name = "K", default_value_t = DEFAULT_CHILDREN, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CHILDREN)))]
    pub children: u32,
    /// CPU counts to run every seed at (comma separated).
    #[arg(long, value_name = "N,..", default_value = "4", value_delimiter = ',', value_parser = parse_smp)]
    pub smp: Vec<u32>,
    /// Wall-clock limit of one run (default: scaled with the ops).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Accelerator.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
    /// Guest memory (QEMU `-m` syntax).
    #[arg(long, value_name = "SIZE", default_value = "512M")]
    pub mem: String,
    /// Do not echo the guest console; it still goes to serial.log.
    #[arg(long)]
    pub quiet: bool,
    /// Extra kernel command-line words (e.g. `--kernel-word sched=global`).
    #[command(flatten)]
    pub words: crate::cli::KernelWords,
}

/// Wall-clock limit of a run: boot and shutdown under emulation, plus the
/// longest a child may take before it gives up on its workers, plus slack.
/// Reaching it means the kernel stopped making progress.
pub fn run_timeout(args: &ParentArgs) -> Duration {
    Duration::from_secs(30)
        + Duration::from_millis(child_deadline_ms(max_ops_per_worker(args)))
        + Duration::from_secs(15)
}

/// The (seed, smp) of run `i`: every seed at every CPU count, in order.
pub fn nth_run(first_seed: u64, smps: &[u32], i: u64) -> (u64, u32) {
    let n = smps.len().max(1) as u64;
    (first_seed.wrapping_add(i / n), smps.get((i % n) as usize).copied().unwrap_or(1))
}

/// Whether run `i` starts: the first seed always runs at every CPU count;
/// later ones only while `seconds` have not passed.
pub fn starts(i: u64, smps: usize, seconds: u64, elapsed: Duration) -> bool {
    i < smps as u64 || (seconds > 0 && elapsed < Duration::from_secs(seconds))
}

/// A seed from the clock (milliseconds since the epoch: short and readable).
fn clock_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64)
}

/// `template` with the parent's `args = "seed=..."` replaced by `args`
/// (exactly one such string must be there).
pub fn manifest_for(template: &str, args: &ParentArgs) -> Result<String> {
    const KEY: &str = "args = \"seed=";
    let found: Vec<usize> = template.match_indices(KEY).map(|(i, _)| i).collect();
    let [at] = found.as_slice() else {
        bail!("the fuzz manifest must have exactly one `{KEY}...\"`, found {}", found.len());
    };
    let start = at + KEY.len() - "seed=".len();
    let len =
        template[start..].find('"').context("unterminated args string in the fuzz manifest")?;
    Ok(format!("{}{args}{}", &template[..start], &template[start + len..]))
}

/// Every `binary = "..."` a manifest names.
pub fn manifest_binaries(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in template.split("binary = \"").skip(1) {
        if let Some((name, _)) = piece.split_once('"') {
            if !out.iter().any(|b| b == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The replay command for a failed run (`words`: its extra kernel words).
pub fn replay(seed: u64, smp: u32, ops: u32, children: u32, words: &str) -> String {
    let mut s = format!("make fuzz SEED={seed} SECONDS=0 SMP={smp}");
    if ops != DEFAULT_OPS {
        s += &format!(" OPS={ops}");
    }
    if children != DEFAULT_CHILDREN {
        s += &format!(" CHILDREN={children}");
    }
    if !words.is_empty() {
        s += &format!(" KERNEL_WORDS=\"{words}\"");
    }
    s
}

/// Loader, kernel and every program a fuzz run boots or spawns.
fn prepare_images(root: &Path, template: &str) -> Result<Images> {
    let mut images = build::build_images(root, KernelFlavor::Normal)?;
    let dir = user::build_package(root, "capos-smokes")?;
    let mut names = manifest_binaries(template);
    names.extend(SPAWNED_BINARIES.map(String::from));
    names.dedup();
    for b in names.iter().filter(|b| b.as_str() != user::MANIFEST_CMDLINE) {
        let path = dir.join(b);
        if !path.is_file() {
            bail!("user binary {} (named by the fuzz manifest) was not built", path.display());
        }
        if !images.modules.iter().any(|m| m.host_path == path) {
            images.modules.push(Module::new(b, path, ""));
        }
    }
    Ok(images)
}

/// A directory removed (best effort) when the invocation ends, however it ends.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies every image into `dir`, so all runs of one invocation boot the
/// same kernel and programs even while someone rebuilds them in place.
fn snapshot(images: &Images, dir: &Path) -> Result<Images> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let copy = |src: &Path, name: &str| -> Result<PathBuf> {
        let dst = dir.join(name);
        std::fs::copy(src, &dst)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        Ok(dst)
    };
    let mut out = Images {
        loader: copy(&images.loader, "loader")?,
        kernel: copy(&images.kernel, "kernel")?,
        modules: Vec::new(),
    };
    for m in &images.modules {
        let name = m.path_in_archive.rsplit('/').next().unwrap_or("module");
        out.modules.push(Module { host_path: copy(&m.host_path, name)?, ..m.clone() });
    }
    Ok(out)
}

fn compile_manifest(root: &Path, template: &str, args: &ParentArgs) -> Result<PathBuf> {
    let dir = root.join("target/manifests");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let src = dir.join(format!("fuzz-{}.capnp", args.seed));
    std::fs::write(&src, manifest_for(template, args)?)
        .with_context(|| format!("cannot write {}", src.display()))?;
    user::compile_manifest_file(root, &src, &dir.join(format!("fuzz-{}.bin", args.seed)))
}

#[derive(Default)]
struct Tally {
    runs: u64,
    ops: u64,
    panics: u64,
    hangs: u64,
    failures: u64,
    /// Runs with suspect signs (unexpected user faults, child panics).
    suspect_runs: u64,
}

pub fn run(root: &Path, a: &FuzzArgs) -> Result<bool> {
    let mut opts = QemuOpts {
        timeout: Duration::from_secs(60),
        accel: a.accel,
        mem: a.mem.clone(),
        quiet: a.quiet,
    };
    let accel = session::pick_accel(&opts)?;
    let src = root.join(user::MANIFEST_DIR).join("fuzz.capnp");
    let template =
        std::fs::read_to_string(&src).with_context(|| format!("cannot read {}", src.display()))?;
    let snapshot_dir =
        RemovedOnDrop(root.join("target/fuzz").join(format!("images-{}", std::process::id())));
    let images = snapshot(&prepare_images(root, &template)?, &snapshot_dir.0)?;
    let first = a.seed.unwrap_or_else(clock_seed);
    let words = a.words.joined();
    let cmdline = format!("{CMDLINE} {words}").trim().to_string();
    println!(
        "harness: fuzz: first seed {first}, {} ops and {} children per run, smp {:?}, kernel `{cmdline}`",
        a.ops, a.children, a.smp
    );
    let started = Instant::now();
    let mut t = Tally::default();
    let mut i = 0u64;
    while starts(i, a.smp.len(), a.seconds, started.elapsed()) {
        let (seed, smp) = nth_run(first, &a.smp, i);
        i += 1;
        let args = ParentArgs { seed, ops: a.ops, children: a.children, threads: DEFAULT_THREADS };
        opts.timeout = a.timeout.unwrap_or_else(|| run_timeout(&args));
        let mut run_images = images.clone();
        run_images.modules.push(Module::new(
            "manifest",
            compile_manifest(root, &template, &args)?,
            user::MANIFEST_CMDLINE,
        ));
        let dir = rundir::create(root, &format!("fuzz-s{seed}-smp{smp}"))?;
        let wall = Instant::now();
        let report =
            match session::boot_in_dir(&dir, &run_images, &cmdline, smp, &opts, accel, true) {
                Ok(out) => judge::judge(&args, &out.lines, out.exit),
                // qemu::run's wording for a guest it had to kill.
                Err(e) if format!("{e:#}").contains("timed out after") => judge::judge_timeout(
                    &read_lines(&dir.join("serial.log")),
                    &read_lines(&dir.join(crate::qemu::HANG_STACKS)),
                    opts.timeout.as_secs(),
                ),
                Err(e) => {
                    return Err(e.context(format!("fuzz run seed={seed} smp={smp} could not run")))
                }
            };
        t.runs += 1;
        t.ops += u64::from(a.ops);
        t.suspect_runs += u64::from(!report.suspects.is_empty());
        print_run(&args, smp, &words, &report, wall.elapsed(), &dir);
        match report.verdict {
            Verdict::Pass => continue,
            Verdict::Panic(_) => t.panics += 1,
            Verdict::Hang(_) => t.hangs += 1,
            Verdict::Failure(_) => t.failures += 1,
        }
    }
    let failed = t.panics + t.hangs + t.failures;
    if t.suspect_runs > 0 {
        println!(
            "harness: fuzz: {} of {} runs showed suspect signs (the `suspect:` lines)",
            t.suspect_runs, t.runs
        );
    }
    println!(
        "fuzz: {} runs, {} ops, {} panics, {} hangs, {} failures",
        t.runs, t.ops, t.panics, t.hangs, t.failures
    );
    println!("total: {} passed, {failed} failed", t.runs - failed);
    Ok(failed == 0)
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
}

fn print_run(args: &ParentArgs, smp: u32, words: &str, r: &Report, wall: Duration, dir: &Path) {
    let c = r.children;
    // Killed children cannot report their steps: the rate is a lower bound.
    let rate = match r.guest_ms {
        Some(ms) if ms > 0 => format!(
            ", {} steps reported in {ms} guest ms: >= {:.0} ops/s",
            c.steps,
            c.steps as f64 * 1000.0 / ms as f64
        ),
        _ => String::new(),
    };
    let outcome = match &r.verdict {
        Verdict::Pass => "ok".to_string(),
        Verdict::Panic(_) => "PANIC".to_string(),
        Verdict::Hang(_) => "HANG".to_string(),
        Verdict::Failure(_) => "FAILED".to_string(),
    };
    println!(
        "harness: fuzz seed={} smp={smp} ops={} children={}: {outcome} in {:.1} s{rate} (children: {} finished, {} killed, {} other exits, {} stalled, {} not run)",
        args.seed,
        args.ops,
        args.children,
        wall.as_secs_f64(),
        c.finished,
        c.killed,
        c.other,
        c.stalled,
        c.not_run
    );
    for s in &r.suspects {
        println!("harness:   suspect: {s}");
    }
    let why = match &r.verdict {
        Verdict::Pass => return,
        Verdict::Panic(w) | Verdict::Hang(w) | Verdict::Failure(w) => w,
    };
    println!(
        "harness: fuzz FAILED seed={} smp={smp} (replay: {})",
        args.seed,
        replay(args.seed, smp, args.ops, args.children, words)
    );
    println!("harness:   {why}");
    println!("harness:   log: {}", dir.join("serial.log").display());
    let stacks = dir.join(crate::qemu::HANG_STACKS);
    if stacks.is_file() {
        println!("harness:   vCPU stacks: {}", stacks.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<FuzzArgs, clap::Error> {
        let cli =
            Cli::try_parse_from(["capos-harness", "fuzz"].iter().chain(args.iter()).copied())?;
        let Command::Fuzz(f) = cli.command else { panic!("not the fuzz subcommand") };
        Ok(f)
    }

    #[test]
    fn arguments_and_defaults() {
        let f = parse(&[]).unwrap();
        assert_eq!(
            (f.seconds, f.seed, f.ops, f.children, f.smp.clone()),
            (0, None, DEFAULT_OPS, DEFAULT_CHILDREN, vec![4])
        );
        assert_eq!((f.timeout, f.accel), (None, AccelChoice::Auto));
        let f = parse(&[
            "--seconds",
            "60",
            "--seed",
            "42",
            "--ops",
            "10",
            "--smp",
            "2,4",
            "--accel",
            "tcg",
            "--timeout",
            "9",
        ])
        .unwrap();
        assert_eq!((f.seconds, f.seed, f.ops, f.smp.clone()), (60, Some(42), 10, vec![2, 4]));
        assert_eq!((f.accel, f.timeout), (AccelChoice::Tcg, Some(Duration::from_secs(9))));
        assert!(parse(&["--children", "0"]).is_err());
        assert!(parse(&["--children", "17"]).is_err());
        assert!(parse(&["--ops", "99999999999"]).is_err());
        assert!(parse(&["--seed", "-1"]).is_err());
        assert!(parse(&["--smp", "0"]).is_err());
    }

    #[test]
    fn runs_cover_every_smp_then_continue_only_within_the_time() {
        assert_eq!(nth_run(7, &[2, 4], 0), (7, 2));
        assert_eq!(nth_run(7, &[2, 4], 1), (7, 4));
        assert_eq!(nth_run(7, &[2, 4], 2), (8, 2));
        assert_eq!(nth_run(u64::MAX, &[4], 1), (0, 4));
        let zero = Duration::ZERO;
        assert!(starts(0, 2, 0, Duration::from_secs(999)) && starts(1, 2, 0, zero));
        assert!(!starts(2, 2, 0, zero), "--seconds 0 is one run per smp");
        assert!(starts(2, 2, 60, Duration::from_secs(59)));
        assert!(!starts(2, 2, 60, Duration::from_secs(60)));
    }

    #[test]
    fn manifest_args_are_replaced_exactly_once() {
        let t = "(name = \"fuzz\", binary = \"fuzz\", args = \"seed=1 ops=2000 children=3\"),\n\
                 (name = \"b\", binary = \"bystander\", args = \"ms=10 stop=2\")";
        let a = ParentArgs { seed: 77, ops: 5, children: 2, threads: DEFAULT_THREADS };
        let m = manifest_for(t, &a).unwrap();
        assert!(m.contains("args = \"seed=77 ops=5 children=2\""), "{m}");
        assert!(m.contains("args = \"ms=10 stop=2\""), "{m}");
        assert!(manifest_for("args = \"ms=1\"", &a).is_err());
        assert!(manifest_for(&format!("{t}{t}"), &a).is_err());
        assert_eq!(manifest_binaries(t), vec!["fuzz", "bystander"]);
    }

    #[test]
    fn the_checked_in_manifest_fits() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let t = std::fs::read_to_string(root.join(user::MANIFEST_DIR).join("fuzz.capnp")).unwrap();
        let a = ParentArgs { seed: 3, ops: 1, children: 1, threads: DEFAULT_THREADS };
        assert!(manifest_for(&t, &a).unwrap().contains("\"seed=3 ops=1 children=1\""));
        assert!(manifest_binaries(&t).contains(&"fuzz".to_string()));
    }

    #[test]
    fn replay_commands_and_timeouts() {
        assert_eq!(
            replay(5, 4, DEFAULT_OPS, DEFAULT_CHILDREN, ""),
            "make fuzz SEED=5 SECONDS=0 SMP=4"
        );
        assert_eq!(replay(5, 2, 300, 1, ""), "make fuzz SEED=5 SECONDS=0 SMP=2 OPS=300 CHILDREN=1");
        assert_eq!(
            replay(5, 4, DEFAULT_OPS, DEFAULT_CHILDREN, "sched=global tick_hz=1000"),
            "make fuzz SEED=5 SECONDS=0 SMP=4 KERNEL_WORDS=\"sched=global tick_hz=1000\""
        );
        let small = run_timeout(&ParentArgs { seed: 1, ops: 100, children: 1, threads: 4 });
        let big = run_timeout(&ParentArgs { seed: 1, ops: 100_000, children: 1, threads: 4 });
        assert!(small >= Duration::from_secs(55) && big > small);
    }
}
