//! What QEMU is asked to run: boot media, machine, accel, devices, and the
//! command line built from them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::accel::Accel;

/// How the guest is booted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootMedia {
    /// PVH loader via `-kernel`, the initrd archive via `-initrd`.
    Direct { loader: PathBuf, initrd: PathBuf },
    /// A Limine ISO via `-cdrom` (BIOS).
    Cdrom(PathBuf),
    /// A Limine ISO via `-cdrom` under UEFI firmware (`-bios`, e.g.
    /// Debian's OVMF).
    UefiCdrom { iso: PathBuf, firmware: PathBuf },
}

#[derive(Clone, Debug)]
pub struct QemuConfig {
    pub boot: BootMedia,
    pub smp: u32,
    pub mem: String,
    pub accel: Accel,
    pub timeout: Duration,
    /// Gets serial.log, com2.bin and qemu-stderr.log.
    pub run_dir: PathBuf,
    pub quiet: bool,
    /// ELFs to symbolize backtraces against, tried in order (kernel first).
    pub symbol_elfs: Vec<PathBuf>,
}

impl QemuConfig {
    pub fn serial_log(&self) -> PathBuf {
        self.run_dir.join("serial.log")
    }

    /// QEMU's arguments. `-nodefaults` drops the default NIC, VGA and drives;
    /// the explicit `-serial`s still create COM1 (stdio) and COM2 (file).
    pub fn args(&self) -> Vec<OsString> {
        let smp = self.smp.to_string();
        let mut a: Vec<OsString> =
            ["-nodefaults", "-M", "q35", "-cpu", "max", "-m", &self.mem, "-smp", &smp]
                .into_iter()
                .chain(["-accel", self.accel.qemu_arg()])
                .map(OsString::from)
                .collect();
        match &self.boot {
            BootMedia::Direct { loader, initrd } => {
                a.extend(["-kernel".into(), loader.into(), "-initrd".into(), initrd.into()]);
            }
            BootMedia::Cdrom(iso) => a.extend(["-cdrom".into(), iso.into()]),
            BootMedia::UefiCdrom { iso, firmware } => {
                a.extend(["-bios".into(), firmware.into(), "-cdrom".into(), iso.into()]);
            }
        }
        let mut com2 = OsString::from("file:");
        com2.push(self.run_dir.join("com2.bin"));
        a.extend(
            ["-display", "none", "-no-reboot", "-serial", "stdio", "-serial"].map(OsString::from),
        );
        a.push(com2);
        a.push(OsString::from("-device"));
        a.push(OsString::from(format!(
            "isa-debug-exit,iobase={:#x},iosize=0x04",
            capos_abi::guest::DEBUG_EXIT_PORT
        )));
        a
    }
}
