//! Run directories: `target/runs/<name>-<UTC timestamp>/`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// `YYYYmmdd-HHMMSS` (UTC) for seconds since the Unix epoch.
pub fn timestamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Creates a fresh run directory `<root>/target/runs/<name>-<timestamp>[-k]`.
pub fn create(root: &Path, name: &str) -> Result<PathBuf> {
    create_in(root, "runs", name)
}

/// Creates a fresh directory `<root>/target/<kind>/<name>-<timestamp>[-k]`.
pub fn create_in(root: &Path, kind: &str, name: &str) -> Result<PathBuf> {
    let runs = root.join("target").join(kind);
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let base = format!("{name}-{}", timestamp(now));
    for k in 0..1000 {
        let dir = if k == 0 { runs.join(&base) } else { runs.join(format!("{base}-{k}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("too many run directories named {base} in {}", runs.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101-000000");
        assert_eq!(timestamp(951_782_400), "20000229-000000");
        assert_eq!(timestamp(1_764_064_800 + 3661), "20251125-110101");
    }

    #[test]
    fn run_dirs_are_unique() {
        let root = tempfile::tempdir().unwrap();
        let a = create(root.path(), "ktest-smp1").unwrap();
        let b = create(root.path(), "ktest-smp1").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(root.path().join("target/runs")) && a.is_dir() && b.is_dir());
    }
}
