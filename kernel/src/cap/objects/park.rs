//! ParkSpace: block on a user word while it holds an expected value.
//!
//! `park(addr, expected, timeout)` compares the u32 at `addr` under the park
//! table lock and queues the caller only if it still matches, so an
//! `unpark` that follows a store is never lost. Waiters are keyed by
//! (address space, address); `unpark(addr, n)` wakes up to `n` of them in
//! FIFO order. A timeout completes the waiter with `Timeout`; a waiter that
//! leaves early (unparked, or its thread exits) takes its timer entry with
//! it. Each process may have at most [`MAX_PARKED_PER_PROCESS`] waiters, so
//! no process can use up parking for the others.

use super::messages::{self, Params};
use crate::cap::completion::complete;
use crate::cap::{Completion, Outcome};
use crate::proc::{usermem, Process};
use crate::sched::Thread;
use crate::sync::IrqSpinLock;
use crate::time::{self, TimerId};
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use core::sync::atomic::{AtomicU64, Ordering};

struct Waiter {
    id: u64,
    space: u64,
    addr: u64,
    c: Completion,
    timer: Option<TimerId>,
}

static WAITERS: IrqSpinLock<Vec<Waiter>> =
    IrqSpinLock::shared(Vec::new(), crate::sync::SharedClass::ParkWaiters);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Most parked waiters one process may have at once.
pub const MAX_PARKED_PER_PROCESS: usize = 256;

pub fn park(p: &Arc<Process>, params: &Params, c: Completion) -> Result<Outcome, Error> {
    let (addr, expected, timeout_ns) = params.park()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let space = p.space.pml4();
    let mut w = WAITERS.lock();
    let now = usermem::read_u32(&p.space, addr)?;
    if now != expected {
        return Ok(Outcome::Done(0, Some(messages::park_result(false))));
    }
    if w.iter().filter(|w| w.space == space).count() >= MAX_PARKED_PER_PROCESS {
        return Err(Error::OutOfResources);
    }
    w.try_reserve(1).map_err(|_| Error::OutOfResources)?;
    // Registered under the lock: an unpark cannot take the waiter before
    // it knows the timer to cancel.
    let timer = match time::deadline_after_ns(timeout_ns) {
        Some(deadline) => Some(time::call_at(deadline, timeout, id)?),
        None => None,
    };
    w.push(Waiter { id, space, addr, c, timer });
    Ok(Outcome::Pending)
}

/// Timer callback: the waiter `id` (if still parked) times out.
fn timeout(id: u64) {
    let w = {
        let mut ws = WAITERS.lock();
        ws.iter().position(|w| w.id == id).map(|i| ws.remove(i))
    };
    if let Some(w) = w {
        complete(w.c, Error::Timeout.as_result(), None);
    }
}

/// Takes the waiters matching `pick` (at most `max`) out of the table and
/// cancels their timers.
fn take(max: usize, mut pick: impl FnMut(&Waiter) -> bool) -> Vec<Waiter> {
    let taken: Vec<Waiter> = {
        let mut ws = WAITERS.lock();
        let mut n = 0;
        let taken = ws
            .extract_if(.., |w| {
                let hit = n < max && pick(w);
                n += hit as usize;
                hit
            })
            .collect();
        crate::mm::heap::trim(&mut ws);
        taken
    };
    for w in &taken {
        if let Some(t) = w.timer {
            time::cancel(t);
        }
    }
    taken
}

pub fn unpark(p: &Arc<Process>, params: &Params) -> Result<Outcome, Error> {
    let (addr, count) = params.unpark()?;
    if addr % 4 != 0 {
        return Err(Error::BadAddress);
    }
    let space = p.space.pml4();
    let woken = take(count as usize, |w| w.space == space && w.addr == addr);
    let n = woken.len() as u32;
    let msg = messages::park_result(true);
    for w in woken {
        complete(w.c, 0, Some(&msg));
    }
    Ok(Outcome::Done(n as i64, Some(messages::unpark_result(n))))
}

/// Drops the waits of `t` (which is exiting); returns how many.
pub fn cancel_for(t: &Arc<Thread>) -> usize {
    take(usize::MAX, |w| w.c.is_for(t)).len()
}

/// Drops the waiters of a process that is gone.
pub fn forget_space(space: u64) {
    take(usize::MAX, |w| w.space == space);
}
