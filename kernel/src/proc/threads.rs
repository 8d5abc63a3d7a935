//! A process's threads: starting them, joining them by identity, and what
//! happens when one exits (and, with the last one, the process).
//!
//! A thread that exits first stops being a target (`begin_exit`: later
//! completions for it are dropped), cancels everything still pending on
//! its behalf, gives back the user ranges the kernel placed for it (its
//! ring page is unmapped and shot down from every CPU that has the space
//! loaded before the frame can ever be freed), and publishes its exit code
//! for joiners, who wait by generation-checked `ThreadRef`, never by
//! address. The last thread's exit tears the address space down.

use super::process::{UserThread, LIVE_PROCESSES};
use super::{Process, EXITED, EXIT_WATCHER, MAX_THREADS_PER_PROCESS};
use crate::cap::completion::{complete, Completion};
use crate::mm::PAGE_SIZE;
use crate::sched::{self, Spawn, Thread, UserEntry};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use core::sync::atomic::Ordering;

/// `ProcessHandle.wait` completions: (pid waited for, the waiter's completion).
static EXIT_WAITS: IrqSpinLock<Vec<(u32, Completion)>> =
    IrqSpinLock::shared(Vec::new(), crate::sync::SharedClass::ExitWaits);

/// Measure kernel, for tests (kernel word `exit_cancel_delay_ms=`): TSC
/// cycles an exiting thread with work outstanding waits between
/// `begin_exit` and cancelling that work, so a completion that falls due in
/// the window (a timer expiry on the BSP's tick) reaches an exiting thread
/// and is dropped (`memory.completions_dropped`): the race made wide enough
/// to plant. Zero (no wait) unless set.
#[cfg(feature = "measure")]
static EXIT_CANCEL_DELAY: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Sets [`EXIT_CANCEL_DELAY`] (at boot, before the first process).
#[cfg(feature = "measure")]
pub fn set_exit_cancel_delay(cycles: u64) {
    EXIT_CANCEL_DELAY.store(cycles, Ordering::Relaxed);
}

/// Spins for [`EXIT_CANCEL_DELAY`] cycles if `t` has work outstanding, on
/// the exiting thread's own exit path with no lock held. From an
/// `exit_thread` call interrupts are enabled, so ticks (and their timer
/// expiry) still fire; a kernel-mode tick never reschedules. On a path that
/// masks interrupts the wait only delays the exit.
#[cfg(feature = "measure")]
fn exit_cancel_delay(t: &Thread) {
    let d = EXIT_CANCEL_DELAY.load(Ordering::Relaxed);
    if d == 0 || t.ring.as_ref().is_none_or(|r| r.outstanding() == 0) {
        return;
    }
    let end = crate::arch::x86_64::cpu::rdtsc().saturating_add(d);
    while crate::arch::x86_64::cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
}

