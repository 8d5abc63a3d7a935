//! The initrd archive: the one definition of its layout and of `limine.conf`.
//!
//! A ustar archive holding `boot/limine.conf`, `boot/kernel` and
//! `boot/modules/<name>` for each module. QEMU hands it to the loader as the
//! PVH module (`-initrd`); the loader resolves `boot():/X` to the entry `X`.
//! The ISO builder reuses [`plan`] and [`limine_conf`] so both boot paths see
//! the same files and the same configuration.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::{Images, Module};

/// Archive path of the kernel ELF.
pub const KERNEL_PATH: &str = "boot/kernel";
/// Archive path of the generated Limine configuration.
pub const CONF_PATH: &str = "boot/limine.conf";
/// Directory of modules in the archive.
pub const MODULES_DIR: &str = "boot/modules";
/// Longest entry path: the ustar name field. The loader refuses the ustar
/// `prefix` field, so longer paths must never be written.
pub const MAX_PATH_LEN: usize = 100;
/// Name of the single boot entry.
pub const ENTRY_NAME: &str = "capOS";

/// Where an entry's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// One file of the boot file set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the archive (or ISO) root, no leading slash.
    pub path: String,
    pub content: Content,
}

/// The Limine URI of an archive path.
pub fn boot_uri(path_in_archive: &str) -> String {
    format!("boot():/{path_in_archive}")
}

fn check_value(what: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        bail!("the {what} must be one line, got {value:?}");
    }
    Ok(())
}

fn check_module_path(path: &str) -> Result<()> {
    let name = path.strip_prefix(MODULES_DIR).and_then(|p| p.strip_prefix('/'));
    match name {
        Some(n) if !n.is_empty() && n.split('/').all(|c| !c.is_empty() && c != "." && c != "..") => Ok(()),
        _ => bail!("module path {path:?} must be {MODULES_DIR}/<name> without empty, `.` or `..` components"),
    }
}

/// Generates `limine.conf` in the syntax every Limine from 8.0 on reads:
/// `kernel_path:` (8.6 added `path:` as an alias; 8.0-8.5 refuse it with
/// "KERNEL_PATH not specified"), one `module_path:` per module followed by
/// its `module_cmdline:` (left out when empty), `cmdline:` (left out when
/// empty), and `serial: yes` so Limine's own messages reach COM1. The PVH
/// loader (`boot/src/conf.rs`) reads the same file from the initrd.
pub fn limine_conf(kernel_cmdline: &str, modules: &[Module]) -> Result<String> {
    check_value("kernel command line", kernel_cmdline)?;
    let mut conf = format!(
        "timeout: 0\nserial: yes\n\n/{ENTRY_NAME}\n    protocol: limine\n    kernel_path: {}\n",
        boot_uri(KERNEL_PATH)
    );
    if !kernel_cmdline.is_empty() {
        conf.push_str(&format!("    cmdline: {kernel_cmdline}\n"));
    }
    for m in modules {
        check_module_path(&m.path_in_archive)?;
        check_value(&format!("command line of module {}", m.path_in_archive), &m.cmdline)?;
        conf.push_str(&format!("    module_path: {}\n", boot_uri(&m.path_in_archive)));
        if !m.cmdline.is_empty() {
            conf.push_str(&format!("    module_cmdline: {}\n", m.cmdline));
        }
    }
    Ok(conf)
}

/// The archive's entries, in order: configuration, kernel, modules.
pub fn plan(images: &Images, kernel_cmdline: &str) -> Result<Vec<Entry>> {
    let conf = limine_conf(kernel_cmdline, &images.modules)?;
    let mut entries = vec![
        Entry { path: CONF_PATH.to_string(), content: Content::Bytes(conf.into_bytes()) },
        Entry { path: KERNEL_PATH.to_string(), content: Content::File(images.kernel.clone()) },
    ];
    for m in &images.modules {
        if entries.iter().any(|e| e.path == m.path_in_archive) {
            bail!("two modules are both named {}", m.path_in_archive);
        }
        entries.push(Entry {
            path: m.path_in_archive.clone(),
            content: Content::File(m.host_path.clone()),
        });
    }
    if let Some(long) = entries.iter().find(|e| e.path.len() > MAX_PATH_LEN) {
        bail!("archive path {} is longer than {MAX_PATH_LEN} bytes (the ustar name field the loader reads)", long.path);
    }
    Ok(entries)
}

