//! Artifact layout: `target/<prefix><benchmark>/<timestamp>/` holding
//! results.csv, summary.log, speedup-table.md, and one directory per case
//! and run (`<case>/run<r>[-retry<a>]/`) with the raw serial log.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::{Benchmark, Os};

/// Creates a fresh artifact directory for `os` running `bench`.
pub fn create(root: &Path, os: Os, bench: Benchmark) -> Result<PathBuf> {
    let parent = root.join("target").join(format!("{}{}", os.artifact_prefix(), bench.name()));
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let base = crate::rundir::timestamp(now);
    for k in 0..1000 {
        let dir = if k == 0 { parent.join(&base) } else { parent.join(format!("{base}-{k}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("too many artifact directories named {base} in {}", parent.display())
}

/// Directory of one attempt of one run of one case (created).
pub fn run_dir(art: &Path, case: &str, run: u32, attempt: u32) -> Result<PathBuf> {
    let name = if attempt == 0 { format!("run{run}") } else { format!("run{run}-retry{attempt}") };
    let dir = art.join(case).join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let root = tempfile::tempdir().unwrap();
        let a = create(root.path(), Os::LinuxGuest, Benchmark::ThreadScale).unwrap();
        let b = create(root.path(), Os::LinuxGuest, Benchmark::ThreadScale).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(root.path().join("target/linux-thread-scale")));
        let c = create(root.path(), Os::Capos, Benchmark::ProcessScale).unwrap();
        assert!(c.starts_with(root.path().join("target/smp-process-scale")));
        assert!(run_dir(&a, "smp2-w2", 1, 0).unwrap().ends_with("smp2-w2/run1"));
        assert!(run_dir(&a, "smp2-w2", 1, 2).unwrap().ends_with("smp2-w2/run1-retry2"));
    }
}
