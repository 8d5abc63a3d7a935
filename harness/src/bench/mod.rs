//! Benchmarks: the Linux baselines (native and guest) of the capOS scaling
//! workloads, and the pieces every benchmark run shares.
//!
//! A run is: pick cases (workers 1/2/4, optional SMT 8), run each case RUNS
//! times through an [`runner::Executor`] (native process, Linux guest, and
//! the capOS guest), parse exactly one verified result line per run
//! (fail closed: no line, `verified=false` or a crash is an error naming the
//! case), account host CPU taken by others during each run (retrying
//! disturbed runs), and write `results.csv`, `summary.log` and a Markdown
//! table under `target/<benchmark>/<timestamp>/`.
//!
//! Modules: [`knobs`] (every environment knob, read in one place),
//! [`results`] + [`csv`] (the results.csv schema), [`stats`], [`gates`],
//! [`report`], [`sched_policy`] (capOS run-queue policies), [`overhead`] (the measure kernel's cost), [`disturb`], [`artifacts`], [`runner`], [`cpio`] (initramfs),
//! [`baseline`] (building the static baseline), [`capos`] (the capOS guest), [`native`], [`guest`] +
//! [`qemu_run`], [`profile`], [`commands`] (the subcommands).

pub mod artifacts;
pub mod baseline;
pub mod capos;
pub mod commands;
pub mod cpio;
pub mod csv;
pub mod disturb;
pub mod gates;
pub mod guest;
pub mod guest_measure;
pub mod knobs;
pub mod native;
pub mod overhead;
pub mod profile;
pub mod qemu_run;
pub mod report;
pub mod results;
pub mod runner;
pub mod sched_policy;
pub mod stats;

use std::fmt;

/// The scaling benchmarks.
#[allow(clippy::enum_variant_names)] // the variants are the benchmarks' own names
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Benchmark {
    /// Same-process threads hashing 64-byte blocks (`[thread-scale]` lines).
    ThreadScale,
    /// One process per worker counting primes (`[smp-process-scale]` lines).
    ProcessScale,
    /// Client/server process pairs exchanging request/reply messages
    /// (`[ipc-scale]` lines; workers = pairs).
    IpcScale,
}

impl Benchmark {
    /// The work of an n-worker case in units of the 1-worker case's: 1 when
    /// a fixed amount of work is split among the workers (thread- and
    /// process-scale), n when each worker brings its own (ipc-scale's
    /// pairs each make the same number of calls).
    pub fn work_factor(self, workers: u32) -> u32 {
        match self {
            Benchmark::ThreadScale | Benchmark::ProcessScale => 1,
            Benchmark::IpcScale => workers.max(1),
        }
    }

    /// Name in results.csv and artifact paths.
    pub fn name(self) -> &'static str {
        match self {
            Benchmark::ThreadScale => "thread-scale",
            Benchmark::ProcessScale => "smp-process-scale",
            Benchmark::IpcScale => "ipc-scale",
        }
    }

    pub fn from_name(s: &str) -> Option<Benchmark> {
        match s {
            "thread-scale" => Some(Benchmark::ThreadScale),
            "smp-process-scale" | "process-scale" => Some(Benchmark::ProcessScale),
            "ipc-scale" => Some(Benchmark::IpcScale),
            _ => None,
        }
    }
}

/// Which system produced a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Os {
    Capos,
    LinuxGuest,
    LinuxNative,
}

impl Os {
    pub fn name(self) -> &'static str {
        match self {
            Os::Capos => "capos",
            Os::LinuxGuest => "linux-guest",
            Os::LinuxNative => "linux-native",
        }
    }

    #[allow(dead_code)] // for readers of results.csv
    pub fn from_name(s: &str) -> Option<Os> {
        [Os::Capos, Os::LinuxGuest, Os::LinuxNative].into_iter().find(|o| o.name() == s)
    }

    /// Artifact directory prefix: capOS runs keep the seed's names.
    pub fn artifact_prefix(self) -> &'static str {
        match self {
            Os::Capos => "",
            Os::LinuxGuest => "linux-",
            Os::LinuxNative => "linux-native-",
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