impl Process {
    /// Starts a user thread. `stack` is a kernel-allocated stack the thread
    /// owns (freed when it exits); `regs(ring_va)` names its user entry.
    pub fn start_thread(
        self: &Arc<Self>,
        name: &str,
        stack: Option<(u64, u64)>,
        regs: impl FnOnce(u64) -> UserEntry + Send + 'static,
    ) -> Result<Arc<Thread>, Error> {
        if self.is_killed() || self.exit.lock().is_some() {
            return Err(Error::InvalidState);
        }
        // Counting first keeps the process from exiting under us.
        if self.live_threads.fetch_add(1, Ordering::AcqRel) >= MAX_THREADS_PER_PROCESS {
            self.live_threads.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::OutOfResources);
        }
        let started = self.launch(name, stack, regs);
        if started.is_err() {
            self.live_threads.fetch_sub(1, Ordering::AcqRel);
        }
        started
    }

    fn launch(
        self: &Arc<Self>,
        name: &str,
        stack: Option<(u64, u64)>,
        regs: impl FnOnce(u64) -> UserEntry + Send + 'static,
    ) -> Result<Arc<Thread>, Error> {
        crate::mm::heap::admit(8 * 1024)?;
        let ring_va = self.va.lock().alloc(PAGE_SIZE)?;
        let Some(ring) = crate::cap::ring::Ring::new(&self.space, ring_va) else {
            self.va.lock().free(ring_va, PAGE_SIZE);
            return Err(Error::OutOfResources);
        };
        let me = self.clone();
        // The thread registers itself before it first enters user mode, so
        // its record exists before it can exit; until then the live count
        // keeps the process alive.
        let started = Spawn::named(name).user(self.clone(), ring).start_user(move || {
            let thread = sched::current();
            me.threads.lock().push(UserThread { thread, ring_va, stack });
            regs(ring_va)
        });
        started.map_err(|_| {
            // The ring was dropped with the unstarted thread (unmapped and
            // shot down there); its range can be reused.
            self.va.lock().free(ring_va, PAGE_SIZE);
            Error::OutOfResources
        })
    }

    /// Completes `c` with `t`'s exit code once `t` (a sibling) has exited.
    pub fn join_thread(&self, t: &Arc<Thread>, c: Completion) {
        let code = {
            let mut j = self.joins.lock();
            match t.published_exit() {
                Some(code) => code,
                None => {
                    j.push((t.tref(), c));
                    return;
                }
            }
        };
        complete(c, 0, Some(&crate::cap::objects::join_message(code)));
    }

    /// Drops the joins that `t` (exiting) was waiting in.
    pub fn cancel_joins_of(&self, t: &Arc<Thread>) -> usize {
        let mine: Vec<_> = self.joins.lock().extract_if(.., |(_, c)| c.is_for(t)).collect();
        mine.len()
    }

    /// Registers a completion for when the process exits; completes at once
    /// if it already has.
    pub fn on_exit(&self, c: Completion) {
        let done = {
            let mut w = EXIT_WAITS.lock();
            match *self.exit.lock() {
                Some(st) => Some((c, st)),
                None => {
                    w.push((self.pid, c));
                    None
                }
            }
        };
        if let Some((c, st)) = done {
            crate::cap::objects::complete_wait(c, st);
        }
    }

    /// Called by every exiting user thread of this process.
    pub fn thread_exited(self: &Arc<Self>, t: &Arc<Thread>, code: i64) {
        crate::m_segment!(ThreadExitJoinCleanup, { self.thread_exited_inner(t, code) })
    }

    fn thread_exited_inner(self: &Arc<Self>, t: &Arc<Thread>, code: i64) {
        t.begin_exit();
        #[cfg(feature = "measure")]
        exit_cancel_delay(t);
        crate::cap::completion::cancel_for(t);
        self.release_thread_ranges(t);
        let joiners: Vec<Completion> = {
            let mut j = self.joins.lock();
            t.publish_exit(code);
            let key = t.tref();
            j.extract_if(.., |(k, _)| *k == key).map(|(_, c)| c).collect()
        };
        let msg = crate::cap::objects::join_message(code);
        for c in joiners {
            complete(c, 0, Some(&msg));
        }
        if self.live_threads.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.exited(code);
        }
    }

    /// Unmaps the exiting thread's ring (and a stack the kernel gave it)
    /// and returns their ranges for reuse.
    fn release_thread_ranges(&self, t: &Arc<Thread>) {
        let record = {
            let mut ts = self.threads.lock();
            ts.iter().position(|u| Arc::ptr_eq(&u.thread, t)).map(|i| ts.swap_remove(i))
        };
        let Some(u) = record else { return };
        if let Some(ring) = &t.ring {
            ring.unmap();
        }
        self.va.lock().free(u.ring_va, PAGE_SIZE);
        if let Some(stack) = u.stack {
            self.free_stack(stack);
        }
    }

    /// The last thread has exited: publish the status, drop the caps, tear
    /// the address space down, tell the waiters.
    fn exited(self: &Arc<Self>, last_code: i64) {
        let st = self.exit_status(last_code);
        let waiters: Vec<Completion> = {
            let mut w = EXIT_WAITS.lock();
            *self.exit.lock() = Some(st);
            let mine = w.extract_if(.., |(pid, _)| *pid == self.pid).map(|(_, c)| c).collect();
            crate::mm::heap::trim(&mut w);
            mine
        };
        crate::m_segment!(ProcessExitDrop, {
            let caps = core::mem::take(&mut *self.caps.lock());
            drop(caps);
            crate::cap::objects::process_gone(self.pid, self.space.pml4());
            self.space.teardown();
            // A handle may keep the dead process for long: keep it small.
            drop(core::mem::take(&mut *self.threads.lock()));
            self.va.lock().forget();
            drop(core::mem::take(&mut *self.joins.lock()));
        });
        LIVE_PROCESSES.fetch_sub(1, Ordering::AcqRel);
        crate::switch_log!(
            "kernel: process {} ({}) exited: code {}{}",
            self.pid,
            self.name,
            st.code,
            if st.killed { " (killed by a fault)" } else { "" }
        );
        for c in waiters {
            crate::cap::objects::complete_wait(c, st);
        }
        EXITED.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = EXIT_WATCHER.lock().as_ref() {
            sched::wake(w);
        }
    }
}

/// Drops the `ProcessHandle.wait`s that `t` (exiting) had pending.
pub fn cancel_exit_waits_of(t: &Arc<Thread>) -> usize {
    let mine: Vec<_> = {
        let mut w = EXIT_WAITS.lock();
        let mine = w.extract_if(.., |(_, c)| c.is_for(t)).collect();
        crate::mm::heap::trim(&mut w);
        mine
    };
    mine.len()
}
