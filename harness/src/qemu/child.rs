//! The QEMU child process: never left behind, whatever ends the harness.
//!
//! QEMU starts with `PR_SET_PDEATHSIG`; its pid is kept for the Ctrl-C /
//! SIGTERM handler, and a guard kills it on every other exit path.

use std::process::Child;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, Result};

/// Pid of the QEMU currently running (0: none), for the Ctrl-C handler.
static QEMU_PID: AtomicI32 = AtomicI32::new(0);

/// Installs a Ctrl-C / SIGTERM handler that kills the running QEMU and exits.
pub fn install_interrupt_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        kill_running_qemu();
        eprintln!("harness: interrupted; QEMU killed");
        std::process::exit(130);
    })
    .context("cannot install the Ctrl-C handler")
}

fn kill_running_qemu() {
    let pid = QEMU_PID.swap(0, Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (the
        // guard clears QEMU_PID before waiting), so it cannot name a reused pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Kills and reaps QEMU unless it was already waited for.
pub(super) struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Takes charge of a freshly started QEMU (the interrupt handler can
    /// now kill it).
    pub(super) fn new(child: Child) -> Self {
        QEMU_PID.store(child.id() as i32, Ordering::SeqCst);
        ChildGuard(Some(child))
    }

    pub(super) fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child present until finished")
    }

    pub(super) fn finish(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.0.take().expect("child present until finished");
        let status = child.wait().context("waiting for QEMU");
        QEMU_PID.store(0, Ordering::SeqCst);
        status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            QEMU_PID.store(0, Ordering::SeqCst);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
