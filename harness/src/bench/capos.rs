//! Executor: the capOS guest running a scaling demo (userspace/demos) under
//! its focused manifest, one boot per run.
//!
//! Each case gets its own manifest: the checked-in
//! `schema/manifests/<benchmark>.capnp` with its one `args = "..."` replaced
//! by the case's workload (e.g. `threads=2 blocks=262144 rounds=64 cpus=2`),
//! written to `target/manifests/<benchmark>-<case>.capnp` and compiled with
//! `capnp eval --binary` before any run starts. A run boots the PVH loader
//! with the initrd (loader, kernel, demo binaries, manifest) under the same
//! QEMU envelope as every capOS run (`qemu::QemuConfig::args`), optionally
//! pinned with `taskset`, and must end with the kernel's `Success` exit
//! (every manifest process exited 0); anything else fails the run, naming
//! the case.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use capos_abi::guest::GuestExit;

use super::native::{taskset, Workload};
use super::runner::{Capture, Case, Executor};
use super::sched_policy::SchedPolicy;
use super::{qemu_run, Benchmark, Os};
use crate::accel::Accel;
use crate::build::{self, Images, KernelFlavor, Module};
use crate::qemu::{BootMedia, ExitKind, QemuConfig};
use crate::user;

/// The user package holding the demos.
pub const DEMOS_PACKAGE: &str = "capos-demos";

impl Benchmark {
    /// Checked-in manifest (`schema/manifests/<name>.capnp`) and the process
    /// in it whose `args` a case fills in.
    pub fn manifest(self) -> &'static str {
        match self {
            Benchmark::ThreadScale => "thread-scale",
            Benchmark::ProcessScale => "smp-process-scale",
            Benchmark::IpcScale => "ipc-scale",
        }
    }

    /// Boot modules the demo needs.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Benchmark::ThreadScale => &["thread-scale"],
            Benchmark::ProcessScale => &["smp-process-scale", "process-scale-worker"],
            Benchmark::IpcScale => &["ipc-scale", "ipc-scale-server", "ipc-scale-client"],
        }
    }
}

/// The demo's `args` for a case with `workers` on `cpus` vCPUs.
pub fn demo_args(workload: &Workload, workers: u32, cpus: u32) -> String {
    match workload {
        Workload::ThreadScale { blocks, rounds } => {
            format!("threads={workers} blocks={blocks} rounds={rounds} cpus={cpus}")
        }
        Workload::ProcessScale { lo, hi } => {
            format!("workers={workers} lo={lo} hi={hi} cpus={cpus}")
        }
        Workload::IpcScale { calls } => format!("pairs={workers} calls={calls} cpus={cpus}"),
    }
}

/// `template` (capnp text) with its single `args = "..."` replaced by `args`.
/// Fails unless there is exactly one, so a changed template cannot silently
/// run the wrong workload.
pub fn manifest_variant(template: &str, args: &str) -> Result<String> {
    const KEY: &str = "args = \"";
    let found: Vec<usize> = template.match_indices(KEY).map(|(i, _)| i).collect();
    let [at] = found.as_slice() else {
        bail!(
            "the manifest template must have exactly one `args = \"...\"`, found {}",
            found.len()
        );
    };
    let start = at + KEY.len();
    let len =
        template[start..].find('"').context("unterminated args string in the manifest template")?;
    if args.contains(['"', '\\', '\n']) {
        bail!("manifest args may not contain quotes, backslashes or newlines: `{args}`");
    }
    Ok(format!("{}{args}{}", &template[..start], &template[start + len..]))
}

/// Writes and compiles the manifest of one case; returns the binary.
pub fn compile_case_manifest(
    root: &Path,
    bench: Benchmark,
    case_label: &str,
    args: &str,
) -> Result<PathBuf> {
    let name = bench.manifest();
    let src = root.join(user::MANIFEST_DIR).join(format!("{name}.capnp"));
    let template =
        std::fs::read_to_string(&src).with_context(|| format!("cannot read {}", src.display()))?;
    let text = manifest_variant(&template, args).with_context(|| format!("{}", src.display()))?;
    let dir = root.join("target/manifests");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let variant = dir.join(format!("{name}-{case_label}.capnp"));
    std::fs::write(&variant, text)
        .with_context(|| format!("cannot write {}", variant.display()))?;
    user::compile_manifest_file(root, &variant, &dir.join(format!("{name}-{case_label}.bin")))
}

