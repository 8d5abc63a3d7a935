//! An intrusive FIFO of runnable threads.
//!
//! Pushing and popping never allocate (the link lives in the thread), so
//! threads can be made runnable from any context. The queue owns one `Arc`
//! reference per queued thread.

use super::thread::Thread;
use alloc::sync::Arc;

pub struct RunQueue {
    head: *const Thread,
    tail: *const Thread,
    len: usize,
}

// SAFETY: the raw pointers are owned `Arc<Thread>`s (Send + Sync); the
// queue is only reached through its lock.
unsafe impl Send for RunQueue {}

impl RunQueue {
    pub const fn new() -> Self {
        RunQueue { head: core::ptr::null(), tail: core::ptr::null(), len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_back(&mut self, t: Arc<Thread>) {
        let p = Arc::into_raw(t);
        // SAFETY: p is a live thread we now own a reference to; rq_next is
        // guarded by this queue's lock, which the caller holds (&mut self);
        // a thread is in at most one queue.
        unsafe {
            *(*p).rq_next.get() = core::ptr::null();
            if self.tail.is_null() {
                self.head = p;
            } else {
                *(*self.tail).rq_next.get() = p;
            }
        }
        self.tail = p;
        self.len += 1;
    }

    /// The first thread, if `take` accepts it.
    pub fn pop_front_if(&mut self, take: impl Fn(&Thread) -> bool) -> Option<Arc<Thread>> {
        if self.head.is_null() {
            return None;
        }
        // SAFETY: head is a queued thread this queue owns a reference to.
        let head = unsafe { &*self.head };
        if !take(head) {
            return None;
        }
        let p = self.head;
        // SAFETY: as above; the link is guarded by our lock.
        self.head = unsafe { *(*p).rq_next.get() };
        if self.head.is_null() {
            self.tail = core::ptr::null();
        }
        self.len -= 1;
        // SAFETY: p came from Arc::into_raw in push_back; ownership returns.
        Some(unsafe { Arc::from_raw(p) })
    }

    pub fn pop_front(&mut self) -> Option<Arc<Thread>> {
        self.pop_front_if(|_| true)
    }

    /// The first thread `take` accepts, wherever it is in the queue (the
    /// global queue: a CPU skips threads pinned to other CPUs).
    pub fn pop_first_if(&mut self, take: impl Fn(&Thread) -> bool) -> Option<Arc<Thread>> {
        let mut before: *const Thread = core::ptr::null();
        let mut p = self.head;
        while !p.is_null() {
            // SAFETY: p is a queued thread this queue owns a reference to;
            // the links are guarded by our lock (&mut self).
            let (t, next) = unsafe { (&*p, *(*p).rq_next.get()) };
            if take(t) {
                if before.is_null() {
                    self.head = next;
                } else {
                    // SAFETY: `before` is the queued thread linking to p.
                    unsafe { *(*before).rq_next.get() = next };
                }
                if self.tail == p {
                    self.tail = before;
                }
                self.len -= 1;
                // SAFETY: p came from Arc::into_raw in push_back; ownership returns.
                return Some(unsafe { Arc::from_raw(p) });
            }
            before = p;
            p = next;
        }
        None
    }
}
