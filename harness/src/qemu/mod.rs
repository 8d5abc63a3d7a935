//! Running QEMU: command line, timeout, console capture with symbolized
//! backtraces, exit-status mapping, and never leaving QEMU behind.

mod annotate;
mod capture;
mod child;
mod config;
mod outcome;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use annotate::Annotator;
use capture::{spawn_line_reader, spawn_stderr_copier, Event};
use child::ChildGuard;

pub use child::install_interrupt_handler;
pub use config::{BootMedia, QemuConfig};
pub use outcome::{ExitKind, RunOutcome};

pub const QEMU: &str = "qemu-system-x86_64";
/// Prefix of the kernel's own console lines (the loader's differ).
pub const KERNEL_LINE_PREFIX: &str = "kernel: ";

/// Boots QEMU with `cfg` and follows it to the end. `Err` when QEMU cannot
/// start or runs past the timeout (it is killed then); the guest's exit is
/// in the outcome for the caller to judge.
pub fn run(cfg: &QemuConfig) -> Result<RunOutcome> {
    run_impl(cfg, false)
}

/// Like [`run`], but a guest that runs past the timeout is first stopped
/// and every vCPU's stack written, symbolized, to `hang-stacks.txt` in the
/// run directory (see `hangdump`).
pub fn run_watched(cfg: &QemuConfig) -> Result<RunOutcome> {
    run_impl(cfg, true)
}

/// Name of the file [`run_watched`] writes for a hung guest.
pub const HANG_STACKS: &str = "hang-stacks.txt";

/// Stops the hung guest behind `sock` and writes its vCPU stacks.
fn record_hang(sock: &std::path::Path, cfg: &QemuConfig, annotator: &Annotator) -> Option<PathBuf> {
    let lines = match crate::hangdump::dump(sock, cfg.smp) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("harness: warning: could not record where the hung guest is: {e:#}");
            return None;
        }
    };
    let text: String = lines.iter().map(|l| annotator.annotate_any(l) + "\n").collect();
    let path = cfg.run_dir.join(HANG_STACKS);
    std::fs::write(&path, text).ok()?;
    Some(path)
}

fn run_impl(cfg: &QemuConfig, watch: bool) -> Result<RunOutcome> {
    std::fs::create_dir_all(&cfg.run_dir)
        .with_context(|| format!("cannot create {}", cfg.run_dir.display()))?;
    let serial_path = cfg.serial_log();
    let mut serial = std::io::BufWriter::new(
        File::create(&serial_path)
            .with_context(|| format!("cannot create {}", serial_path.display()))?,
    );
    let mut annotator = Annotator::load(&cfg.symbol_elfs);

    let mut cmd = Command::new(QEMU);
    cmd.args(cfg.args()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let monitor = watch.then(crate::hangdump::socket_path);
    if let Some(sock) = &monitor {
        cmd.args(crate::hangdump::monitor_args(sock));
    }
    // Own process group: a terminal Ctrl-C reaches only the harness, whose
    // handler kills QEMU deliberately.
    cmd.process_group(0);
    // SAFETY: getpid is async-signal-safe and runs before fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid) without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The harness died between fork and prctl: do not outlive it.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }

    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {QEMU} (is qemu-system-x86 installed?)"))?;
    let mut guard = ChildGuard::new(child);
    let stdout = guard.child().stdout.take().context("QEMU stdout")?;
    let stderr = guard.child().stderr.take().context("QEMU stderr")?;
    let (tx, rx) = mpsc::channel();
    let reader = spawn_line_reader(stdout, tx);
    let stderr_thread = spawn_stderr_copier(stderr, cfg.run_dir.join("qemu-stderr.log"));

    let deadline = start + cfg.timeout;
    let mut lines = Vec::new();
    let mut first_kernel_line = None;
    let timed_out = loop {
        let now = Instant::now();
        if now >= deadline {
            break true;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(Event::Line(at, bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim_end_matches(['\n', '\r']);
                if first_kernel_line.is_none() && text.starts_with(KERNEL_LINE_PREFIX) {
                    let after = at.duration_since(start);
                    first_kernel_line = Some(after);
                    eprintln!("harness: first kernel line after {} ms", after.as_millis());
                }
                let annotated = annotator.annotate(text);
                if !cfg.quiet {
                    println!("{annotated}");
                }
                writeln!(serial, "{annotated}")
                    .with_context(|| format!("writing {}", serial_path.display()))?;
                lines.push(annotated);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // QEMU closed its stdout: it has exited (or is about to).
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    serial.flush().with_context(|| format!("writing {}", serial_path.display()))?;

    let status = if timed_out {
        None
    } else {
        // Stdout is closed; give QEMU the rest of the budget to exit.
        loop {
            if let Some(st) = guard.child().try_wait().context("waiting for QEMU")? {
                break Some(st);
            }
            if Instant::now() >= deadline {
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    };
    if status.is_none() {
        let stacks = monitor.as_deref().and_then(|sock| record_hang(sock, cfg, &annotator));
        drop(guard); // kills and reaps QEMU
        let _ = reader.join();
        let _ = stderr_thread.join();
        if let Some(sock) = &monitor {
            let _ = std::fs::remove_file(sock);
        }
        let stacks = stacks.map_or(String::new(), |p| format!("; vCPU stacks in {}", p.display()));
        bail!(
            "QEMU timed out after {} s and was killed (console so far: {}{stacks})",
            cfg.timeout.as_secs(),
            serial_path.display()
        );
    }
    if let Some(sock) = &monitor {
        let _ = std::fs::remove_file(sock);
    }
    let status = guard.finish()?;
    let _ = reader.join();
    let stderr_tail = stderr_thread.join().unwrap_or_default();
    let exit = ExitKind::from_status(status);
    if exit == ExitKind::Status(1) && !stderr_tail.is_empty() {
        bail!("{QEMU} failed (status 1):\n  {}", stderr_tail.join("\n  "));
    }
    Ok(RunOutcome { exit, lines, first_kernel_line, serial_log: serial_path })
}