pub struct CaposExec {
    /// Loader, kernel and the demo binaries (no manifest).
    pub images: Images,
    /// Compiled manifest per case label.
    pub manifests: Vec<(String, PathBuf)>,
    pub accel: Accel,
    pub mem: String,
    pub timeout: Duration,
    pub quiet: bool,
    /// Kernel command line (e.g. `suppress_switch_logs`), without the
    /// scheduler policy's word.
    pub cmdline: String,
    /// The run-queue policy booted (its `sched=` word joins the command line).
    pub sched_policy: SchedPolicy,
    /// `_PROFILE`: record each run's QEMU with `perf record` (see
    /// [`super::profile`]); timed runs only, [`CaposExec::with_kernel`]
    /// turns it off for the measure and overhead passes.
    pub profile: bool,
}

/// Kernel command-line word that turns off the scheduler transition lines
/// (process/thread start and exit), for `_SUPPRESS_SWITCH_LOGS=1`.
pub const SUPPRESS_SWITCH_LOGS_WORD: &str = "suppress_switch_logs";

impl CaposExec {
    /// Builds loader, kernel and demos, and compiles every case's manifest,
    /// before any timing starts.
    pub fn prepare(
        root: &Path,
        bench: Benchmark,
        workload: &Workload,
        cases: &[Case],
    ) -> Result<(Images, Vec<(String, PathBuf)>)> {
        let mut images = build::build_images(root, KernelFlavor::Normal)?;
        let dir = user::build_package(root, DEMOS_PACKAGE)?;
        for b in bench.binaries() {
            let path = dir.join(b);
            if !path.is_file() {
                bail!("user binary {} was not built", path.display());
            }
            images.modules.push(Module::new(b, path, ""));
        }
        let mut manifests = Vec::new();
        for c in cases {
            let args = demo_args(workload, c.workers, c.cpus);
            let bin = compile_case_manifest(root, bench, &c.label, &args)
                .with_context(|| format!("manifest of capos {} case {}", bench.name(), c.label))?;
            manifests.push((c.label.clone(), bin));
        }
        Ok((images, manifests))
    }

    /// The same executor booting `kernel` instead (the measure kernel),
    /// with `extra` words added to the kernel command line; not profiled.
    pub fn with_kernel(&self, kernel: PathBuf, extra: &str) -> CaposExec {
        let mut images = self.images.clone();
        images.kernel = kernel;
        CaposExec {
            images,
            manifests: self.manifests.clone(),
            accel: self.accel,
            mem: self.mem.clone(),
            timeout: self.timeout,
            quiet: self.quiet,
            cmdline: [self.cmdline.as_str(), extra]
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            sched_policy: self.sched_policy,
            profile: false,
        }
    }

    /// The same executor booting another run-queue policy.
    pub fn with_policy(&self, sched_policy: SchedPolicy) -> CaposExec {
        let mut e = self.with_kernel(self.images.kernel.clone(), "");
        e.sched_policy = sched_policy;
        e.profile = self.profile;
        e
    }

    /// The whole kernel command line: the words plus the policy's word.
    pub fn kernel_cmdline(&self) -> String {
        let word = self.sched_policy.kernel_word();
        [Some(self.cmdline.as_str()), word.as_deref()]
            .into_iter()
            .flatten()
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Directory of the user binaries the images carry.
    pub fn program_dir(&self) -> Option<PathBuf> {
        self.images.modules.first().and_then(|m| m.host_path.parent()).map(Path::to_path_buf)
    }

    fn images_for(&self, case: &Case) -> Result<Images> {
        let (_, manifest) = self
            .manifests
            .iter()
            .find(|(l, _)| *l == case.label)
            .with_context(|| format!("no manifest was compiled for case {}", case.label))?;
        let mut images = self.images.clone();
        images.modules.push(Module::new("manifest", manifest, user::MANIFEST_CMDLINE));
        Ok(images)
    }
}

/// Judges how QEMU ended: only the kernel's `Success` (all manifest
/// processes exited 0) is a good run.
pub fn judge_exit(exit: ExitKind, lines: &[String]) -> Result<()> {
    if exit == ExitKind::Guest(GuestExit::Success) {
        return Ok(());
    }
    let hints: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error")
                || l.contains("panic")
                || l.contains("fault")
                || l.contains("verified=false")
                || l.contains("exited: code")
        })
        .take(4)
        .collect();
    bail!(
        "the capOS guest did not end with Success: {}{}",
        exit.describe(),
        if hints.is_empty() { String::new() } else { format!(" ({})", hints.join("; ")) }
    )
}

impl Executor for CaposExec {
    fn os(&self) -> Os {
        Os::Capos
    }

