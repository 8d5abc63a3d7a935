//! The kernel side of a thread's capability ring and `cap_enter`.
//!
//! The ring page is mapped into the user address space (user RW, NX) and
//! reached by the kernel through the HHDM. The kernel never trusts the
//! user-written indices: an SQ tail more than `SQ_ENTRIES` ahead of the head
//! is `RingOverflow`; a CQ head that is not within `CQ_ENTRIES` of the tail
//! stops posting (`cq_overflow` counts it). Every SQE the kernel consumes
//! reserves one CQ slot first, so completions that arrive later (waits,
//! joins, parks, endpoint replies, timers) always have room: when the CQ
//! has no unreserved slot the kernel stops consuming SQEs (the "ring full"
//! back-pressure) until user space drains completions.

use super::objects;
use super::{Completion, Outcome};
use crate::mm::address_space::AddressSpace;
use crate::mm::{frame, phys_to_virt};
use crate::proc::usermem;
use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::ring::{index, op, Cqe, RingHeader, Sqe, CQ_ENTRIES, CQ_OFFSET, SQ_ENTRIES, SQ_OFFSET};
use core::sync::atomic::{AtomicU32, Ordering};
use x86_64::structures::paging::PageTableFlags as F;

pub struct Ring {
    phys: u64,
    pub user_va: u64,
    /// CQ slots promised to consumed SQEs whose CQE is not posted yet.
    reserved: IrqSpinLock<u32>,
}

impl Ring {
    /// A zeroed ring page mapped at `user_va` in `space`.
    pub fn new(space: &AddressSpace, user_va: u64) -> Option<Ring> {
        let phys = frame::alloc_zeroed()?;
        if space.map(user_va, phys, F::USER_ACCESSIBLE | F::WRITABLE | F::NO_EXECUTE).is_err() {
            frame::free(phys);
            return None;
        }
        let r = Ring { phys, user_va, reserved: IrqSpinLock::measured(0, crate::sync::LockClass::Shared(crate::sync::SharedClass::RingScratch)) };
        r.field(4).store(SQ_ENTRIES, Ordering::Relaxed); // sq_entries
        r.field(5).store(CQ_ENTRIES, Ordering::Relaxed); // cq_entries
        Some(r)
    }

    /// The `i`th u32 of the header, as an atomic shared with user space.
    fn field(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < size_of::<RingHeader>() / 4);
        // SAFETY: the ring frame is ours for the ring's lifetime and mapped
        // by the HHDM; header fields are naturally aligned u32s.
        unsafe { &*(phys_to_virt(self.phys) as *const AtomicU32).add(i) }
    }

    fn sq_head(&self) -> &AtomicU32 {
        self.field(0)
    }
    fn sq_tail(&self) -> &AtomicU32 {
        self.field(1)
    }
    fn cq_head(&self) -> &AtomicU32 {
        self.field(2)
    }
    fn cq_tail(&self) -> &AtomicU32 {
        self.field(3)
    }
    fn cq_overflow(&self) -> &AtomicU32 {
        self.field(6)
    }

    fn read_sqe(&self, idx: u32) -> Sqe {
        let off = SQ_OFFSET + (idx % SQ_ENTRIES) as usize * size_of::<Sqe>();
        // SAFETY: the slot lies inside the ring page; user space may change
        // it concurrently, so we take one volatile copy and use only that.
        unsafe { (phys_to_virt(self.phys).add(off) as *const Sqe).read_volatile() }
    }

    /// CQEs available to user space (0 if its head is inconsistent).
    pub fn cq_ready(&self) -> u32 {
        let (h, t) = (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Acquire));
        let used = t.wrapping_sub(h);
        if used <= CQ_ENTRIES {
            used
        } else {
            0
        }
    }

    /// Claims a CQ slot for an SQE about to be consumed.
    fn reserve(&self) -> bool {
        let mut r = self.reserved.lock();
        let (h, t) = (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Acquire));
        match index::cq_free(h, t) {
            Some(free) if free > *r => {
                *r += 1;
                true
            }
            _ => false,
        }
    }

    /// Posts a CQE into a reserved slot.
    fn post(&self, cqe: Cqe) {
        let mut r = self.reserved.lock();
        *r = r.saturating_sub(1);
        let (h, t) = (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Relaxed));
        if index::cq_free(h, t).unwrap_or(0) == 0 {
            // User space moved its head backwards: drop and count.
            self.cq_overflow().fetch_add(1, Ordering::Relaxed);
            return;
        }
        let off = CQ_OFFSET + (t % CQ_ENTRIES) as usize * size_of::<Cqe>();
        // SAFETY: the slot lies inside the ring page; we hold the ring lock.
        unsafe { (phys_to_virt(self.phys).add(off) as *mut Cqe).write_volatile(cqe) };
        self.cq_tail().store(t.wrapping_add(1), Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The mapping goes away with the address space.
        frame::free(self.phys);
    }
}

