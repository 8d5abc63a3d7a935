//! Processes: an address space, a capability table, threads, an exit status.
//!
//! A process ends when its last thread exits (or when it is killed: a user
//! fault, or `exit_process`). Then its caps are dropped, its address space
//! is torn down (unmapped, shot down, freed) and everyone waiting on a
//! `ProcessHandle` gets a completion. The ownership rules are in
//! docs/architecture/memory-ownership.md.

pub mod elf;
pub mod manifest;
pub mod modules;
mod process;
mod threads;
mod user_va;
pub mod usermem;

pub use process::Process;
pub use threads::cancel_exit_waits_of;
#[cfg(feature = "measure")]
pub use threads::set_exit_cancel_delay;

use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use capos_abi::error::Error;
use core::sync::atomic::AtomicU32;

/// Most processes alive at once (spawning past it fails with OutOfResources).
pub const MAX_PROCESSES: u32 = 64;
/// Most threads one process may have.
pub const MAX_THREADS_PER_PROCESS: u32 = 64;
/// Most user frames one process may own (stacks, image, heap): 64 MiB.
pub const MAX_FRAMES_PER_PROCESS: usize = 16384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i64,
    pub killed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    NotFound,
    BadBinary(elf::ElfError),
    OutOfResources,
}

impl From<SpawnError> for Error {
    fn from(e: SpawnError) -> Error {
        match e {
            SpawnError::NotFound => Error::NotFound,
            SpawnError::BadBinary(_) => Error::BadParams,
            SpawnError::OutOfResources => Error::OutOfResources,
        }
    }
}

/// Processes that have exited (boot-manifest processes and children).
pub static EXITED: AtomicU32 = AtomicU32::new(0);
/// A kernel thread to wake whenever a process exits (kmain waits on it).
pub static EXIT_WATCHER: IrqSpinLock<Option<Arc<Thread>>> =
    IrqSpinLock::shared(None, crate::sync::SharedClass::ExitWatcher);

/// Ends the calling user thread (and with the last one, its process).
pub fn exit_current_thread(code: i64) -> ! {
    let t = sched::current();
    if let Some(p) = t.process.clone() {
        p.thread_exited(&t, code);
    }
    drop(t);
    sched::exit(code)
}

/// A user-mode fault: report it (with the user stack, as `bt` lines the
/// harness symbolizes against the binary named in the report), kill the
/// process, end this thread.
pub fn user_fault(vector: u64, rip: u64, addr: u64, rbp: u64) -> ! {
    let t = sched::current();
    if let Some(p) = &t.process {
        let report = capos_abi::guest::UserFault {
            pid: p.pid,
            binary: &p.name,
            thread: &t.name,
            what: crate::arch::x86_64::exceptions::name(vector),
            rip,
            addr,
        };
        crate::kprintln!("{report}");
        let mut frames = [0u64; 16];
        frames[0] = rip;
        let n = crate::arch::x86_64::backtrace::walk(rbp, &mut frames, |fp| {
            usermem::read_frame(&p.space, fp)
        });
        for (i, pc) in frames[..n].iter().enumerate() {
            crate::kprintln!("{}{i} {pc:#018x}", capos_abi::guest::BACKTRACE_FRAME);
        }
        p.kill(-(vector as i64) - 1000, true);
    }
    drop(t);
    exit_current_thread(-1)
}

/// If the current thread's process was killed, end the thread.
pub fn exit_if_killed() {
    let t = sched::current();
    let killed = t.process.as_ref().is_some_and(|p| p.is_killed());
    drop(t);
    if killed {
        exit_current_thread(-1);
    }
}
