//! The subset of Limine's `limine.conf` the loader honours.
//!
//! The harness generates the same file for this loader and for a real Limine
//! ISO, so one text describes both boots. The first entry (`/name`) is booted;
//! its `protocol` must be `limine`. Recognised keys: `path` (or the older
//! `kernel_path`), `cmdline` (or `kernel_cmdline`), and repeated
//! `module_path` / `module_cmdline` pairs. `timeout` and unknown keys are
//! ignored. Paths must use the `boot():/` resource, which names files in the
//! boot archive.

/// Most modules one entry may load.
pub const MAX_MODULES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleSpec<'a> {
    pub path: &'a str,
    pub cmdline: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry<'a> {
    pub name: &'a str,
    pub kernel_path: &'a str,
    pub cmdline: &'a str,
    pub modules: [ModuleSpec<'a>; MAX_MODULES],
    pub module_count: usize,
}

impl<'a> BootEntry<'a> {
    pub fn modules(&self) -> &[ModuleSpec<'a>] {
        &self.modules[..self.module_count]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfError {
    NoEntry,
    NotLimineProtocol,
    NoKernelPath,
    /// A path that does not start with `boot():/`; the line number is 1-based.
    UnsupportedResource {
        line: usize,
    },
    TooManyModules,
    /// `module_cmdline` without a preceding `module_path`.
    OrphanModuleCmdline {
        line: usize,
    },
}

/// Strips the `boot():` resource, leaving the archive path without its `/`.
fn archive_path(value: &str, line: usize) -> Result<&str, ConfError> {
    value
        .strip_prefix("boot():/")
        .filter(|p| !p.is_empty())
        .ok_or(ConfError::UnsupportedResource { line })
}

/// Parses `text` and returns its first boot entry.
pub fn parse(text: &str) -> Result<BootEntry<'_>, ConfError> {
    let mut entry: Option<BootEntry<'_>> = None;
    let mut protocol_ok = false;
    let mut last_module_has_cmdline = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('/') {
            if entry.is_some() {
                break; // only the first entry is booted
            }
            entry = Some(BootEntry {
                name: name.trim(),
                kernel_path: "",
                cmdline: "",
                modules: [ModuleSpec::default(); MAX_MODULES],
                module_count: 0,
            });
            continue;
        }
        let Some(e) = entry.as_mut() else { continue }; // global options
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key.trim() {
            "protocol" => protocol_ok = value == "limine",
            "path" | "kernel_path" => e.kernel_path = archive_path(value, line_no)?,
            "cmdline" | "kernel_cmdline" => e.cmdline = value,
            "module_path" => {
                if e.module_count == MAX_MODULES {
                    return Err(ConfError::TooManyModules);
                }
                e.modules[e.module_count] =
                    ModuleSpec { path: archive_path(value, line_no)?, cmdline: "" };
                e.module_count += 1;
                last_module_has_cmdline = false;
            }
            "module_cmdline" | "module_string" => {
                if e.module_count == 0 || last_module_has_cmdline {
                    return Err(ConfError::OrphanModuleCmdline { line: line_no });
                }
                e.modules[e.module_count - 1].cmdline = value;
                last_module_has_cmdline = true;
            }
            _ => {}
        }
    }
    let e = entry.ok_or(ConfError::NoEntry)?;
    if !protocol_ok {
        return Err(ConfError::NotLimineProtocol);
    }
    if e.kernel_path.is_empty() {
        return Err(ConfError::NoKernelPath);
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "timeout: 0\n\n/capOS\n    protocol: limine\n    path: boot():/boot/kernel\n    cmdline: ktest=sched\n    module_path: boot():/boot/modules/init\n    module_cmdline: init --verbose\n    module_path: boot():/boot/modules/manifest\n\n/other\n    protocol: limine\n    path: boot():/x\n";

    #[test]
    fn parses_first_entry() {
        let e = parse(CONF).unwrap();
        assert_eq!(e.name, "capOS");
        assert_eq!(e.kernel_path, "boot/kernel");
        assert_eq!(e.cmdline, "ktest=sched");
        assert_eq!(
            e.modules(),
            &[
                ModuleSpec { path: "boot/modules/init", cmdline: "init --verbose" },
                ModuleSpec { path: "boot/modules/manifest", cmdline: "" }
            ]
        );
    }

    #[test]
    fn rejects_bad_configs() {
        assert_eq!(parse("timeout: 0\n"), Err(ConfError::NoEntry));
        assert_eq!(
            parse("/a\n protocol: linux\n path: boot():/k\n"),
            Err(ConfError::NotLimineProtocol)
        );
        assert_eq!(parse("/a\n protocol: limine\n"), Err(ConfError::NoKernelPath));
        assert_eq!(
            parse("/a\n protocol: limine\n path: tftp():/k\n"),
            Err(ConfError::UnsupportedResource { line: 3 })
        );
        assert_eq!(
            parse("/a\n protocol: limine\n path: boot():/k\n module_cmdline: x\n"),
            Err(ConfError::OrphanModuleCmdline { line: 4 })
        );
        let many: String =
            (0..=MAX_MODULES).map(|i| format!(" module_path: boot():/m{i}\n")).collect();
        assert_eq!(
            parse(&format!("/a\n protocol: limine\n path: boot():/k\n{many}")),
            Err(ConfError::TooManyModules)
        );
    }

    #[test]
    fn accepts_older_key_names() {
        let e = parse("/a\nprotocol: limine\nkernel_path: boot():/k\nkernel_cmdline: q\n").unwrap();
        assert_eq!((e.kernel_path, e.cmdline), ("k", "q"));
    }

    #[test]
    fn reads_what_the_harness_writes_for_real_limine() {
        let conf = "timeout: 0\nserial: yes\n\n/capOS\n    protocol: limine\n    \
                    kernel_path: boot():/boot/kernel\n    module_path: boot():/boot/modules/init\n";
        let e = parse(conf).unwrap();
        assert_eq!(e.kernel_path, "boot/kernel");
        assert_eq!(e.modules(), [ModuleSpec { path: "boot/modules/init", cmdline: "" }]);
    }
}
