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

use super::completion::{complete, Completion};
use super::objects;
use super::Outcome;
use crate::mm::address_space::AddressSpace;
use crate::mm::{frame, phys_to_virt};
use crate::proc::usermem::UserSlice;
use crate::sched::{self, Thread};
use crate::sync::{IrqSpinLock, SharedClass};
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::ring::{
    cqe_offset, index, op, sqe_offset, Cqe, HeaderField as H, Sqe, CQ_ENTRIES, SQ_ENTRIES,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use x86_64::structures::paging::PageTableFlags as F;

/// A ring page: a kernel-owned frame lent to user space at `user_va`.
/// The mapping is removed (and shot down) before the frame is freed.
pub struct Ring {
    phys: u64,
    pub user_va: u64,
    space: Arc<AddressSpace>,
    /// Still mapped at `user_va` in `space`.
    mapped: AtomicBool,
    /// CQ slots promised to consumed SQEs whose CQE is not posted yet.
    reserved: IrqSpinLock<u32>,
}

impl Ring {
    /// A zeroed ring page mapped at `user_va` in `space`.
    pub fn new(space: &Arc<AddressSpace>, user_va: u64) -> Option<Ring> {
        let phys = frame::alloc_zeroed()?;
        if space.map(user_va, phys, F::USER_ACCESSIBLE | F::WRITABLE | F::NO_EXECUTE).is_err() {
            frame::free(phys);
            return None;
        }
        let r = Ring {
            phys,
            user_va,
            space: space.clone(),
            mapped: AtomicBool::new(true),
            reserved: IrqSpinLock::shared(0, SharedClass::RingScratch),
        };
        r.field(H::SqEntries).store(SQ_ENTRIES, Ordering::Relaxed);
        r.field(H::CqEntries).store(CQ_ENTRIES, Ordering::Relaxed);
        Some(r)
    }

    /// A header field, as an atomic shared with user space.
    fn field(&self, f: H) -> &AtomicU32 {
        // SAFETY: the ring frame is ours for the ring's lifetime and mapped
        // by the HHDM; header fields are naturally aligned u32s.
        unsafe { &*(phys_to_virt(self.phys).add(f.offset()) as *const AtomicU32) }
    }

    fn sq_head(&self) -> &AtomicU32 {
        self.field(H::SqHead)
    }
    fn sq_tail(&self) -> &AtomicU32 {
        self.field(H::SqTail)
    }
    fn cq_head(&self) -> &AtomicU32 {
        self.field(H::CqHead)
    }
    fn cq_tail(&self) -> &AtomicU32 {
        self.field(H::CqTail)
    }
    fn cq_overflow(&self) -> &AtomicU32 {
        self.field(H::CqOverflow)
    }

    fn read_sqe(&self, idx: u32) -> Sqe {
        let off = sqe_offset(idx);
        // SAFETY: the slot lies inside the ring page; user space may change
        // it concurrently, so we take one volatile copy and use only that.
        unsafe { (phys_to_virt(self.phys).add(off) as *const Sqe).read_volatile() }
    }

    /// CQEs available to user space (0 if its head is inconsistent).
    pub fn cq_ready(&self) -> u32 {
        let (h, t) =
            (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Acquire));
        let used = t.wrapping_sub(h);
        if used <= CQ_ENTRIES {
            used
        } else {
            0
        }
    }

    /// Consumed SQEs whose completion is not posted yet.
    pub fn outstanding(&self) -> u32 {
        *self.reserved.lock()
    }

    /// Claims a CQ slot for an SQE about to be consumed.
    fn reserve(&self) -> bool {
        let mut r = self.reserved.lock();
        let (h, t) =
            (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Acquire));
        match index::cq_free(h, t) {
            Some(free) if free > *r => {
                *r += 1;
                true
            }
            _ => false,
        }
    }

    /// Posts a CQE into a reserved slot.
    pub(super) fn post(&self, cqe: Cqe) {
        let mut r = self.reserved.lock();
        *r = r.saturating_sub(1);
        let (h, t) =
            (self.cq_head().load(Ordering::Acquire), self.cq_tail().load(Ordering::Relaxed));
        if index::cq_free(h, t).unwrap_or(0) == 0 {
            // User space moved its head backwards: drop and count.
            self.cq_overflow().fetch_add(1, Ordering::Relaxed);
            return;
        }
        let off = cqe_offset(t);
        // SAFETY: the slot lies inside the ring page; we hold the ring lock.
        unsafe { (phys_to_virt(self.phys).add(off) as *mut Cqe).write_volatile(cqe) };
        self.cq_tail().store(t.wrapping_add(1), Ordering::Release);
    }
}

impl Ring {
    /// Removes the user mapping and flushes it from every CPU that has the
    /// space loaded (the thread is exiting). Idempotent.
    pub fn unmap(&self) {
        if self.mapped.swap(false, Ordering::AcqRel) {
            self.space.unmap_borrowed(self.user_va, self.phys);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Normally unmapped when the thread exited; a thread that never
        // started is unmapped here. Either way no CPU can reach the frame
        // through user space once `unmap` returns.
        self.unmap();
        frame::free(self.phys);
    }
}

/// Most parameter bytes one SQE may carry.
pub const MAX_PARAMS: usize = 64 * 1024;
/// Heap one operation may need besides its parameters (decoded messages,
/// results, the objects it creates); admitted before the SQE runs.
const OP_HEAP_BUDGET: usize = 32 * 1024;

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
        let result = if sqe.result == 0 {
            Ok(None)
        } else {
            UserSlice::new(sqe.result, sqe.result_len as usize).map(Some)
        };
        let c = Completion {
            thread: t.clone(),
            user_data: sqe.user_data,
            result: result.unwrap_or(None),
        };
        if let Err(e) = result {
            complete(c, e.as_result(), None);
            continue;
        }
        if let Err(e) =
            crate::mm::heap::admit(OP_HEAP_BUDGET + (sqe.params_len as usize).min(MAX_PARAMS))
        {
            complete(c, e.as_result(), None);
            continue;
        }
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

/// Counts the SQEs one `cap_enter` consumed for `t`.
fn count_sqes(t: &Thread, consumed: u32) {
    if consumed == 0 {
        return;
    }
    t.ring_sqes.fetch_add(consumed as u64, Ordering::Relaxed);
    crate::m_add!(capos_measure::catalogue::thread_ops::ring_sqes, consumed as u64);
    #[cfg(feature = "measure")]
    crate::measure::thread_op(t, capos_measure::thread_ops::ThreadOp::RingSqe, consumed as u64);
}

/// `cap_enter(min_complete, timeout_ns)`.
pub fn cap_enter(min_complete: u64, timeout_ns: u64) -> i64 {
    let t = sched::current();
    let Some(ring) = &t.ring else { return Error::InvalidState.as_result() };
    match crate::m_segment!(RingProcessing, { submit(&t, ring) }) {
        Ok(consumed) => count_sqes(&t, consumed),
        Err(e) => return e.as_result(),
    }
    let want = min_complete.min(CQ_ENTRIES as u64) as u32;
    let deadline = crate::time::deadline_after_ns(timeout_ns);
    #[cfg(feature = "measure")]
    let why = crate::measure::take_pending(&t);
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
        #[cfg(feature = "measure")]
        crate::measure::block_reason(&t, why);
        if let Err(e) = crate::time::block_until(&t, deadline) {
            return e.as_result();
        }
    }
}
