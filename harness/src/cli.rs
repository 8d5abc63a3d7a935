//! Command-line surface of `capos-harness` (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "capos-harness",
    about = "Build capOS images, pack the initrd, run QEMU and the kernel tests"
)]
pub struct Cli {
    /// Workspace root (default: the workspace this harness was built from).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the loader and the kernel (or the ktest kernel).
    Build(BuildArgs),
    /// Boot the default image headless until the guest powers off or debug-exits.
    Run(RunArgs),
    /// Boot the ktest kernel and check the kernel test results.
    Ktest(KtestArgs),
    /// The kernel part of `make test`: ktest at each SMP value plus framework self-checks.
    TestSuite(SuiteArgs),
    /// Build a Limine ISO (BIOS + UEFI) from a directory of Limine binaries.
    Iso(IsoArgs),
    /// Annotate a log on stdin with symbolized backtraces (like `capos-symbolize`).
    Symbolize(SymbolizeArgs),
    /// Run every smoke program (each under its own manifest) and judge its PASS line.
    RunSmokes(SmokeArgs),
    /// Run a capOS scaling demo at 1/2/4 workers (plus the Linux guest rows of the same invocation).
    BenchCapos(crate::bench::commands::CaposBenchArgs),
    /// Run a benchmark's Linux baseline natively (1/2/4 workers, RUNS times).
    BenchLinuxNative(crate::bench::commands::BenchArgs),
    /// Run a benchmark's Linux baseline as a Linux guest under the capOS QEMU envelope.
    BenchLinuxGuest(crate::bench::commands::BenchArgs),
    /// Recompute summary.log and the speedup table from an existing results.csv.
    BenchSummary(crate::bench::commands::SummaryArgs),
    /// Fuzz the kernel's syscalls and rings (seeded; replayable) and judge each run.
    Fuzz(crate::fuzz::FuzzArgs),
    /// Check the counter identities of measure.log files (`measure check`).
    MeasureCheck(crate::measure_tools::CheckArgs),
    /// Print which catalogue fields some measure.log files raised; fail on fields none raised.
    MeasureCoverage(crate::measure_tools::CoverageArgs),
    /// The ground-truth suite: planted workloads under the measure kernel; prints the table.
    Fidelity(crate::fidelity::FidelityArgs),
    /// Profile any program: boot a manifest's programs under the measure kernel and write the
    /// report set (measure.log, symbols, flamegraphs, timeline, charts, index.html).
    Profile(crate::profile_run::ProfileArgs),
    /// Compare two benchmark runs: per case and metric the change, its 95% interval and a verdict.
    Compare(crate::compare::CompareArgs),
    /// Load HTML pages (a run's index.html) in headless Chromium; fail on console errors,
    /// uncaught exceptions, resources that do not load and images that do not decode.
    RenderCheck(crate::render_check::RenderCheckArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Build the kernel with `--features ktest` (into target/kernel-ktest).
    #[arg(long)]
    pub ktest: bool,
}

/// Which accelerator QEMU uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccelChoice {
    /// KVM when it really works, else TCG.
    Auto,
    /// KVM, or fail.
    Kvm,
    /// TCG (`-accel tcg,thread=multi`).
    Tcg,
}

