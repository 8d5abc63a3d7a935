//! Completions: the one path by which a result reaches a thread's ring.
//!
//! Every SQE the kernel consumes becomes a [`Completion`]. It is posted at
//! once or kept by exactly one pending registry (the timer list, park
//! waiters, an endpoint's queues, process-exit waits, sibling joins) and
//! posted later through [`complete`], which checks its target first: a
//! completion for a thread that has begun to exit is dropped and counted,
//! never copied. When a thread exits, [`cancel_for`] takes every completion
//! still pending on its behalf out of every registry, so no sleep, wait or
//! call keeps a dead thread (and through it its process) alive.

use super::objects;
use crate::proc::usermem::UserSlice;
use crate::sched::{self, Thread};
use alloc::sync::Arc;
use capos_abi::ring::Cqe;

/// Where a method's completion goes: the ring of the thread that asked.
#[derive(Clone)]
pub struct Completion {
    pub thread: Arc<Thread>,
    pub user_data: u64,
    /// The user buffer for the result message, if the SQE named one.
    pub result: Option<UserSlice>,
}

impl Completion {
    /// Whether this completion is owed to `t`.
    pub fn is_for(&self, t: &Thread) -> bool {
        core::ptr::eq(Arc::as_ptr(&self.thread), t)
    }
}

/// Posts the completion `c` with `result` and an optional result message,
/// then wakes the thread. Callable from any context (no allocation).
pub fn complete(c: Completion, result: i64, message: Option<&[u8]>) {
    if c.thread.is_exiting() {
        crate::m_add!(capos_measure::catalogue::memory::completions_dropped);
        return;
    }
    let mut cqe = Cqe { user_data: c.user_data, result, ..Cqe::default() };
    if let (Some(m), Some(dst), Some(space)) = (message, c.result, c.thread.address_space.as_ref())
    {
        if result >= 0 {
            match dst.write(space, m) {
                Ok(()) => cqe.result_bytes = m.len() as u32,
                Err(e) => cqe.result = e.as_result(),
            }
        }
    }
    if let Some(ring) = &c.thread.ring {
        ring.post(cqe);
    }
    sched::wake(&c.thread);
}

/// Removes every completion pending on behalf of `t` (which is exiting)
/// from every registry; returns how many there were.
pub fn cancel_for(t: &Arc<Thread>) -> usize {
    if t.ring.as_ref().is_some_and(|r| r.outstanding() == 0) {
        return 0; // every SQE it consumed has completed: nothing is pending
    }
    let n = crate::time::cancel_for(t)
        + objects::cancel_for(t)
        + t.process.as_ref().map_or(0, |p| p.cancel_joins_of(t))
        + crate::proc::cancel_exit_waits_of(t);
    crate::m_add!(capos_measure::catalogue::memory::pending_cancelled, n as u64);
    n
}
