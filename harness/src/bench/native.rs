//! Executor: the baseline binary run natively on the host, optionally pinned
//! with `taskset -c`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use super::runner::{Capture, Case, Executor};
use super::{qemu_run, Os};

pub struct NativeExec {
    pub bin: PathBuf,
    /// Workload arguments after the worker count, e.g. `["thread-scale", "--blocks", ...]`.
    pub workload: Workload,
    pub timeout: Duration,
    /// `_PROFILE`: record each run's baseline process with `perf record`.
    pub profile: bool,
    pub quiet: bool,
}

/// The workload parameters shared by the native and guest executors.
#[allow(clippy::enum_variant_names)] // the variants are the benchmarks' own names
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    ThreadScale {
        blocks: u64,
        rounds: u32,
    },
    ProcessScale {
        lo: u32,
        hi: u32,
    },
    /// `workers` client/server pairs, `calls` calls per client.
    IpcScale {
        calls: u32,
    },
}

impl Workload {
    /// Baseline argv for `workers`.
    pub fn argv(&self, workers: u32) -> Vec<String> {
        match self {
            Workload::ThreadScale { blocks, rounds } => vec![
                "thread-scale".into(),
                format!("--threads={workers}"),
                format!("--blocks={blocks}"),
                format!("--rounds={rounds}"),
            ],
            Workload::ProcessScale { lo, hi } => {
                vec![
                    "process-scale".into(),
                    format!("--workers={workers}"),
                    format!("--lo={lo}"),
                    format!("--hi={hi}"),
                ]
            }
            Workload::IpcScale { calls } => {
                vec!["ipc-scale".into(), format!("--pairs={workers}"), format!("--calls={calls}")]
            }
        }
    }

    /// The `capos.bench=` value for the guest's kernel command line.
    pub fn cmdline_value(&self, workers: u32) -> String {
        match self {
            Workload::ThreadScale { blocks, rounds } => {
                format!("thread-scale,threads={workers},blocks={blocks},rounds={rounds}")
            }
            Workload::ProcessScale { lo, hi } => {
                format!("process-scale,workers={workers},lo={lo},hi={hi}")
            }
            Workload::IpcScale { calls } => format!("ipc-scale,pairs={workers},calls={calls}"),
        }
    }
}

/// `taskset -c a,b,c` for `pin`.
pub fn taskset(pin: &[u32]) -> Vec<OsString> {
    let list = pin.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    vec!["taskset".into(), "-c".into(), list.into()]
}

impl Executor for NativeExec {
    fn os(&self) -> Os {
        Os::LinuxNative
    }

    fn accel(&self) -> &str {
        "native"
    }

    fn run(&mut self, case: &Case, dir: &Path) -> Result<Capture> {
        let mut argv: Vec<OsString> = case.pin.as_deref().map(taskset).unwrap_or_default();
        argv.push(self.bin.clone().into());
        argv.extend(self.workload.argv(case.workers).into_iter().map(OsString::from));
        let log = dir.join("output.log");
        let f = qemu_run::run_measured(&argv, dir, &log, self.timeout, self.quiet, self.profile)?;
        if !f.status.success() {
            bail!("the baseline exited with {} (log: {})", f.status, log.display());
        }
        Ok(Capture { lines: f.lines, log, wall: f.wall })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_and_cmdline_agree() {
        let w = Workload::ProcessScale { lo: 0, hi: 100 };
        assert_eq!(w.argv(2), ["process-scale", "--workers=2", "--lo=0", "--hi=100"]);
        assert_eq!(w.cmdline_value(2), "process-scale,workers=2,lo=0,hi=100");
        let t = Workload::ThreadScale { blocks: 8, rounds: 1 };
        assert_eq!(t.cmdline_value(4), "thread-scale,threads=4,blocks=8,rounds=1");
        assert_eq!(taskset(&[0, 2]), ["taskset", "-c", "0,2"].map(OsString::from));
    }
}
