//! The calling thread's capability ring.

use crate::{syscall, tls};
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::ring::{op, Cqe, Sqe, CQ_ENTRIES, CQ_OFFSET, SQ_ENTRIES, SQ_OFFSET};
use core::sync::atomic::{AtomicU32, Ordering};

/// Waits without a timeout.
pub const FOREVER: u64 = u64::MAX;

#[derive(Clone, Copy)]
pub struct Ring {
    base: u64,
}

impl Ring {
    /// The calling thread's ring.
    pub fn current() -> Ring {
        Ring { base: tls::current().ring() }
    }

    fn field(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the kernel mapped the ring page at `base` for this thread;
        // header fields are aligned u32s shared with the kernel.
        unsafe { &*((self.base as *const AtomicU32).add(i)) }
    }

    /// SQEs submitted but not yet consumed by the kernel.
    pub fn sq_pending(&self) -> u32 {
        self.field(1).load(Ordering::Relaxed).wrapping_sub(self.field(0).load(Ordering::Acquire))
    }

    /// Queues `sqe`; `Err` if the submission queue is full.
    pub fn push(&self, sqe: Sqe) -> Result<(), Sqe> {
        let tail = self.field(1).load(Ordering::Relaxed);
        if tail.wrapping_sub(self.field(0).load(Ordering::Acquire)) >= SQ_ENTRIES {
            return Err(sqe);
        }
        let slot = SQ_OFFSET + (tail % SQ_ENTRIES) as usize * size_of::<Sqe>();
        // SAFETY: the slot is inside our ring page and not owned by the
        // kernel until we advance the tail.
        unsafe { ((self.base as usize + slot) as *mut Sqe).write_volatile(sqe) };
        self.field(1).store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Writes `tail` directly: for tests of the kernel's index checks.
    pub fn force_sq_tail(&self, tail: u32) {
        self.field(1).store(tail, Ordering::Release);
    }

    pub fn sq_head(&self) -> u32 {
        self.field(0).load(Ordering::Acquire)
    }

    /// Takes the next completion, if any.
    pub fn pop(&self) -> Option<Cqe> {
        let head = self.field(2).load(Ordering::Relaxed);
        if head == self.field(3).load(Ordering::Acquire) {
            return None;
        }
        let slot = CQ_OFFSET + (head % CQ_ENTRIES) as usize * size_of::<Cqe>();
        // SAFETY: the kernel published this slot before advancing the tail.
        let c = unsafe { ((self.base as usize + slot) as *const Cqe).read_volatile() };
        self.field(2).store(head.wrapping_add(1), Ordering::Release);
        Some(c)
    }

    /// Completions the kernel could not post.
    pub fn cq_overflow(&self) -> u32 {
        self.field(6).load(Ordering::Relaxed)
    }
}

/// A fresh `user_data` value for this thread.
pub fn next_user_data() -> u64 {
    tls::current().fresh_user_data()
}

/// An SQE for `method` of slot `cap` with `params` and a result buffer.
pub fn call_sqe(cap: u32, method: u16, params: &[u8], result: &mut [u8], user_data: u64) -> Sqe {
    Sqe {
        opcode: op::CALL,
        method,
        cap,
        user_data,
        params: if params.is_empty() { 0 } else { params.as_ptr() as u64 },
        params_len: params.len() as u32,
        result: if result.is_empty() { 0 } else { result.as_mut_ptr() as u64 },
        result_len: result.len() as u32,
        ..Sqe::default()
    }
}

/// Waits for the completion with `user_data`, stashing others.
pub fn wait_for(user_data: u64) -> Cqe {
    let ring = Ring::current();
    let b = tls::current();
    loop {
        if let Some(c) = b.unstash(user_data) {
            return c;
        }
        while let Some(c) = ring.pop() {
            if c.user_data == user_data {
                return c;
            }
            b.stash(c);
        }
        syscall::cap_enter(1, FOREVER);
    }
}

/// Submits `sqe` (waiting for room) and enters the kernel once.
pub fn submit(sqe: Sqe) {
    let ring = Ring::current();
    let mut s = sqe;
    while let Err(back) = ring.push(s) {
        s = back;
        syscall::cap_enter(0, 0);
    }
}

/// Calls `method` on `cap` and waits: `Ok((result, bytes of result message))`.
pub fn call(cap: u32, method: u16, params: &[u8], result: &mut [u8]) -> Result<(i64, usize), Error> {
    let ud = next_user_data();
    submit(call_sqe(cap, method, params, result, ud));
    let c = wait_for(ud);
    if c.result < 0 {
        return Err(Error::from_result(c.result).unwrap_or(Error::InvalidState));
    }
    Ok((c.result, c.result_bytes as usize))
}

/// Drains every completion currently available.
pub fn drain() -> Vec<Cqe> {
    let ring = Ring::current();
    let mut v = tls::current().take_stash();
    while let Some(c) = ring.pop() {
        v.push(c);
    }
    v
}