    fn sched_policy(&self) -> Option<&'static str> {
        Some(self.sched_policy.name())
    }

    fn case_label(&self, case: &Case) -> String {
        format!("{}{}", case.label, self.sched_policy.case_suffix())
    }

    fn accel(&self) -> &str {
        match self.accel {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn run(&mut self, case: &Case, dir: &Path) -> Result<Capture> {
        let images = self.images_for(case)?;
        let initrd = dir.join("initrd.tar");
        crate::archive::write_initrd(&images, &self.kernel_cmdline(), &initrd)
            .context("cannot pack the initrd")?;
        let cfg = QemuConfig {
            boot: BootMedia::Direct { loader: images.loader.clone(), initrd },
            smp: case.cpus,
            mem: self.mem.clone(),
            accel: self.accel,
            timeout: self.timeout,
            run_dir: dir.to_path_buf(),
            quiet: self.quiet,
            symbol_elfs: vec![images.kernel.clone()],
        };
        let mut argv: Vec<OsString> = case.pin.as_deref().map(taskset).unwrap_or_default();
        argv.push(crate::qemu::QEMU.into());
        argv.extend(cfg.args());
        std::fs::write(dir.join("qemu-command.txt"), format!("{argv:?}\n"))
            .context("writing qemu-command.txt")?;
        let log = dir.join("serial.log");
        let f = qemu_run::run_measured(&argv, dir, &log, self.timeout, self.quiet, self.profile)?;
        judge_exit(ExitKind::from_status(f.status), &f.lines)
            .with_context(|| format!("log: {}", log.display()))?;
        // The rows are labelled with the policy: the kernel must have run it.
        let cmdline = format!("{} sched={}", self.kernel_cmdline(), self.sched_policy.name());
        crate::session::check_sched_policy(&cmdline, &f.lines)
            .map_err(|e| anyhow::anyhow!("{e} (log: {})", log.display()))?;
        Ok(Capture { lines: f.lines, log, wall: f.wall })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(bench: Benchmark) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(user::MANIFEST_DIR)
            .join(format!("{}.capnp", bench.manifest()));
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn case_args() {
        let t = Workload::ThreadScale { blocks: 262_144, rounds: 64 };
        assert_eq!(demo_args(&t, 4, 4), "threads=4 blocks=262144 rounds=64 cpus=4");
        let p = Workload::ProcessScale { lo: 0, hi: 10_000_000 };
        assert_eq!(demo_args(&p, 2, 2), "workers=2 lo=0 hi=10000000 cpus=2");
        let i = Workload::IpcScale { calls: 500 };
        assert_eq!(demo_args(&i, 4, 4), "pairs=4 calls=500 cpus=4");
    }

    #[test]
    fn manifest_variants_replace_exactly_the_args() {
        for bench in [Benchmark::ThreadScale, Benchmark::ProcessScale, Benchmark::IpcScale] {
            let t = template(bench);
            let v = manifest_variant(&t, "threads=1 x=y").unwrap();
            assert!(v.contains("args = \"threads=1 x=y\""), "{v}");
            assert_eq!(v.matches("args = ").count(), 1);
            // Everything else (caps, binary, file id) is unchanged.
            assert_eq!(
                t.replace(|c: char| c != '\n', "").len(),
                v.replace(|c: char| c != '\n', "").len()
            );
            assert!(v.contains(&format!("binary = \"{}\"", bench.binaries()[0])));
        }
        let two = "args = \"a\"; args = \"b\"";
        assert!(manifest_variant(two, "x").unwrap_err().to_string().contains("exactly one"));
        assert!(manifest_variant("no args here", "x").is_err());
        assert!(manifest_variant("args = \"a", "x").is_err());
        assert!(manifest_variant("args = \"a\"", "x\"y").is_err());
    }

    #[test]
    fn compiled_case_manifests_with_capnp() {
        if std::process::Command::new("capnp").arg("--version").output().is_err() {
            crate::tools::tool_missing("capnp");
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::create_dir_all(root.path().join(user::MANIFEST_DIR)).unwrap();
        std::fs::copy(src.join("schema/manifest.capnp"), root.path().join("schema/manifest.capnp"))
            .unwrap();
        std::fs::write(
            root.path().join(user::MANIFEST_DIR).join("smp-process-scale.capnp"),
            template(Benchmark::ProcessScale),
        )
        .unwrap();
        let bin = compile_case_manifest(
            root.path(),
            Benchmark::ProcessScale,
            "smp2-w2",
            "workers=2 lo=0 hi=100 cpus=2",
        )
        .unwrap();
        let bytes = std::fs::read(&bin).unwrap();
        assert!(bytes.windows(30).any(|w| w == b"workers=2 lo=0 hi=100 cpus=2\0\0"));
        let text = std::fs::read_to_string(
            root.path().join("target/manifests/smp-process-scale-smp2-w2.capnp"),
        )
        .unwrap();
        assert!(text.contains("args = \"workers=2 lo=0 hi=100 cpus=2\""));
    }

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    fn fixture(name: &str) -> Vec<String> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench").join(name);
        lines(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    }

    #[test]
    fn recorded_capos_logs_parse() {
        use crate::bench::runner::parse_row;
        let t = fixture("capos-thread-scale-smp2.log");
        judge_exit(ExitKind::Guest(GuestExit::Success), &t).unwrap();
        let row = parse_row(Benchmark::ThreadScale, 2, &t).unwrap();
        assert_eq!(
            (row.workers, row.work_rounds, row.parent_wait.as_str()),
            (2, Some(512), "blocking")
        );
        assert!(row.total.unwrap() >= row.work + row.spawn_ready.unwrap());
        let p = fixture("capos-process-scale-smp2.log");
        judge_exit(ExitKind::Guest(GuestExit::Success), &p).unwrap();
        let row = parse_row(Benchmark::ProcessScale, 2, &p).unwrap();
        assert_eq!((row.primes, row.range.as_str()), (Some(664_579), "0..10000000"));
        // The wrong case (a 2-worker line where 4 were asked for) fails closed.
        assert!(parse_row(Benchmark::ProcessScale, 4, &p)
            .unwrap_err()
            .to_string()
            .contains("asked for 4"));
    }

    #[test]
    fn recorded_ipc_scale_log_parses() {
        use crate::bench::runner::parse_row;
        let t = fixture("capos-ipc-scale-smp2.log");
        judge_exit(ExitKind::Guest(GuestExit::Success), &t).unwrap();
        let row = parse_row(Benchmark::IpcScale, 2, &t).unwrap();
        assert_eq!((row.benchmark.as_str(), row.workers, row.cpus), ("ipc-scale", 2, 2));
        assert_eq!((row.calls, row.work), (Some(100), 70_555_524));
        assert_eq!((row.spawn_ready, row.shutdown), (Some(53_346_852), Some(2_497_495)));
        assert_eq!(row.work_ns, Some(27_698_086));
        assert_eq!(row.checksum, "0x995b52962e677087");
        // The wrong case fails closed.
        assert!(parse_row(Benchmark::IpcScale, 4, &t)
            .unwrap_err()
            .to_string()
            .contains("asked for 4"));
        // A client or server cannot forge the coordinator's line.
        let forged: Vec<String> = t
            .iter()
            .map(|l| l.replace("user 1 ipc-scale: ", "user 3 ipc-scale-client: "))
            .collect();
        assert!(parse_row(Benchmark::IpcScale, 2, &forged)
            .unwrap_err()
            .to_string()
            .contains("no [ipc-scale] result line"));
        let unverified: Vec<String> =
            t.iter().map(|l| l.replace("verified=true", "verified=false")).collect();
        assert!(parse_row(Benchmark::IpcScale, 2, &unverified)
            .unwrap_err()
            .to_string()
            .contains("verified=false"));
        // A line of another benchmark is not an ipc-scale result.
        assert!(parse_row(Benchmark::ProcessScale, 2, &t).is_err());
    }

    #[test]
    fn recorded_capos_failures_fail_closed() {
        use crate::bench::runner::parse_row;
        let killed = fixture("capos-process-scale-worker-killed.log");
        let e = judge_exit(ExitKind::Guest(GuestExit::Failure), &killed).unwrap_err().to_string();
        assert!(e.contains("worker 1 ended") && e.contains("killed by a fault"), "{e}");
        let e = parse_row(Benchmark::ProcessScale, 2, &killed).unwrap_err().to_string();
        assert!(e.contains("no [smp-process-scale] result line") && e.contains("error"), "{e}");
        let unverified = fixture("capos-thread-scale-unverified.log");
        let e =
            judge_exit(ExitKind::Guest(GuestExit::Failure), &unverified).unwrap_err().to_string();
        assert!(e.contains("verified=false"), "{e}");
        assert!(parse_row(Benchmark::ThreadScale, 2, &unverified)
            .unwrap_err()
            .to_string()
            .contains("verified=false"));
    }

    #[test]
    fn only_a_success_exit_is_a_good_run() {
        let ok =
            lines("[thread-scale] ...\nkernel: all 1 manifest processes exited (all succeeded)");
        assert!(judge_exit(ExitKind::Guest(GuestExit::Success), &ok).is_ok());
        let bad = lines("[smp-process-scale-error] worker 1 ended (exit code 13, killed=false)\nkernel: process 2 (smp-process-scale) exited: code 2");
        let e = judge_exit(ExitKind::Guest(GuestExit::Failure), &bad).unwrap_err().to_string();
        assert!(e.contains("Failure") && e.contains("worker 1 ended"), "{e}");
        assert!(judge_exit(ExitKind::PoweredOff, &ok).is_err());
        assert!(judge_exit(ExitKind::Guest(GuestExit::Panic), &ok)
            .unwrap_err()
            .to_string()
            .contains("Panic"));
    }
}