/// Writes the initrd archive for `images` to `out`.
pub fn write_initrd(images: &Images, kernel_cmdline: &str, out: &Path) -> Result<()> {
    let entries = plan(images, kernel_cmdline)?;
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    for entry in &entries {
        let data = match &entry.content {
            Content::Bytes(b) => b.clone(),
            Content::File(p) => std::fs::read(p).with_context(|| {
                format!("cannot read {} for archive entry {}", p.display(), entry.path)
            })?,
        };
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &entry.path, data.as_slice())
            .with_context(|| format!("cannot add {} to {}", entry.path, out.display()))?;
    }
    tar.into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot finish {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(modules: Vec<Module>) -> Images {
        Images { loader: "/l".into(), kernel: "/k".into(), modules }
    }

    #[test]
    fn conf_without_cmdline_or_modules() {
        assert_eq!(
            limine_conf("", &[]).unwrap(),
            "timeout: 0\nserial: yes\n\n/capOS\n    protocol: limine\n    kernel_path: boot():/boot/kernel\n"
        );
    }

    #[test]
    fn conf_with_cmdline_and_modules_in_order() {
        let modules =
            vec![Module::new("init", "/a", "verbose"), Module::new("manifest.bin", "/b", "")];
        assert_eq!(
            limine_conf("ktest=mm::", &modules).unwrap(),
            "timeout: 0\n\
             serial: yes\n\
             \n\
             /capOS\n    protocol: limine\n    kernel_path: boot():/boot/kernel\n    cmdline: ktest=mm::\n\
             \x20   module_path: boot():/boot/modules/init\n    module_cmdline: verbose\n\
             \x20   module_path: boot():/boot/modules/manifest.bin\n"
        );
    }

    #[test]
    fn conf_rejects_bad_values() {
        assert!(limine_conf("a\nb", &[]).unwrap_err().to_string().contains("one line"));
        let bad = Module {
            path_in_archive: "boot/modules/../kernel".into(),
            host_path: "/x".into(),
            cmdline: "".into(),
        };
        assert!(limine_conf("", &[bad]).is_err());
        let dup = vec![Module::new("a", "/x", ""), Module::new("a", "/y", "")];
        assert!(plan(&images(dup), "").unwrap_err().to_string().contains("two modules"));
        let long = vec![Module::new(&"x".repeat(90), "/x", "")];
        assert!(plan(&images(long), "").unwrap_err().to_string().contains("longer than 100 bytes"));
    }

    #[test]
    fn archive_lists_the_entries() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("kernel.elf");
        let init = dir.path().join("init.elf");
        std::fs::write(&kernel, b"\x7fELF kernel").unwrap();
        std::fs::write(&init, b"init bytes").unwrap();
        let imgs = Images {
            loader: "/l".into(),
            kernel,
            modules: vec![Module::new("init", &init, "x=1")],
        };
        let out = dir.path().join("initrd.tar");
        write_initrd(&imgs, "ktest", &out).unwrap();

        let raw = std::fs::read(&out).unwrap();
        assert_eq!(&raw[257..263], b"ustar\0", "ustar magic");
        let mut archive = tar::Archive::new(raw.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            seen.push((path, body));
        }
        let names: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["boot/limine.conf", "boot/kernel", "boot/modules/init"]);
        assert_eq!(seen[1].1, b"\x7fELF kernel");
        assert_eq!(seen[2].1, b"init bytes");
        let conf = String::from_utf8(seen[0].1.clone()).unwrap();
        assert!(conf.contains("    cmdline: ktest\n    module_path: boot():/boot/modules/init\n    module_cmdline: x=1\n"));
    }

    #[test]
    fn missing_kernel_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let imgs = Images { loader: "/l".into(), kernel: dir.path().join("nope"), modules: vec![] };
        let err = format!("{:#}", write_initrd(&imgs, "", &dir.path().join("x.tar")).unwrap_err());
        assert!(err.contains("nope") && err.contains("boot/kernel"), "{err}");
    }
}