/// Posts the completion `c` with `result` and an optional result message,
/// then wakes the thread. Callable from any context (no allocation).
pub fn complete(c: Completion, result: i64, message: Option<&[u8]>) {
    let mut cqe = Cqe { user_data: c.user_data, result, ..Cqe::default() };
    if let (Some(m), Some(space)) = (message, c.thread.address_space.as_ref()) {
        if result >= 0 && c.result_addr != 0 {
            if m.len() > c.result_cap as usize {
                cqe.result = Error::ResultTooLarge.as_result();
            } else if let Err(e) = usermem::copy_to_user(space, c.result_addr, m) {
                cqe.result = e.as_result();
            } else {
                cqe.result_bytes = m.len() as u32;
            }
        }
    }
    if let Some(ring) = &c.thread.ring {
        ring.post(cqe);
    }
    sched::wake(&c.thread);
}

/// Most parameter bytes one SQE may carry.
pub const MAX_PARAMS: usize = 64 * 1024;

fn submit(t: &Arc<Thread>, ring: &Ring) -> Result<u32, Error> {
    let head = ring.sq_head().load(Ordering::Relaxed);
    let tail = ring.sq_tail().load(Ordering::Acquire);
    let pending = index::sq_pending(head, tail).ok_or(Error::RingOverflow)?;
    let mut consumed = 0;
    while consumed < pending {
        if !ring.reserve() {
            break; // CQ full: leave the rest queued
        }
        let sqe = ring.read_sqe(head.wrapping_add(consumed));
        consumed += 1;
        ring.sq_head().store(head.wrapping_add(consumed), Ordering::Release);
        let c = Completion { thread: t.clone(), user_data: sqe.user_data, result_addr: sqe.result, result_cap: sqe.result_len };
        match sqe.opcode {
            op::NOP => complete(c, 0, None),
            op::CALL => match crate::m_segment!(MethodBody, { objects::invoke(t, &sqe, &c) }) {
                Ok(Outcome::Done(r, msg)) => complete(c, r, msg.as_deref()),
                Ok(Outcome::Pending) => {}
                Err(e) => complete(c, e.as_result(), None),
            },
            _ => complete(c, Error::BadOpcode.as_result(), None),
        }
    }
    Ok(consumed)
}

/// `cap_enter(min_complete, timeout_ns)`.
pub fn cap_enter(min_complete: u64, timeout_ns: u64) -> i64 {
    let t = sched::current();
    let Some(ring) = &t.ring else { return Error::InvalidState.as_result() };
    if let Err(e) = crate::m_segment!(RingProcessing, { submit(&t, ring) }) {
        return e.as_result();
    }
    let want = min_complete.min(CQ_ENTRIES as u64) as u32;
    let deadline = crate::time::deadline_after_ns(timeout_ns);
    loop {
        let (ready, killed) = crate::m_segment!(CapWaitScan, {
            (ring.cq_ready(), t.process.as_ref().is_some_and(|p| p.is_killed()))
        });
        if ready >= want || killed {
            return ready as i64;
        }
        if deadline.is_some_and(crate::time::passed) {
            return if ready > 0 { ready as i64 } else { Error::Timeout.as_result() };
        }
        crate::time::block_until(&t, deadline);
    }
}