/// Options shared by every subcommand that boots QEMU.
#[derive(Args, Debug, Clone)]
pub struct QemuOpts {
    /// Wall-clock limit for one QEMU run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Accelerator.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
    /// Guest memory (QEMU `-m` syntax).
    #[arg(long, value_name = "SIZE", default_value = "512M")]
    pub mem: String,
    /// Do not echo the guest console; it still goes to serial.log.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Number of CPUs.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_smp)]
    pub smp: u32,
    /// Kernel command line.
    #[arg(long, value_name = "STR", default_value = "")]
    pub cmdline: String,
    /// Boot a Limine ISO built from this directory of Limine binaries (BIOS, `-cdrom`).
    #[arg(long, value_name = "DIR")]
    pub limine_dir: Option<PathBuf>,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

#[derive(Args, Debug)]
pub struct KtestArgs {
    /// Number of CPUs.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_smp)]
    pub smp: u32,
    /// Run only tests whose name contains STR (kernel cmdline `ktest=STR`).
    #[arg(long, value_name = "STR")]
    pub filter: Option<String>,
    /// Self-check mode: the run must exit with Failure and report the filtered test FAILED.
    #[arg(long)]
    pub expect_failure: bool,
    /// Extra kernel command-line words (e.g. `noapic`, `tick_hz=1000`).
    #[arg(long, value_name = "WORDS", default_value = "")]
    pub cmdline: String,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

#[derive(Args, Debug)]
pub struct SmokeArgs {
    /// CPU counts to run each smoke at (comma separated).
    #[arg(long, value_name = "N,..", default_value = "2", value_delimiter = ',', value_parser = parse_smp)]
    pub smp: Vec<u32>,
    /// Runs per smoke and CPU count.
    #[arg(long, default_value = "1")]
    pub repeat: u32,
    /// Only these smokes (comma separated names).
    #[arg(long, value_name = "NAME,..", value_delimiter = ',')]
    pub only: Vec<String>,
    #[command(flatten)]
    pub words: KernelWords,
    /// Boot the measure kernel and write measure.log / measure.json beside each serial log.
    #[arg(long)]
    pub measure: bool,
    /// Boot through the real Limine bootloader from this directory of a
    /// Limine 8.x binary release (a BIOS ISO on a CD drive) instead of the
    /// PVH loader; its `limine.c` is built into the `limine` tool.
    #[arg(long, value_name = "DIR")]
    pub limine: Option<PathBuf>,
    /// With `--limine`: boot the ISO under this UEFI firmware (e.g.
    /// Debian's `/usr/share/ovmf/OVMF.fd`) instead of the BIOS.
    #[arg(long, value_name = "FIRMWARE", requires = "limine")]
    pub uefi: Option<PathBuf>,
    #[command(flatten)]
    pub sample: crate::measure_tools::SampleHzArg,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

#[derive(Args, Debug)]
pub struct SuiteArgs {
    /// SMP values to run the kernel tests at (comma-separated).
    #[arg(long, value_name = "N,..", default_value = "1,2,4", value_delimiter = ',', value_parser = parse_smp)]
    pub smp: Vec<u32>,
    /// Run the kernel tests this many times at each SMP value.
    #[arg(long, value_name = "K", default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Words added to the kernel command line of the normal and `noapic`
    /// runs (the failure and panic self-checks boot without them).
    #[command(flatten)]
    pub words: KernelWords,
    #[command(flatten)]
    pub qemu: QemuOpts,
}

/// Extra kernel command-line words (e.g. `--kernel-word sched=global`).
#[derive(Args, Debug, Clone, Default)]
pub struct KernelWords {
    /// A word added to the kernel command line (repeatable).
    #[arg(long = "kernel-word", value_name = "WORD", value_parser = parse_kernel_word)]
    pub kernel_word: Vec<String>,
}

impl KernelWords {
    /// The words joined for a command line (empty when none).
    pub fn joined(&self) -> String {
        self.kernel_word.join(" ")
    }
}

/// One kernel command-line word: non-empty, printable ASCII, no spaces.
pub fn parse_kernel_word(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("`{s}` is not one kernel command-line word (printable, no spaces)"));
    }
    Ok(s.to_string())
}

#[derive(Args, Debug)]
pub struct IsoArgs {
    /// Directory holding limine-bios.sys, limine-bios-cd.bin, limine-uefi-cd.bin, BOOTX64.EFI and `limine`.
    #[arg(long, value_name = "DIR")]
    pub limine_dir: PathBuf,
    /// Where to write the ISO (default: target/capos.iso).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Kernel command line written into limine.conf.
    #[arg(long, value_name = "STR", default_value = "")]
    pub cmdline: String,
}

#[derive(Args, Debug)]
pub struct SymbolizeArgs {
    /// ELF to resolve against.
    #[arg(long, value_name = "PATH")]
    pub elf: PathBuf,
}

/// Highest CPU count accepted (xAPIC IDs are 8 bits).
pub const MAX_SMP: u32 = 255;

pub fn parse_smp(s: &str) -> Result<u32, String> {
    let n: u32 = s.trim().parse().map_err(|_| {
        format!("`{s}` is not a CPU count: expected a whole number from 1 to {MAX_SMP}")
    })?;
    if n == 0 || n > MAX_SMP {
        return Err(format!("CPU count {n} is out of range: expected 1 to {MAX_SMP}"));
    }
    Ok(n)
}

pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("the timeout must be at least 1 second".to_string()),
        Ok(n) => Ok(Duration::from_secs(n)),
        Err(_) => Err(format!("`{s}` is not a number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("capos-harness").chain(args.iter().copied()))
    }

    #[test]
    fn bad_smp_values_give_clear_errors() {
        let e = parse(&["run", "--smp", "0"]).unwrap_err().to_string();
        assert!(e.contains("CPU count 0 is out of range"), "{e}");
        let e = parse(&["ktest", "--smp", "x"]).unwrap_err().to_string();
        assert!(e.contains("`x` is not a CPU count"), "{e}");
        let e = parse(&["test-suite", "--smp", "1,0"]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = parse(&["run", "--smp", "1000"]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn every_measure_boot_takes_a_sample_rate() {
        let Command::RunSmokes(s) =
            parse(&["run-smokes", "--measure", "--sample-hz", "10000"]).unwrap().command
        else {
            panic!("subcommand")
        };
        assert_eq!(s.sample.sample_hz, Some(10_000));
        let Command::Fidelity(f) = parse(&["fidelity"]).unwrap().command else {
            panic!("subcommand")
        };
        assert_eq!(f.sample.sample_hz, None, "None: CAPOS_MEASURE_SAMPLE_HZ, else 997");
        let Command::BenchCapos(b) =
            parse(&["bench-capos", "thread-scale", "--sample-hz", "100"]).unwrap().command
        else {
            panic!("subcommand")
        };
        assert_eq!(b.sample.sample_hz, Some(100));
        assert_eq!((b.overhead.overhead_runs, b.overhead.overhead_sample_hz.len()), (None, 3));
        let Command::BenchCapos(b) = parse(&[
            "bench-capos",
            "thread-scale",
            "--overhead-runs",
            "2",
            "--overhead-sample-hz",
            "997,10000",
        ])
        .unwrap()
        .command
        else {
            panic!("subcommand")
        };
        assert_eq!(b.overhead.overhead_runs, Some(2));
        assert_eq!(b.overhead.overhead_sample_hz, [997, 10_000]);
        let e = parse(&["bench-capos", "thread-scale", "--overhead-sample-hz", "100,30000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        for bad in ["5", "20001", "fast"] {
            let e = parse(&["fidelity", "--sample-hz", bad]).unwrap_err().to_string();
            assert!(e.contains("out of range") || e.contains("not a sample rate"), "{e}");
        }
    }

    #[test]
    fn defaults_and_lists() {
        let Command::TestSuite(s) = parse(&["test-suite"]).unwrap().command else {
            panic!("subcommand")
        };
        assert_eq!(s.smp, vec![1, 2, 4]);
        assert_eq!(s.repeat, 1);
        assert_eq!(s.qemu.timeout, Duration::from_secs(60));
        assert_eq!(s.qemu.accel, AccelChoice::Auto);
        assert_eq!(s.qemu.mem, "512M");

        let Command::TestSuite(s) =
            parse(&["test-suite", "--smp", "2,3", "--repeat", "4"]).unwrap().command
        else {
            panic!("subcommand")
        };
        assert_eq!((s.smp, s.repeat), (vec![2, 3], 4));
        assert!(parse(&["test-suite", "--repeat", "0"]).is_err());

        let Command::Ktest(k) = parse(&[
            "ktest",
            "--smp",
            "4",
            "--filter",
            "mm::",
            "--expect-failure",
            "--accel",
            "tcg",
            "--timeout",
            "5",
        ])
        .unwrap()
        .command
        else {
            panic!("subcommand")
        };
        assert_eq!((k.smp, k.filter.as_deref(), k.expect_failure), (4, Some("mm::"), true));
        assert_eq!((k.qemu.accel, k.qemu.timeout), (AccelChoice::Tcg, Duration::from_secs(5)));

        let e = parse(&["run", "--timeout", "0"]).unwrap_err().to_string();
        assert!(e.contains("at least 1 second"), "{e}");
        assert!(parse(&["run", "--accel", "hvf"]).is_err());
        assert!(parse(&["iso"]).is_err(), "--limine-dir is required");
        let Command::RunSmokes(s) = parse(&[
            "run-smokes",
            "--only",
            "smoke-thread,smoke-thread-churn",
            "--kernel-word",
            "sched=global",
            "--kernel-word",
            "tick_hz=1000",
        ])
        .unwrap()
        .command
        else {
            panic!("subcommand")
        };
        assert_eq!(s.only, ["smoke-thread", "smoke-thread-churn"]);
        assert_eq!(s.words.joined(), "sched=global tick_hz=1000");
        let Command::TestSuite(s) = parse(&["test-suite"]).unwrap().command else {
            panic!("subcommand")
        };
        assert_eq!(s.words.joined(), "");
        let Command::BenchCapos(b) = parse(&[
            "bench-capos",
            "thread-scale",
            "--sched-policy",
            "percpu,global",
            "--kernel-word",
            "tick_hz=1000",
        ])
        .unwrap()
        .command
        else {
            panic!("subcommand")
        };
        assert_eq!(
            (b.sched_policy.as_deref(), b.words.joined()),
            (Some("percpu,global"), "tick_hz=1000".into())
        );
        assert!(parse(&["test-suite", "--kernel-word", "a b"]).is_err());
        assert!(parse(&["test-suite", "--kernel-word", ""]).is_err());
        let cli = parse(&["--root", "/x", "build", "--ktest"]).unwrap();
        assert_eq!(cli.root.as_deref(), Some(std::path::Path::new("/x")));
    }
}
