//! A Limine directory the ISO builder can use (`iso::check_limine_dir`),
//! staged from a Limine 8.x binary release: its four boot files copied, and
//! its `limine` host tool (`bios-install`) built from the release's
//! `limine.c` with the system C compiler, into `target/limine/`.
//!
//! The tests boot through `../shared/limine` (Limine 8.2.0); a directory
//! that already holds a built `limine` tool is used as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::iso::{LIMINE_BIOS_CD, LIMINE_BIOS_SYS, LIMINE_EFI, LIMINE_TOOL, LIMINE_UEFI_CD};

/// The release's source of the `limine` tool and the header it includes.
const TOOL_SOURCE: &str = "limine.c";
const TOOL_HEADER: &str = "limine-bios-hdd.h";

/// Returns a directory with every file the ISO needs: `release` itself when
/// it has a built tool, else `target/limine/` staged from it (rebuilt when
/// the release's files are newer).
pub fn stage(root: &Path, release: &Path) -> Result<PathBuf> {
    if !release.is_dir() {
        bail!(
            "the Limine directory {} does not exist (a Limine 8.x binary release: \
             limine-bios.sys, limine-bios-cd.bin, limine-uefi-cd.bin, BOOTX64.EFI, and \
             limine.c or a built limine)",
            release.display()
        );
    }
    if release.join(LIMINE_TOOL).is_file() {
        crate::iso::check_limine_dir(release)?;
        return Ok(release.to_path_buf());
    }
    let out = root.join("target/limine");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for f in [LIMINE_BIOS_SYS, LIMINE_BIOS_CD, LIMINE_UEFI_CD, LIMINE_EFI] {
        let src = release.join(f);
        if !src.is_file() {
            bail!("{} lacks {f} (a Limine 8.x binary release has it)", release.display());
        }
        let dest = out.join(f);
        // Release files are often read-only: replace, do not overwrite.
        let _ = std::fs::remove_file(&dest);
        std::fs::copy(&src, &dest)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    }
    let source = release.join(TOOL_SOURCE);
    if !source.is_file() || !release.join(TOOL_HEADER).is_file() {
        bail!(
            "{} has neither a built `limine` tool nor {TOOL_SOURCE} + {TOOL_HEADER} to build one",
            release.display()
        );
    }
    let tool = out.join(LIMINE_TOOL);
    if stale(&tool, &[&source, &release.join(TOOL_HEADER)]) {
        let cc = crate::iso::find_in_path("cc")
            .context("no C compiler (`cc`) to build the limine tool (Debian package `gcc`)")?;
        eprintln!("harness: building the limine tool from {}", source.display());
        let status = Command::new(&cc)
            .args(["-O2", "-std=c99", "-o"])
            .arg(&tool)
            .arg(&source)
            .arg("-I")
            .arg(release)
            .status()
            .with_context(|| format!("cannot start {}", cc.display()))?;
        if !status.success() {
            bail!("building the limine tool from {} failed ({status})", source.display());
        }
    }
    crate::iso::check_limine_dir(&out)?;
    Ok(out)
}

/// Whether `target` is missing or older than any of `sources`.
fn stale(target: &Path, sources: &[&Path]) -> bool {
    let Ok(built) = target.metadata().and_then(|m| m.modified()) else { return true };
    sources.iter().any(|s| s.metadata().and_then(|m| m.modified()).map_or(true, |t| t > built))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_without_a_tool_or_its_source_is_refused_clearly() {
        let root = tempfile::tempdir().unwrap();
        let rel = tempfile::tempdir().unwrap();
        let e = stage(root.path(), &rel.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = stage(root.path(), rel.path()).unwrap_err().to_string();
        assert!(e.contains("lacks limine-bios.sys"), "{e}");
        for f in [LIMINE_BIOS_SYS, LIMINE_BIOS_CD, LIMINE_UEFI_CD, LIMINE_EFI] {
            std::fs::write(rel.path().join(f), b"x").unwrap();
        }
        let e = stage(root.path(), rel.path()).unwrap_err().to_string();
        assert!(e.contains("neither a built `limine` tool nor limine.c"), "{e}");
    }

    #[test]
    fn staleness_follows_modification_times() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        assert!(stale(&a, &[&b]), "a missing target is stale");
        std::fs::write(&b, b"src").unwrap();
        std::fs::write(&a, b"out").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&b).unwrap().set_modified(old).unwrap();
        assert!(!stale(&a, &[&b]));
    }
}
