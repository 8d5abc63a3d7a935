//! Building a Limine ISO (BIOS and UEFI) from a directory of Limine binaries,
//! with the same kernel, modules and `limine.conf` as the initrd archive.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::archive::{self, Content, Entry};
use crate::build::Images;

/// Limine files the ISO needs, besides the `limine` host tool.
pub const LIMINE_BIOS_SYS: &str = "limine-bios.sys";
pub const LIMINE_BIOS_CD: &str = "limine-bios-cd.bin";
pub const LIMINE_UEFI_CD: &str = "limine-uefi-cd.bin";
pub const LIMINE_EFI: &str = "BOOTX64.EFI";
pub const LIMINE_TOOL: &str = "limine";
/// Where Limine looks for its configuration on the ISO.
pub const ISO_CONF_PATH: &str = "boot/limine/limine.conf";

/// Checks that `limine_dir` has every file the ISO needs; names all missing ones.
pub fn check_limine_dir(limine_dir: &Path) -> Result<()> {
    if !limine_dir.is_dir() {
        bail!("the Limine directory {} does not exist", limine_dir.display());
    }
    let missing: Vec<&str> =
        [LIMINE_BIOS_SYS, LIMINE_BIOS_CD, LIMINE_UEFI_CD, LIMINE_EFI, LIMINE_TOOL]
            .into_iter()
            .filter(|f| !limine_dir.join(f).is_file())
            .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks Limine files: {} (take them from a Limine 8.x binary release)",
            limine_dir.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// Every file of the ISO root: the archive's entries (with `limine.conf`
/// moved to `/boot/limine/`) plus Limine's boot files.
pub fn plan(images: &Images, kernel_cmdline: &str, limine_dir: &Path) -> Result<Vec<Entry>> {
    let mut entries = archive::plan(images, kernel_cmdline)?;
    for e in &mut entries {
        if e.path == archive::CONF_PATH {
            e.path = ISO_CONF_PATH.to_string();
        }
    }
    for (file, dest) in [
        (LIMINE_BIOS_SYS, "boot/limine/limine-bios.sys"),
        (LIMINE_BIOS_CD, "boot/limine/limine-bios-cd.bin"),
        (LIMINE_UEFI_CD, "boot/limine/limine-uefi-cd.bin"),
        (LIMINE_EFI, "EFI/BOOT/BOOTX64.EFI"),
    ] {
        entries
            .push(Entry { path: dest.to_string(), content: Content::File(limine_dir.join(file)) });
    }
    Ok(entries)
}

/// `xorriso -as mkisofs ...` arguments for a hybrid BIOS/UEFI ISO.
pub fn xorriso_args(iso_root: &Path, iso: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "-as",
        "mkisofs",
        "-R",
        "-r",
        "-J",
        "-b",
        "boot/limine/limine-bios-cd.bin",
        "-no-emul-boot",
        "-boot-load-size",
        "4",
        "-boot-info-table",
        "-hfsplus",
        "-apm-block-size",
        "2048",
        "--efi-boot",
        "boot/limine/limine-uefi-cd.bin",
        "-efi-boot-part",
        "--efi-boot-image",
        "--protective-msdos-label",
    ]
    .map(String::from)
    .to_vec();
    a.push(iso_root.display().to_string());
    a.push("-o".into());
    a.push(iso.display().to_string());
    a
}

/// Finds an executable on PATH.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn run_tool(program: &Path, args: &[String], what: &str) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot start {} for {what}", program.display()))?;
    if !status.success() {
        bail!("{what} failed ({status}): {} {}", program.display(), args.join(" "));
    }
    Ok(())
}

/// Builds the ISO at `iso`, staging its files in `<iso>.root/`.
pub fn build_iso(
    images: &Images,
    kernel_cmdline: &str,
    limine_dir: &Path,
    iso: &Path,
) -> Result<()> {
    check_limine_dir(limine_dir)?;
    let xorriso =
        find_in_path("xorriso").context("xorriso is not installed (Debian package `xorriso`)")?;
    let entries = plan(images, kernel_cmdline, limine_dir)?;

    let mut root_name = iso.file_name().context("the ISO path has no file name")?.to_os_string();
    root_name.push(".root");
    let root = iso.with_file_name(root_name);
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot clear {}", root.display()))?;
    }
    for e in &entries {
        let dest = root.join(&e.path);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        match &e.content {
            Content::Bytes(b) => std::fs::write(&dest, b).map(|_| ()),
            Content::File(src) => std::fs::copy(src, &dest).map(|_| ()),
        }
        .with_context(|| format!("cannot stage {} in {}", e.path, root.display()))?;
    }
    if let Some(dir) = iso.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    run_tool(&xorriso, &xorriso_args(&root, iso), "xorriso")?;
    run_tool(
        &limine_dir.join(LIMINE_TOOL),
        &["bios-install".to_string(), iso.display().to_string()],
        "limine bios-install",
    )?;
    eprintln!("harness: wrote {}", iso.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::Module;

    #[test]
    fn file_plan_matches_the_archive() {
        let images = Images {
            loader: "/l".into(),
            kernel: "/k/kernel".into(),
            modules: vec![Module::new("init", "/m/init", "")],
        };
        let plan = plan(&images, "quiet", Path::new("/limine")).unwrap();
        let paths: Vec<&str> = plan.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "boot/limine/limine.conf",
                "boot/kernel",
                "boot/modules/init",
                "boot/limine/limine-bios.sys",
                "boot/limine/limine-bios-cd.bin",
                "boot/limine/limine-uefi-cd.bin",
                "EFI/BOOT/BOOTX64.EFI",
            ]
        );
        let conf = archive::limine_conf("quiet", &images.modules).unwrap().into_bytes();
        assert_eq!(plan[0].content, Content::Bytes(conf));
        assert_eq!(plan[1].content, Content::File("/k/kernel".into()));
        assert_eq!(plan[6].content, Content::File("/limine/BOOTX64.EFI".into()));
    }

    #[test]
    fn missing_limine_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LIMINE_BIOS_SYS), b"").unwrap();
        let e = check_limine_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("limine-bios-cd.bin, limine-uefi-cd.bin, BOOTX64.EFI, limine"), "{e}");
        assert!(!e.contains("limine-bios.sys"), "{e}");
        let e = check_limine_dir(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn xorriso_command() {
        let a = xorriso_args(Path::new("/r"), Path::new("/o.iso")).join(" ");
        assert!(
            a.starts_with("-as mkisofs -R -r -J -b boot/limine/limine-bios-cd.bin -no-emul-boot")
        );
        assert!(a.ends_with("--efi-boot-image --protective-msdos-label /r -o /o.iso"));
    }
}
