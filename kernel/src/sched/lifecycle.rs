//! Creating, joining and ending threads.

use super::dispatch::{block_current, current, enqueue_at, schedule};
use super::thread::{Entry, KernelStack, Kind, NewThread, State, Thread, ThreadRef, UserEntry};
use crate::mm::address_space::AddressSpace;
use crate::sync::{IrqOff, SchedSite};
use crate::sync::{IrqSpinLock, SharedClass};
use alloc::string::String;
use alloc::sync::Arc;
use capos_kcore::slab::Slab;
use core::sync::atomic::Ordering;

/// Most threads alive at once (including exited, not yet joined ones).
pub const MAX_THREADS: usize = 4096;

/// Every thread that has a `ThreadRef`, until it is joined.
pub(super) static THREADS: IrqSpinLock<Slab<Arc<Thread>>> =
    IrqSpinLock::shared(Slab::with_limit(MAX_THREADS), SharedClass::ThreadTable);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    OutOfMemory,
    TooManyThreads,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// The ref names no live thread (already joined, or never existed).
    Stale,
    /// Another thread is already joining it.
    AlreadyJoined,
    /// A thread cannot join itself.
    SelfJoin,
}

/// Options for a new kernel thread.
pub struct Spawn {
    pub name: String,
    pub affinity: Option<u32>,
    pub address_space: Option<Arc<AddressSpace>>,
    pub process: Option<Arc<crate::proc::Process>>,
    pub ring: Option<crate::cap::ring::Ring>,
    pub detached: bool,
}

impl Spawn {
    pub fn named(name: &str) -> Self {
        Spawn {
            name: String::from(name),
            affinity: None,
            address_space: None,
            process: None,
            ring: None,
            detached: false,
        }
    }
    pub fn on_cpu(mut self, cpu: u32) -> Self {
        self.affinity = Some(cpu);
        self
    }
    pub fn in_space(mut self, space: Arc<AddressSpace>) -> Self {
        self.address_space = Some(space);
        self
    }
    /// A user thread of `process` with its own ring; reaped without a join.
    pub fn user(
        mut self,
        process: Arc<crate::proc::Process>,
        ring: crate::cap::ring::Ring,
    ) -> Self {
        self.address_space = Some(process.space.clone());
        self.process = Some(process);
        self.ring = Some(ring);
        self.detached = true;
        self
    }

    /// Starts a user thread: `f` runs first in the new thread (kernel
    /// mode) and names the user entry. Returns the thread itself (it may
    /// already have exited and left the table by the time this returns).
    pub fn start_user(
        self,
        f: impl FnOnce() -> UserEntry + Send + 'static,
    ) -> Result<Arc<Thread>, SpawnError> {
        self.launch(Entry::User(alloc::boxed::Box::new(f))).map(|(_, t)| t)
    }

    /// Creates the thread and makes it runnable; `f`'s result is its exit code.
    pub fn start(self, f: impl FnOnce() -> i64 + Send + 'static) -> Result<ThreadRef, SpawnError> {
        self.launch(Entry::Kernel(alloc::boxed::Box::new(f))).map(|(r, _)| r)
    }

    fn launch(self, entry: Entry) -> Result<(ThreadRef, Arc<Thread>), SpawnError> {
        let stack = KernelStack::new().ok_or(SpawnError::OutOfMemory)?;
        let t = Thread::new(NewThread {
            name: self.name,
            kind: Kind::Kernel,
            affinity: self.affinity,
            address_space: self.address_space,
            process: self.process,
            ring: self.ring,
            stack: Some(stack),
            entry: Some(entry),
            initial_state: State::Ready,
        });
        let r = THREADS.lock().insert(t.clone()).map_err(|_| SpawnError::TooManyThreads)?;
        t.set_tref(r);
        t.detached.store(self.detached, Ordering::Release);
        let _irq = IrqOff::new();
        #[cfg(feature = "measure")]
        {
            let _s = t.sched.lock();
            let now = crate::arch::x86_64::cpu::rdtsc();
            crate::measure::thread_state(&t, Some(crate::measure::ThreadState::Runnable), now);
        }
        enqueue_at(t.clone(), crate::sync::SchedSite::Spawn);
        Ok((r, t))
    }
}

/// Waits for the thread `r` to exit and returns its exit code. The ref is
/// stale afterwards.
pub fn join(r: ThreadRef) -> Result<i64, JoinError> {
    let t = THREADS.lock().get(r).cloned().ok_or(JoinError::Stale)?;
    let me = current();
    if Arc::ptr_eq(&t, &me) {
        return Err(JoinError::SelfJoin);
    }
    if t.joined.swap(true, Ordering::AcqRel) {
        return Err(JoinError::AlreadyJoined);
    }
    loop {
        *t.joiner.lock() = Some(me.clone());
        if t.is_reaped() {
            break;
        }
        #[cfg(feature = "measure")]
        crate::measure::block_reason(&me, crate::measure::BlockReason::Join);
        block_current();
    }
    t.joiner.lock().take();
    THREADS.lock().remove(r);
    Ok(t.exit_code.load(Ordering::Acquire))
}

/// Ends the current thread with `code`. Its stack is released by the next
/// thread to run on this CPU; joiners are woken then.
pub fn exit(code: i64) -> ! {
    let why = {
        let _irq = IrqOff::new();
        let me = current();
        me.exit_code.store(code, Ordering::Release);
        me.sched.lock().state = State::Exited;
        // The process ends with this thread: killed, or its last thread
        // (whose exit already recorded the process's status).
        let process_ends =
            me.process.as_ref().is_some_and(|p| p.is_killed() || p.status().is_some());
        if process_ends {
            SchedSite::ProcessExit
        } else {
            SchedSite::ThreadExit
        }
    };
    x86_64::instructions::interrupts::disable();
    schedule(why);
    crate::panic::stop_system("an exited thread was scheduled again")
}

/// Lets other runnable threads have the CPU.
pub fn yield_now() {
    schedule(SchedSite::Yield);
}

/// Drops the table entry of a detached thread that has been reaped.
pub fn reap_detached(t: &Arc<Thread>) {
    THREADS.lock().remove(t.tref());
}

/// The thread `r` names, if it is still live.
pub fn lookup(r: ThreadRef) -> Option<Arc<Thread>> {
    THREADS.lock().get(r).cloned()
}

/// Number of threads in the table (live or exited-but-unjoined).
pub fn thread_count() -> usize {
    THREADS.lock().len()
}
