//! Running one measured child (QEMU or the native baseline) with a time
//! limit: stdout lines go to the raw log (and the terminal unless quiet),
//! stderr to `<log>.stderr`; the child dies with the harness.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

#[derive(Debug)]
pub struct Finished {
    pub lines: Vec<String>,
    pub status: ExitStatus,
    pub wall: Duration,
}

/// Runs `argv` until it exits or `timeout` passes (then it is killed: error).
pub fn run(argv: &[OsString], log: &Path, timeout: Duration, quiet: bool) -> Result<Finished> {
    let (prog, args) = argv.split_first().context("empty command")?;
    let mut out = std::io::BufWriter::new(
        File::create(log).with_context(|| format!("cannot create {}", log.display()))?,
    );
    let err_path = log.with_extension("stderr");
    let err =
        File::create(&err_path).with_context(|| format!("cannot create {}", err_path.display()))?;
    let mut cmd = Command::new(prog);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err).process_group(0);
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl, which is async-signal-safe, without allocating.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child =
        cmd.spawn().with_context(|| format!("cannot start {}", prog.to_string_lossy()))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            if tx.send(std::mem::take(&mut buf)).is_err() {
                break;
            }
        }
    });
    let deadline = start + timeout;
    let mut lines = Vec::new();
    let timed_out = loop {
        let now = Instant::now();
        if now >= deadline {
            break true;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(bytes) => {
                let text =
                    String::from_utf8_lossy(&bytes).trim_end_matches(['\n', '\r']).to_string();
                if !quiet {
                    println!("{text}");
                }
                writeln!(out, "{text}").with_context(|| format!("writing {}", log.display()))?;
                lines.push(text);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    out.flush().with_context(|| format!("writing {}", log.display()))?;
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for the child")? {
            break Some(st);
        }
        if timed_out || Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        let _ = reader.join();
        bail!(
            "{} timed out after {} s and was killed (log: {})",
            prog.to_string_lossy(),
            timeout.as_secs(),
            log.display()
        );
    };
    let _ = reader.join();
    Ok(Finished { lines, status, wall: start.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<OsString> =
            ["sh", "-c", "echo one; echo two >&2; printf three"].map(OsString::from).to_vec();
        let f = run(&argv, &dir.path().join("a.log"), Duration::from_secs(10), true).unwrap();
        assert_eq!(f.lines, ["one", "three"]);
        assert!(f.status.success());
        assert_eq!(std::fs::read_to_string(dir.path().join("a.stderr")).unwrap(), "two\n");
        let argv: Vec<OsString> = ["sleep", "5"].map(OsString::from).to_vec();
        let e = run(&argv, &dir.path().join("b.log"), Duration::from_secs(1), true).unwrap_err();
        assert!(e.to_string().contains("timed out after 1 s"), "{e}");
    }
}
