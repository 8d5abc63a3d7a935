//! Opt-in host profiling (`*_PROFILE=1`): `perf stat` around the measured
//! process (QEMU, or the native baseline), written to `perf-stat.txt` in the
//! run's directory. Samples of QEMU are host-side, not guest attribution.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

pub const UNSUPPORTED: &str = "host profiling not supported here";

/// Whether `perf stat -e instructions true` works on this host.
pub fn available() -> bool {
    Command::new("perf")
        .args(["stat", "-e", "instructions", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `argv` run under `perf stat`, its report in `dir/perf-stat.txt`.
pub fn wrap(argv: Vec<OsString>, dir: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> =
        ["perf", "stat", "-e", "instructions,cycles,task-clock,context-switches", "-o"]
            .map(OsString::from)
            .to_vec();
    out.push(dir.join("perf-stat.txt").into());
    out.push("--".into());
    out.extend(argv);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrapping_keeps_the_command() {
        let w = super::wrap(vec!["qemu".into(), "-m".into()], std::path::Path::new("/d"));
        let s: Vec<String> = w.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(&s[s.len() - 3..], ["--", "qemu", "-m"]);
        assert!(s.contains(&"/d/perf-stat.txt".to_string()));
    }
}
