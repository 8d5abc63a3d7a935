//! The calling thread's capability ring.

use crate::{syscall, tls};
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::ring::{cqe_offset, index, op, sqe_offset, Cqe, HeaderField as H, Sqe, SQ_ENTRIES};
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

    fn field(&self, f: H) -> &AtomicU32 {
        // SAFETY: the kernel mapped the ring page at `base` for this thread;
        // header fields are aligned u32s shared with the kernel.
        unsafe { &*((self.base as usize + f.offset()) as *const AtomicU32) }
    }

    /// SQEs submitted but not yet consumed by the kernel (`SQ_ENTRIES + 1`
    /// if the indices are inconsistent, which only a test that forces the
    /// tail can cause).
    pub fn sq_pending(&self) -> u32 {
        let (head, tail) = (
            self.field(H::SqHead).load(Ordering::Acquire),
            self.field(H::SqTail).load(Ordering::Relaxed),
        );
        index::sq_pending(head, tail).unwrap_or(SQ_ENTRIES + 1)
    }

    /// Queues `sqe`; `Err` if the submission queue is full.
    pub fn push(&self, sqe: Sqe) -> Result<(), Sqe> {
        let tail = self.field(H::SqTail).load(Ordering::Relaxed);
        if index::sq_pending(self.field(H::SqHead).load(Ordering::Acquire), tail)
            .is_none_or(|n| n >= SQ_ENTRIES)
        {
            return Err(sqe);
        }
        let slot = sqe_offset(tail);
        // SAFETY: the slot is inside our ring page and not owned by the
        // kernel until we advance the tail.
        unsafe { ((self.base as usize + slot) as *mut Sqe).write_volatile(sqe) };
        self.field(H::SqTail).store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Writes `tail` directly: for tests of the kernel's index checks.
    pub fn force_sq_tail(&self, tail: u32) {
        self.field(H::SqTail).store(tail, Ordering::Release);
    }

    pub fn sq_head(&self) -> u32 {
        self.field(H::SqHead).load(Ordering::Acquire)
    }

    /// Takes the next completion, if any.
    pub fn pop(&self) -> Option<Cqe> {
        let head = self.field(H::CqHead).load(Ordering::Relaxed);
        if head == self.field(H::CqTail).load(Ordering::Acquire) {
            return None;
        }
        let slot = cqe_offset(head);
        // SAFETY: the kernel published this slot before advancing the tail.
        let c = unsafe { ((self.base as usize + slot) as *const Cqe).read_volatile() };
        self.field(H::CqHead).store(head.wrapping_add(1), Ordering::Release);
        Some(c)
    }

    /// Completions the kernel could not post.
    pub fn cq_overflow(&self) -> u32 {
        self.field(H::CqOverflow).load(Ordering::Relaxed)
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
pub fn call(
    cap: u32,
    method: u16,
    params: &[u8],
    result: &mut [u8],
) -> Result<(i64, usize), Error> {
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
