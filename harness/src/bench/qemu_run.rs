//! Running one measured child (QEMU or the native baseline) with a time
//! limit: stdout lines go to the raw log (and the terminal unless quiet),
//! stderr to `<log>.stderr`; the child dies with the harness, and a timed
//! out child is killed with its whole process group (a `perf record`
//! wrapper's recorded process included).

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::profile;

#[derive(Debug)]
pub struct Finished {
    pub lines: Vec<String>,
    pub status: ExitStatus,
    pub wall: Duration,
}

/// How the child is stopped when the harness dies or the run times out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL at once.
    Kill,
    /// SIGTERM first, then SIGKILL to its process group once it has exited
    /// or `grace` has passed: for a `perf record` wrapper, which passes
    /// SIGTERM on to the recorded process and still finishes perf.data.
    Term { grace: Duration },
}

/// One measured run of `argv` (stdout in `log`), under `perf record` into
/// `dir` when `profile` ([`profile::record`], then [`profile::finish`] with
/// however the run ended: its artefacts are written for timed-out runs too).
pub fn run_measured(
    argv: &[OsString],
    dir: &Path,
    log: &Path,
    timeout: Duration,
    quiet: bool,
    profile: bool,
) -> Result<Finished> {
    if !profile {
        return run(argv, log, timeout, quiet);
    }
    let wrapped = profile::record(argv, dir)?;
    let r = run_with(&wrapped, log, timeout, quiet, Stop::Term { grace: profile::STOP_GRACE });
    profile::finish(dir, &r.as_ref().map(|f| f.status).map_err(|e| format!("{e:#}")));
    r
}

/// Runs `argv` until it exits or `timeout` passes (then it is killed: error).
pub fn run(argv: &[OsString], log: &Path, timeout: Duration, quiet: bool) -> Result<Finished> {
    run_with(argv, log, timeout, quiet, Stop::Kill)
}

/// [`run`], stopping the child as `stop` says.
pub fn run_with(
    argv: &[OsString],
    log: &Path,
    timeout: Duration,
    quiet: bool,
    stop: Stop,
) -> Result<Finished> {
    let (prog, args) = argv.split_first().context("empty command")?;
    let mut out = std::io::BufWriter::new(
        File::create(log).with_context(|| format!("cannot create {}", log.display()))?,
    );
    let err_path = log.with_extension("stderr");
    let err =
        File::create(&err_path).with_context(|| format!("cannot create {}", err_path.display()))?;
    let mut cmd = Command::new(prog);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err).process_group(0);
    let death = match stop {
        Stop::Kill => libc::SIGKILL,
        Stop::Term { .. } => libc::SIGTERM,
    } as libc::c_ulong;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl, which is async-signal-safe, without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death, 0, 0, 0) != 0 {
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
        stop_child(&mut child, stop);
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

/// Stops a timed-out child that has not been reaped, and whatever else is
/// left in its process group (it leads one: `process_group(0)`).
fn stop_child(child: &mut Child, stop: Stop) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    if let Stop::Term { grace } = stop {
        // SAFETY: kill(2) on our child, not reaped yet, so the pid is still ours.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let until = Instant::now() + grace;
        while Instant::now() < until && !exited(pid) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // SAFETY: kill(2) on the process group our unreaped child leads; the
    // group id cannot be reused while the leader is not reaped.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether child `pid` has exited, without reaping it (WNOWAIT).
fn exited(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain old data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only into `info`, which lives across the call;
    // WNOWAIT leaves the child unreaped.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled `info` (si_pid stays 0 when nothing has exited).
    r == 0 && unsafe { info.si_pid() } != 0
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

    /// A timed-out wrapper's own child (here `sleep`, holding stdout open as
    /// QEMU does under perf) dies too, and the run ends at the timeout.
    #[test]
    fn timeouts_stop_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<OsString> =
            ["sh", "-c", "echo up; sleep 30; echo late"].map(OsString::from).to_vec();
        let start = Instant::now();
        let e = run(&argv, &dir.path().join("k.log"), Duration::from_secs(1), true).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
        // Term: the child gets SIGTERM first and may finish up.
        let flag = dir.path().join("stopping");
        let script =
            format!("trap 'echo > {}; exit 0' TERM; echo up; sleep 30 & wait", flag.display());
        let argv: Vec<OsString> = ["sh", "-c", &script].map(OsString::from).to_vec();
        let start = Instant::now();
        let stop = Stop::Term { grace: Duration::from_secs(5) };
        let log = dir.path().join("t.log");
        let e = run_with(&argv, &log, Duration::from_secs(1), true, stop).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "up\n");
        assert!(flag.exists(), "the child did not get SIGTERM");
    }
}
