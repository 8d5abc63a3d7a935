//! Opt-in host profiling (`*_PROFILE=1`): `perf record` around the measured
//! process of every timed run (the host QEMU of a capOS or Linux guest row,
//! or the native baseline), and what is made of it afterwards.
//!
//! Per run directory: `perf.data` (`perf record -g --call-graph fp -F 999`),
//! `perf.script` (`perf script`), `perf.report.txt` (`perf report --stdio`
//! by command, DSO and symbol), `profile-command.txt` (the recorded command
//! and the perf commands, shell-quoted) and `qemu.status` (how the recorded
//! process ended). Samples of QEMU are host-side (QEMU's own code, the host
//! kernel, TCG-translated code as `[JIT]` addresses), not guest attribution.
//! `perf stat` is not run as well: nesting it around `perf record` would
//! count perf too, and the report's sample counts say how much was seen.
//!
//! Here: the availability probe, the argv wrapping and the post-processing;
//! [`super::qemu_run::run_measured`] puts them together around one run.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// Start of the note when profiling was asked for and cannot be done.
pub const UNSUPPORTED: &str = "host profiling not supported here";
pub const PERF_DATA: &str = "perf.data";
pub const PERF_SCRIPT: &str = "perf.script";
pub const PERF_REPORT: &str = "perf.report.txt";
pub const COMMAND_FILE: &str = "profile-command.txt";
pub const STATUS_FILE: &str = "qemu.status";

/// How long a timed-out recording gets, after SIGTERM to perf (which passes
/// it on to the recorded process and finishes perf.data), before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

const PERF: &str = "perf";

/// `perf record`'s options before `-o <perf.data> -- <argv>`: call graphs
/// by frame pointer, 999 samples a second per thread, and no copies of the
/// binaries into `~/.debug` (the build ids stay in perf.data's header).
pub const RECORD_OPTS: [&str; 6] = ["-g", "--call-graph", "fp", "-F", "999", "--no-buildid-cache"];

/// `perf script`'s options after `-i <perf.data>` (no addr2line for inlines:
/// slow on big binaries).
pub const SCRIPT_OPTS: [&str; 1] = ["--no-inline"];

/// `perf report`'s options after `-i <perf.data>`: flat self time by command
/// (thread name), DSO and symbol, lines under 0.5% left out; the call
/// graphs are in perf.script. The header comments keep the sample count.
pub const REPORT_OPTS: [&str; 9] = [
    "--stdio",
    "--no-children",
    "--sort",
    "comm,dso,sym",
    "--percent-limit",
    "0.5",
    "-g",
    "none",
    "--no-inline",
];

fn record_argv(perf: &OsStr, data: &Path, argv: &[OsString]) -> Vec<OsString> {
    let mut out = vec![perf.to_os_string(), "record".into()];
    out.extend(RECORD_OPTS.iter().map(OsString::from));
    out.push("-o".into());
    out.push(data.into());
    out.push("--".into());
    out.extend(argv.iter().cloned());
    out
}

/// `argv` run under `perf record`, its samples going to `dir/perf.data`.
pub fn wrap(argv: &[OsString], dir: &Path) -> Vec<OsString> {
    record_argv(OsStr::new(PERF), &dir.join(PERF_DATA), argv)
}

fn script_argv(dir: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![PERF.into(), "script".into(), "-i".into()];
    a.push(dir.join(PERF_DATA).into());
    a.extend(SCRIPT_OPTS.iter().map(OsString::from));
    a
}

fn report_argv(dir: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![PERF.into(), "report".into(), "-i".into()];
    a.push(dir.join(PERF_DATA).into());
    a.extend(REPORT_OPTS.iter().map(OsString::from));
    a
}

/// `arg` as one shell word on one line: bare when it is made of safe
/// characters only, else in single quotes (a `'` inside becomes `'\''`),
/// or, when it holds control characters (a newline, say), in bash's
/// `$'...'` with escapes. Non-UTF-8 bytes are replaced (U+FFFD).
pub fn shell_quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.into_owned()
    } else if s.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `argv` as one shell command line.
