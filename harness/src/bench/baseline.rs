//! Building the static Linux baseline (`capos-linux-baseline`) for
//! x86_64-unknown-linux-musl, in its own target dir (never together with the
//! bare-metal crates).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
pub const PACKAGE: &str = "capos-linux-baseline";

fn ensure_target() -> Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(o) = &out {
        if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == MUSL_TARGET) {
            return Ok(());
        }
    }
    eprintln!("harness: adding Rust target {MUSL_TARGET}");
    let st = Command::new("rustup")
        .args(["target", "add", MUSL_TARGET])
        .status()
        .context("cannot run rustup")?;
    if !st.success() {
        bail!("`rustup target add {MUSL_TARGET}` failed ({st})");
    }
    Ok(())
}

/// Builds the baseline and returns the static binary's path.
pub fn build(root: &Path) -> Result<PathBuf> {
    ensure_target()?;
    let target_dir = root.join("target").join("linux-baseline");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            PACKAGE,
            "--target",
            MUSL_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .context("cannot run cargo")?;
    if !st.success() {
        bail!("building {PACKAGE} for {MUSL_TARGET} failed ({st})");
    }
    let bin = target_dir.join(MUSL_TARGET).join("release").join(PACKAGE);
    if !bin.is_file() {
        bail!("cargo succeeded but {} is missing", bin.display());
    }
    Ok(bin)
}
