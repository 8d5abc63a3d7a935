//! `capos-linux-baseline`: runs the capOS benchmark workloads on Linux and
//! prints the same result lines the capOS guests print.
//!
//! - As a normal program: `capos-linux-baseline thread-scale --threads N
//!   [--blocks B --rounds R --runs K]` or `process-scale --workers N [--lo L
//!   --hi H --runs K]` or `ipc-scale --pairs N [--calls C --runs K]`.
//! - As `/init` of a Linux initramfs (pid 1): mounts /proc, reads the cases
//!   from `capos.bench=` on the kernel command line (or runs the built-in
//!   default), prints the lines on the console and powers the machine off.
//!
//! The timed windows bracket only the computation (TSC cycles, plus
//! CLOCK_MONOTONIC nanoseconds in `*_ns=` fields).

mod clock;
mod fdio;
mod init;
mod ipc_scale;
mod process_scale;
mod spec;
mod thread_scale;

/// Tests that fork run one at a time: a child forked by one test inherits
/// the pipes another test has open at that moment, keeps their write ends
/// alive and the other test's reads never see end-of-file (two such tests
/// in parallel hung `cargo test`).
#[cfg(test)]
pub(crate) fn fork_test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

use std::io::Write;

use spec::{Bench, Spec};

/// Prefix of the binary's own diagnostics (never a result line).
pub const LOG_PREFIX: &str = "capos-linux-baseline:";

fn main() {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } == 1 {
        init::run_as_init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = match Spec::from_args(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{LOG_PREFIX} {e}\n{}", spec::USAGE);
            std::process::exit(2);
        }
    };
    if !run_spec(&spec) {
        std::process::exit(1);
    }
}

/// Runs every repetition of `spec`, printing one result line per run (or an
/// error naming the case). Returns whether all runs verified.
pub fn run_spec(spec: &Spec) -> bool {
    let cpus = clock::online_cpus();
    let mut ok = true;
    for run in 0..spec.runs {
        let result = match spec.bench {
            Bench::ThreadScale { threads, blocks, rounds } => {
                thread_scale::run(cpus, threads, blocks, rounds).map(|l| l.to_string())
            }
            Bench::ProcessScale { workers, lo, hi } => {
                process_scale::run(cpus, workers, lo, hi).map(|l| l.to_string())
            }
            Bench::IpcScale { pairs, calls } => {
                ipc_scale::run(cpus, pairs, calls).map(|l| l.to_string())
            }
        };
        let mut out = std::io::stdout().lock();
        match result {
            Ok(line) => {
                ok &= !line.contains("verified=false");
                let _ = writeln!(out, "{line}");
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{LOG_PREFIX} error: {} run {run}: {e}", spec.bench);
            }
        }
        let _ = out.flush();
    }
    ok
}