pub fn shell_line(argv: &[OsString]) -> String {
    argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

/// profile-command.txt: the recorded command, the perf command that
/// recorded it, and the two that made perf.script and perf.report.txt,
/// one line each.
pub fn command_text(argv: &[OsString], dir: &Path) -> String {
    format!(
        "recorded: {}\nperf: {}\nscript: {} > {}\nreport: {} > {}\n",
        shell_line(argv),
        shell_line(&wrap(argv, dir)),
        shell_line(&script_argv(dir)),
        shell_quote(dir.join(PERF_SCRIPT).as_os_str()),
        shell_line(&report_argv(dir)),
        shell_quote(dir.join(PERF_REPORT).as_os_str()),
    )
}

/// Writes `dir/profile-command.txt` and returns `argv` wrapped in
/// `perf record`.
pub fn record(argv: &[OsString], dir: &Path) -> Result<Vec<OsString>> {
    let path = dir.join(COMMAND_FILE);
    std::fs::write(&path, command_text(argv, dir))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(wrap(argv, dir))
}

/// `exit=<code>` or `signal=<n>` (` (core dumped)`).
pub fn status_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit={c}"),
        (None, Some(s)) if status.core_dumped() => format!("signal={s} (core dumped)"),
        (None, Some(s)) => format!("signal={s}"),
        (None, None) => format!("unknown ({status:?})"),
    }
}

/// qemu.status: how the recorded process ended, or why that is not known
/// (the run timed out, or never started). perf record exits with the
/// recorded process's code and dies of its fatal signal, so its status is
/// the recorded process's (or perf's own, when perf itself failed).
pub fn status_file_text(status: &std::result::Result<ExitStatus, String>) -> String {
    match status {
        Ok(s) => format!("{}\n", status_text(*s)),
        Err(why) => format!("unknown: {}\n", why.replace('\n', " ")),
    }
}

/// After the recorded process ended: writes qemu.status, perf.script and
/// perf.report.txt into `dir`. Never fails the run: a perf command that
/// fails leaves what failed (status and perf's stderr) in its artefact
/// file; a file that cannot be written is reported on stderr.
pub fn finish(dir: &Path, status: &std::result::Result<ExitStatus, String>) {
    let path = dir.join(STATUS_FILE);
    if let Err(e) = std::fs::write(&path, status_file_text(status)) {
        eprintln!("harness: cannot write {}: {e}", path.display());
    }
    post_process("perf script", &script_argv(dir), &dir.join(PERF_SCRIPT));
    post_process("perf report", &report_argv(dir), &dir.join(PERF_REPORT));
}

/// Runs `argv` with its stdout into `out`; on failure appends a line
/// saying so (`# <command> failed: ...` and perf's stderr) to `out`.
fn post_process(what: &str, argv: &[OsString], out: &Path) {
    let Some((prog, args)) = argv.split_first() else { return };
    let file = match File::create(out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("harness: cannot create {}: {e}", out.display());
            return;
        }
    };
    let failure = match Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::piped())
        .output()
    {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "# {what} failed ({}): {}\n",
            status_text(o.status),
            stderr_text(&o.stderr)
        )),
        Err(e) => Some(format!("# {what} could not be started: {e}\n")),
    };
    if let Some(text) = failure {
        eprintln!("harness: {} (in {})", text.trim_end(), out.display());
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(out)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = appended {
            eprintln!("harness: cannot write {}: {e}", out.display());
        }
    }
}

/// perf's stderr as one line (at most 2000 bytes).
fn stderr_text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut one =
        s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ");
    if one.len() > 2000 {
        let mut cut = 2000;
        while !one.is_char_boundary(cut) {
            cut -= 1;
        }
        one.truncate(cut);
        one.push_str(" ...");
    }
    if one.is_empty() {
        "(no stderr)".into()
    } else {
        one
    }
}

/// Whether runs are profiled: `requested` (the `_PROFILE` knob) and perf
/// works here. When it does not, says why on stderr and in `notes`, and the
/// runs go on unprofiled.
pub fn enabled(requested: bool, notes: &mut Vec<String>) -> bool {
    if !requested {
        return false;
    }
    match probe() {
        Ok(()) => {
            notes.push(format!(
                "host profiling on: `perf record {}` around each timed run's measured process \
                 ({PERF_DATA}, {PERF_SCRIPT}, {PERF_REPORT}, {COMMAND_FILE}, {STATUS_FILE} in \
                 its run directory; wall times include perf's start and finish)",
                RECORD_OPTS.join(" ")
            ));
            true
        }
        Err(why) => {
            let note = format!("{UNSUPPORTED}: {why}; running without profiling");
            eprintln!("harness: {note}");
            notes.push(note);
            false
        }
    }
}

/// Whether `perf record` (with the options the runs use) works here: it
/// records `true` into a temporary file. Err says why not.
pub fn probe() -> std::result::Result<(), String> {
    probe_with(OsStr::new(PERF))
}

