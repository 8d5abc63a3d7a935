//! Choosing QEMU's accelerator: KVM only when it really works.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::AccelChoice;

/// `_IO(KVMIO, 0x00)`.
const KVM_GET_API_VERSION: u64 = 0xAE00;
/// `_IO(KVMIO, 0x01)`.
const KVM_CREATE_VM: u64 = 0xAE01;
/// The only KVM API version there has ever been.
const KVM_API_VERSION: i32 = 12;

pub const KVM_DEVICE: &str = "/dev/kvm";

/// The accelerator a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// Value of QEMU's `-accel`.
    pub fn qemu_arg(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg,thread=multi",
        }
    }
}

/// Checks that `device` is a working KVM: it opens read-write, reports API
/// version 12 and creates a VM. `Err` says why not.
pub fn probe_kvm(device: &Path) -> Result<(), String> {
    let kvm = OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(|e| format!("cannot open {} read-write: {e}", device.display()))?;
    // SAFETY: `kvm` is an open file descriptor owned by this function;
    // KVM_GET_API_VERSION takes no argument and only returns an integer.
    let version = unsafe { libc::ioctl(kvm.as_raw_fd(), KVM_GET_API_VERSION as _, 0) };
    if version != KVM_API_VERSION {
        return Err(format!(
            "{}: KVM_GET_API_VERSION returned {version} ({}), expected {KVM_API_VERSION}",
            device.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: as above; KVM_CREATE_VM takes the machine type (0 = default)
    // by value and returns a new file descriptor or -1.
    let vm = unsafe { libc::ioctl(kvm.as_raw_fd(), KVM_CREATE_VM as _, 0) };
    if vm < 0 {
        return Err(format!(
            "{}: KVM_CREATE_VM failed: {}",
            device.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `vm` is a fresh descriptor returned by the kernel that nothing
    // else owns; OwnedFd closes it when dropped.
    drop(unsafe { OwnedFd::from_raw_fd(vm) });
    Ok(())
}

/// Resolves `choice` against `device`; returns the accelerator and a line
/// saying why it was picked.
pub fn choose(choice: AccelChoice, device: &Path) -> Result<(Accel, String)> {
    match choice {
        AccelChoice::Tcg => Ok((Accel::Tcg, "tcg (requested)".to_string())),
        AccelChoice::Kvm => match probe_kvm(device) {
            Ok(()) => Ok((Accel::Kvm, "kvm (requested, probe ok)".to_string())),
            Err(why) => bail!("--accel kvm was requested but KVM does not work: {why}"),
        },
        AccelChoice::Auto => match probe_kvm(device) {
            Ok(()) if host_is_virtual_machine(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()) => Ok((
                Accel::Tcg,
                "tcg,thread=multi (KVM opens, but this host is itself a VM: nested KVM boots slower than TCG here \
                 and its timings are not publishable; pass --accel kvm to force it)"
                    .to_string(),
            )),
            Ok(()) => Ok((Accel::Kvm, "kvm (probe ok)".to_string())),
            Err(why) => Ok((Accel::Tcg, format!("tcg,thread=multi (KVM unusable: {why})"))),
        },
    }
}

/// Whether `/proc/cpuinfo` says this host runs under a hypervisor (the
/// `hypervisor` CPUID flag), i.e. any KVM here is nested.
pub fn host_is_virtual_machine(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_hosts_are_detected_from_cpuinfo() {
        assert!(host_is_virtual_machine("processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n"));
        assert!(!host_is_virtual_machine("processor\t: 0\nflags\t\t: fpu vme lahf_lm\n"));
        assert!(!host_is_virtual_machine("model name\t: hypervisor-brand cpu\nflags\t\t: fpu\n"));
    }

    #[test]
    fn absent_device_means_tcg() {
        let missing = Path::new("/nonexistent/kvm");
        let (accel, why) = choose(AccelChoice::Auto, missing).unwrap();
        assert_eq!(accel, Accel::Tcg);
        assert!(why.contains("cannot open /nonexistent/kvm"), "{why}");
        assert_eq!(accel.qemu_arg(), "tcg,thread=multi");
        let err = choose(AccelChoice::Kvm, missing).unwrap_err().to_string();
        assert!(err.contains("KVM does not work"), "{err}");
        assert_eq!(choose(AccelChoice::Tcg, missing).unwrap().0, Accel::Tcg);
    }

    #[test]
    fn a_file_that_is_not_kvm_means_tcg() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let (accel, why) = choose(AccelChoice::Auto, f.path()).unwrap();
        assert_eq!(accel, Accel::Tcg);
        assert!(why.contains("KVM_GET_API_VERSION"), "{why}");
    }
}
