//! Executor: a Linux guest (Debian's kernel) whose initramfs `/init` is the
//! static baseline, under the same QEMU envelope as the capOS runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::native::{taskset, Workload};
use super::runner::{Capture, Case, Executor};
use super::{cpio, qemu_run, Os};
use crate::accel::Accel;

/// Newest `/boot/vmlinuz-*` (Debian's `linux-image-amd64`).
pub fn find_kernel(boot: &Path) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(boot)
        .with_context(|| format!("cannot list {}", boot.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    found.sort();
    found.pop().with_context(|| {
        format!(
            "no vmlinuz-* in {}: run scripts/install-deps.sh (installs linux-image-amd64) or pass --kernel",
            boot.display()
        )
    })
}

/// Writes the initramfs for `baseline` to `out`.
pub fn write_initramfs(baseline: &Path, out: &Path) -> Result<()> {
    let init =
        std::fs::read(baseline).with_context(|| format!("cannot read {}", baseline.display()))?;
    let img = cpio::initramfs(&init).context("cannot build the initramfs")?;
    std::fs::write(out, img).with_context(|| format!("cannot write {}", out.display()))
}

pub struct GuestExec {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub accel: Accel,
    pub mem: String,
    pub workload: Workload,
    pub timeout: Duration,
    /// `_PROFILE`: record each run's QEMU with `perf record`.
    pub profile: bool,
    pub quiet: bool,
}

impl GuestExec {
    /// The kernel command line for `workers`.
    pub fn append(&self, workers: u32) -> String {
        // panic=-1: a guest panic reboots at once, which -no-reboot turns into a QEMU exit.
        format!(
            "console=ttyS0 quiet tsc=reliable panic=-1 capos.bench={}",
            self.workload.cmdline_value(workers)
        )
    }

    pub fn qemu_argv(&self, smp: u32, workers: u32) -> Vec<OsString> {
        let smp = smp.to_string();
        let mut a: Vec<OsString> =
            ["qemu-system-x86_64", "-M", "q35", "-cpu", "max", "-m", &self.mem, "-smp", &smp]
                .into_iter()
                .chain([
                    "-accel",
                    self.accel.qemu_arg(),
                    "-nodefaults",
                    "-serial",
                    "stdio",
                    "-display",
                    "none",
                    "-no-reboot",
                ])
                .map(OsString::from)
                .collect();
        a.extend([
            "-kernel".into(),
            self.kernel.clone().into(),
            "-initrd".into(),
            self.initramfs.clone().into(),
        ]);
        a.extend(["-append".into(), self.append(workers).into()]);
        a
    }
}

impl Executor for GuestExec {
    fn os(&self) -> Os {
        Os::LinuxGuest
    }

    fn accel(&self) -> &str {
        match self.accel {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn run(&mut self, case: &Case, dir: &Path) -> Result<Capture> {
        let mut argv: Vec<OsString> = case.pin.as_deref().map(taskset).unwrap_or_default();
        argv.extend(self.qemu_argv(case.cpus, case.workers));
        std::fs::write(dir.join("qemu-command.txt"), format!("{argv:?}\n"))
            .context("writing qemu-command.txt")?;
        let log = dir.join("serial.log");
        let f = qemu_run::run_measured(&argv, dir, &log, self.timeout, self.quiet, self.profile)?;
        if !f.status.success() {
            bail!(
                "QEMU exited with {} instead of a guest power-off (log: {})",
                f.status,
                log.display()
            );
        }
        Ok(Capture { lines: f.lines, log, wall: f.wall })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        let g = GuestExec {
            kernel: "/boot/vmlinuz-x".into(),
            initramfs: "/a/initramfs.cpio".into(),
            accel: Accel::Tcg,
            mem: "512M".into(),
            workload: Workload::ThreadScale { blocks: 262_144, rounds: 64 },
            timeout: Duration::from_secs(1),
            profile: false,
            quiet: true,
        };
        let s = g
            .qemu_argv(2, 2)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            s,
            "qemu-system-x86_64 -M q35 -cpu max -m 512M -smp 2 -accel tcg,thread=multi -nodefaults -serial stdio \
             -display none -no-reboot -kernel /boot/vmlinuz-x -initrd /a/initramfs.cpio -append console=ttyS0 quiet \
             tsc=reliable panic=-1 capos.bench=thread-scale,threads=2,blocks=262144,rounds=64"
        );
    }

    #[test]
    fn kernel_lookup() {
        let d = tempfile::tempdir().unwrap();
        assert!(find_kernel(d.path()).unwrap_err().to_string().contains("install-deps"));
        for n in ["vmlinuz-6.1.0-1-amd64", "vmlinuz-6.1.0-9-amd64", "config-6.1.0-9-amd64"] {
            std::fs::write(d.path().join(n), b"").unwrap();
        }
        assert!(find_kernel(d.path()).unwrap().ends_with("vmlinuz-6.1.0-9-amd64"));
    }
}