fn probe_with(perf: &OsStr) -> std::result::Result<(), String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let data: PathBuf =
        std::env::temp_dir().join(format!("capos-perf-probe-{}-{nanos}.data", std::process::id()));
    let argv = record_argv(perf, &data, &["true".into()]);
    let out = Command::new(perf).args(&argv[1..]).stdin(Stdio::null()).output();
    let _ = std::fs::remove_file(&data);
    unavailable_reason(out)
}

/// Why a probe's outcome means perf cannot be used (Ok: it can).
fn unavailable_reason(out: std::io::Result<Output>) -> std::result::Result<(), String> {
    let o = match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("perf not found on PATH".into())
        }
        Err(e) => return Err(format!("perf could not be started: {e}")),
        Ok(o) => o,
    };
    if o.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    // perf starts its messages with a bare `Error:` line; the next says what.
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| {
            !l.is_empty() && !["error:", "warning:"].contains(&l.to_ascii_lowercase().as_str())
        })
        .map_or_else(|| format!("no message, {}", status_text(o.status)), str::to_string);
    let lower = stderr.to_ascii_lowercase();
    let denied = [
        "perf_event_paranoid",
        "access to performance monitoring",
        "permission denied",
        "not permitted",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if denied {
        Err(format!(
            "perf record not permitted: {first}; try `sysctl kernel.perf_event_paranoid=1`"
        ))
    } else {
        Err(format!("perf record failed ({}): {first}", status_text(o.status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn strings(a: &[OsString]) -> Vec<String> {
        a.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn wrapping_records_into_the_run_dir_and_keeps_the_command() {
        let argv: Vec<OsString> = ["taskset", "-c", "0,1", "qemu-system-x86_64", "-append", "a b"]
            .map(OsString::from)
            .to_vec();
        let w = strings(&wrap(&argv, Path::new("/art/smp2-w2/run0")));
        assert_eq!(
            w[..11],
            [
                "perf",
                "record",
                "-g",
                "--call-graph",
                "fp",
                "-F",
                "999",
                "--no-buildid-cache",
                "-o",
                "/art/smp2-w2/run0/perf.data",
                "--"
            ]
        );
        assert_eq!(w[11..], strings(&argv));
    }

    #[test]
    fn command_file_is_shell_quoted_one_line_each() {
        assert_eq!(shell_quote(OsStr::new("-smp")), "-smp");
        assert_eq!(shell_quote(OsStr::new("0,2")), "0,2");
        assert_eq!(shell_quote(OsStr::new("")), "''");
        assert_eq!(shell_quote(OsStr::new("a b")), "'a b'");
        assert_eq!(shell_quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(shell_quote(OsStr::new("x\ny")), r"$'x\ny'");
        assert_eq!(shell_quote(OsStr::new("a'\\\t\u{1b}")), r"$'a\'\\\t\u001b'");
        // bash reads every quoted word back as it was.
        for w in ["plain", "a b", "it's", "$HOME `x` \"q\"", "x\ny", "a'\\\t\u{1b}z", ""] {
            let out = Command::new("bash")
                .args(["-c", &format!("printf %s {}", shell_quote(OsStr::new(w)))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), w);
        }
        let argv: Vec<OsString> =
            ["qemu-system-x86_64", "-append", "console=ttyS0 quiet", "-x", "$HOME"]
                .map(OsString::from)
                .to_vec();
        let text = command_text(&argv, Path::new("/r/run 0"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "recorded: qemu-system-x86_64 -append 'console=ttyS0 quiet' -x '$HOME'",
                "perf: perf record -g --call-graph fp -F 999 --no-buildid-cache -o '/r/run 0/perf.data' \
                 -- qemu-system-x86_64 -append 'console=ttyS0 quiet' -x '$HOME'",
                "script: perf script -i '/r/run 0/perf.data' --no-inline > '/r/run 0/perf.script'",
                "report: perf report -i '/r/run 0/perf.data' --stdio --no-children --sort comm,dso,sym \
                 --percent-limit 0.5 -g none --no-inline > '/r/run 0/perf.report.txt'",
            ]
        );
        let d = tempfile::tempdir().unwrap();
        let wrapped = record(&argv, d.path()).unwrap();
        assert_eq!(wrapped, wrap(&argv, d.path()));
        assert_eq!(
            std::fs::read_to_string(d.path().join(COMMAND_FILE)).unwrap(),
            command_text(&argv, d.path())
        );
    }

    #[test]
    fn status_formats() {
        assert_eq!(status_text(ExitStatus::from_raw(0)), "exit=0");
        assert_eq!(status_text(ExitStatus::from_raw(3 << 8)), "exit=3");
        assert_eq!(status_text(ExitStatus::from_raw(9)), "signal=9");
        assert_eq!(status_text(ExitStatus::from_raw(0x80 | 6)), "signal=6 (core dumped)");
        assert_eq!(status_file_text(&Ok(ExitStatus::from_raw(33 << 8))), "exit=33\n");
        assert_eq!(
            status_file_text(&Err("perf timed out\nafter 1 s".into())),
            "unknown: perf timed out after 1 s\n"
        );
    }

    fn output(code: i32, stderr: &str) -> std::io::Result<Output> {
        Ok(Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        })
    }

    #[test]
    fn unavailability_says_why() {
        assert_eq!(unavailable_reason(output(0, "")), Ok(()));
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(unavailable_reason(Err(missing)).unwrap_err(), "perf not found on PATH");
        let paranoid =
            "Error:\nAccess to performance monitoring and observability operations is limited.\n\
                        Consider adjusting /proc/sys/kernel/perf_event_paranoid setting to open\n";
        assert_eq!(
            unavailable_reason(output(255, paranoid)).unwrap_err(),
            "perf record not permitted: Access to performance monitoring and observability \
             operations is limited.; try `sysctl kernel.perf_event_paranoid=1`"
        );
        let other = "WARNING: perf not found for kernel 6.8.0\n  You may need to install ...\n";
        assert_eq!(
            unavailable_reason(output(2, other)).unwrap_err(),
            "perf record failed (exit=2): WARNING: perf not found for kernel 6.8.0"
        );
        let e = probe_with(OsStr::new("/nonexistent/capos-no-perf")).unwrap_err();
        assert_eq!(e, "perf not found on PATH");
        // A perf that refuses the way a paranoid kernel makes it refuse.
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("perf");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\nprintf '{}' >&2\nexit 255\n", paranoid.replace('\n', "\\n")),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = probe_with(fake.as_os_str()).unwrap_err();
        assert!(
            e.starts_with("perf record not permitted: Access to performance monitoring"),
            "{e}"
        );
        assert!(e.ends_with("try `sysctl kernel.perf_event_paranoid=1`"), "{e}");
        let mut notes = Vec::new();
        assert!(!enabled(false, &mut notes) && notes.is_empty());
    }

    #[test]
    fn failed_post_processing_is_written_into_the_artefacts() {
        // No perf.data: whatever perf is (or is not) here, both commands fail.
        let d = tempfile::tempdir().unwrap();
        finish(d.path(), &Err("timed out after 5 s".into()));
        assert_eq!(
            std::fs::read_to_string(d.path().join(STATUS_FILE)).unwrap(),
            "unknown: timed out after 5 s\n"
        );
        for (file, what) in [(PERF_SCRIPT, "# perf script "), (PERF_REPORT, "# perf report ")] {
            let text = std::fs::read_to_string(d.path().join(file)).unwrap();
            assert!(text.contains(what), "{file}: {text}");
            assert!(text.contains("failed (") || text.contains("could not be started"), "{text}");
        }
    }

    /// The real thing: perf record around a short shell loop, then the
    /// post-processing, as a run does it.
    #[test]
    fn records_a_real_command_with_perf() {
        if let Err(why) = probe() {
            eprintln!("skipping records_a_real_command_with_perf: {why}");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let argv: Vec<OsString> =
            ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 3"]
                .map(OsString::from)
                .to_vec();
        let wrapped = record(&argv, d.path()).unwrap();
        let (prog, args) = wrapped.split_first().unwrap();
        let status = Command::new(prog)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        finish(d.path(), &Ok(status));
        for f in [PERF_DATA, PERF_SCRIPT, PERF_REPORT, COMMAND_FILE, STATUS_FILE] {
            let m = std::fs::metadata(d.path().join(f)).unwrap();
            assert!(m.len() > 0, "{f} is empty");
        }
        // perf passes the recorded process's exit code on.
        assert_eq!(std::fs::read_to_string(d.path().join(STATUS_FILE)).unwrap(), "exit=3\n");
        let script = std::fs::read_to_string(d.path().join(PERF_SCRIPT)).unwrap();
        assert!(
            script.lines().any(|l| l.starts_with("sh ")),
            "{}",
            &script[..script.len().min(2000)]
        );
        assert!(!script.contains("failed ("), "{}", &script[..script.len().min(2000)]);
        let report = std::fs::read_to_string(d.path().join(PERF_REPORT)).unwrap();
        assert!(report.lines().any(|l| l.split_whitespace().nth(1) == Some("sh")), "{report}");
        assert!(report.contains("# Samples: "), "{report}");
        let cmd = std::fs::read_to_string(d.path().join(COMMAND_FILE)).unwrap();
        assert!(cmd.starts_with("recorded: sh -c 'i=0; while"), "{cmd}");
    }
}
