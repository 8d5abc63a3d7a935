//! ParkSpace: block on a user word while it holds an expected value.
//!
//! `park(addr, expected, timeout)` compares the u32 at `addr` under the park
//! table lock and queues the caller only if it still matches, so an
//! `unpark` that follows a store is never lost. Waiters are keyed by
//! (address space, address); `unpark(addr, n)` wakes up to `n` of them in
//! FIFO order. A timeout completes the waiter with `Timeout`.

use super::messages::{self, Params};
use crate::cap::ring::complete;
use crate::cap::{Completion, Outcome};
use crate::proc::{usermem, Process};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use core::sync::atomic::{AtomicU64, Ordering};

struct Waiter {
    id: u64,
    space: u64,
    addr: u64,
    c: Completion,
}

static WAITERS: IrqSpinLock<Vec<Waiter>> = IrqSpinLock::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Most parked waiters at once (all processes).
const MAX_WAITERS: usize = 4096;

pub fn park(p: &Arc<Process>, params: &Params, c: Completion) -> Result<Outcome, Error> {
    let (addr, expected, timeout_ns) = params.park()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    {
        let mut w = WAITERS.lock();
        let now = usermem::read_u32(&p.space, addr)?;
        if now != expected {
            return Ok(Outcome::Done(0, Some(messages::park_result(false))));
        }
        if w.len() >= MAX_WAITERS {
            return Err(Error::OutOfResources);
        }
        w.push(Waiter { id, space: p.space.pml4(), addr, c });
    }
    if let Some(deadline) = crate::time::deadline_after_ns(timeout_ns) {
        crate::time::call_at(deadline, timeout, id);
    }
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

pub fn unpark(p: &Arc<Process>, params: &Params) -> Result<Outcome, Error> {
    let (addr, count) = params.unpark()?;
    if addr % 4 != 0 {
        return Err(Error::BadAddress);
    }
    let space = p.space.pml4();
    let woken: Vec<Waiter> = {
        let mut ws = WAITERS.lock();
        let mut out = Vec::new();
        let mut i = 0;
        while i < ws.len() && out.len() < count as usize {
            if ws[i].space == space && ws[i].addr == addr {
                out.push(ws.remove(i));
            } else {
                i += 1;
            }
        }
        out
    };
    let n = woken.len() as u32;
    let msg = messages::park_result(true);
    for w in woken {
        complete(w.c, 0, Some(&msg));
    }
    Ok(Outcome::Done(n as i64, Some(messages::unpark_result(n))))
}

/// Drops the waiters of a process that is gone.
pub fn forget_space(space: u64) {
    WAITERS.lock().retain(|w| w.space != space);
}
