//! How a QEMU run ended and what the guest printed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use capos_abi::guest::GuestExit;

use super::KERNEL_LINE_PREFIX;

/// How QEMU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// The guest wrote one of our codes to the debug-exit port.
    Guest(GuestExit),
    /// Status 0: the guest powered off (or reset, with `-no-reboot`).
    PoweredOff,
    /// Any other exit status (1 is QEMU's own error).
    Status(i32),
    /// QEMU was killed by a signal.
    Signal(i32),
}

impl ExitKind {
    pub fn from_status(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => ExitKind::PoweredOff,
            (Some(c), _) => {
                GuestExit::from_qemu_status(c).map_or(ExitKind::Status(c), ExitKind::Guest)
            }
            (None, Some(sig)) => ExitKind::Signal(sig),
            (None, None) => ExitKind::Status(-1),
        }
    }

    pub fn describe(self) -> String {
        match self {
            ExitKind::Guest(GuestExit::Success) => "guest reported Success".into(),
            ExitKind::Guest(GuestExit::Failure) => {
                "guest reported Failure (a test or check failed)".into()
            }
            ExitKind::Guest(GuestExit::Panic) => {
                "guest reported Panic (kernel panic or unexpected exception)".into()
            }
            ExitKind::PoweredOff => "guest powered off or reset (QEMU status 0)".into(),
            ExitKind::Status(1) => "QEMU failed (status 1; see qemu-stderr.log)".into(),
            ExitKind::Status(c) => format!("QEMU exited with unexpected status {c}"),
            ExitKind::Signal(s) => format!("QEMU was killed by signal {s}"),
        }
    }

    /// Ok for Success, and for a power-off when `allow_poweroff`.
    pub fn check(self, allow_poweroff: bool) -> Result<()> {
        match self {
            ExitKind::Guest(GuestExit::Success) => Ok(()),
            ExitKind::PoweredOff if allow_poweroff => Ok(()),
            other => bail!("{}", other.describe()),
        }
    }
}

/// What one QEMU run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit: ExitKind,
    /// Annotated COM1 lines.
    pub lines: Vec<String>,
    /// Host time from spawning QEMU to the first `kernel: ` line.
    pub first_kernel_line: Option<Duration>,
    pub serial_log: PathBuf,
}

impl RunOutcome {
    /// Warns when the kernel never printed its first line (the time to it
    /// was reported as it arrived).
    pub fn warn_if_kernel_silent(&self) {
        if self.first_kernel_line.is_none() {
            eprintln!("harness: warning: the kernel printed no `{KERNEL_LINE_PREFIX}` line");
        }
    }
}
