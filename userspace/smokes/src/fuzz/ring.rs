//! A thread's ring page reached through raw atomics.
//!
//! The runtime's `capos_rt::ring::Ring` finds the ring through TLS and only
//! offers well-behaved operations; the fuzzer needs rings of threads it
//! started itself (without runtime TLS), writes to every header field, and
//! must stay memory-safe while other threads (and the kernel) write the same
//! page. So every user access to a ring page here is an atomic of one fixed
//! size per location: the header as `u32`s, SQEs, CQEs and the spare tail of
//! the page as `u64`s.

use capos_abi::ring::{
    cqe_offset, index, sqe_offset, Cqe, HeaderField as H, Sqe, CQ_ENTRIES, CQ_OFFSET, RING_BYTES,
    SQ_ENTRIES, SQ_OFFSET,
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Header words (u32) from `sq_head` to the end of `_reserved`.
pub const HEADER_WORDS: usize = SQ_OFFSET / 4;
/// First byte after the CQ: the rest of the page is not part of the protocol.
pub const SPARE_OFFSET: usize = CQ_OFFSET + CQ_ENTRIES as usize * 32;

#[derive(Clone, Copy)]
pub struct RawRing {
    base: u64,
}

impl RawRing {
    /// # Safety
    /// `base` is a ring page the kernel mapped into this process (from
    /// `ring_info` or a thread's entry registers); it stays mapped while the
    /// thread it belongs to runs, which is as long as this handle is used.
    pub unsafe fn new(base: u64) -> RawRing {
        RawRing { base }
    }

    /// The calling thread's ring, from `ring_info`.
    pub fn current() -> Option<RawRing> {
        let r = capos_rt::syscall::ring_info();
        // SAFETY: a non-negative `ring_info` is the caller's own ring page.
        (r > 0).then(|| unsafe { RawRing::new(r as u64) })
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    /// Header word `i` (0..HEADER_WORDS), reserved words included.
    fn header_word(&self, i: usize) -> &AtomicU32 {
        assert!(i < HEADER_WORDS);
        // SAFETY: the header lies at the start of the mapped ring page (see
        // `new`); the index is checked; header words are aligned u32s.
        unsafe { &*((self.base as *const AtomicU32).add(i)) }
    }

    /// A named header field (offsets from `capos_abi::ring`).
    fn field(&self, f: H) -> &AtomicU32 {
        self.header_word(f.offset() / 4)
    }

    /// The u64 at byte `off` past the header (SQ, CQ and spare area).
    fn word(&self, off: usize) -> &AtomicU64 {
        assert!(off >= SQ_OFFSET && off + 8 <= RING_BYTES && off.is_multiple_of(8));
        // SAFETY: `off` is checked to be an aligned u64 inside the mapped
        // ring page (see `new`), outside the u32 header.
        unsafe { &*((self.base as usize + off) as *const AtomicU64) }
    }

    pub fn sq_head(&self) -> u32 {
        self.field(H::SqHead).load(Ordering::Acquire)
    }
    pub fn sq_tail(&self) -> u32 {
        self.field(H::SqTail).load(Ordering::Acquire)
    }
    pub fn cq_head(&self) -> u32 {
        self.field(H::CqHead).load(Ordering::Acquire)
    }
    pub fn cq_tail(&self) -> u32 {
        self.field(H::CqTail).load(Ordering::Acquire)
    }
    pub fn set_sq_tail(&self, v: u32) {
        self.field(H::SqTail).store(v, Ordering::Release);
    }
    pub fn set_cq_head(&self, v: u32) {
        self.field(H::CqHead).store(v, Ordering::Release);
    }
    /// Any header word, kernel-owned ones included.
    pub fn set_header_word(&self, i: usize, v: u32) {
        self.header_word(i % HEADER_WORDS).store(v, Ordering::Release);
    }

    /// Writes `sqe` into SQ slot `idx % SQ_ENTRIES` without publishing it.
    pub fn write_sqe(&self, idx: u32, sqe: &Sqe) {
        let off = sqe_offset(idx);
        for (i, w) in sqe_words(sqe).iter().enumerate() {
            self.word(off + i * 8).store(*w, Ordering::Relaxed);
        }
    }

    /// The SQE in slot `idx % SQ_ENTRIES` as it is now.
    pub fn read_sqe(&self, idx: u32) -> Sqe {
        let off = sqe_offset(idx);
        let mut w = [0u64; 8];
        for (i, v) in w.iter_mut().enumerate() {
            *v = self.word(off + i * 8).load(Ordering::Relaxed);
        }
        sqe_from_words(&w)
    }

    /// SQEs published but not yet consumed by the kernel.
    pub fn sq_pending(&self) -> u32 {
        self.sq_tail().wrapping_sub(self.sq_head())
    }

    /// Queues `sqe`; false when the SQ is full (or its indices are broken).
    pub fn push(&self, sqe: &Sqe) -> bool {
        let tail = self.sq_tail();
        if index::sq_pending(self.sq_head(), tail).is_none_or(|n| n >= SQ_ENTRIES) {
            return false;
        }
        self.write_sqe(tail, sqe);
        self.set_sq_tail(tail.wrapping_add(1));
        true
    }

    /// Takes the next completion, if the kernel has posted one.
    pub fn pop(&self) -> Option<Cqe> {
        let head = self.cq_head();
        let tail = self.cq_tail();
        if head == tail || tail.wrapping_sub(head) > CQ_ENTRIES {
            return None;
        }
        let off = cqe_offset(head);
        let w: [u64; 4] = core::array::from_fn(|i| self.word(off + i * 8).load(Ordering::Relaxed));
        self.set_cq_head(head.wrapping_add(1));
        Some(Cqe {
            user_data: w[0],
            result: w[1] as i64,
            result_bytes: w[2] as u32,
            flags: (w[2] >> 32) as u32,
            _reserved: w[3],
        })
    }

    /// Puts the user-owned indices back in a state the protocol allows
    /// (after our own corruption or a sibling's scribbling): pending SQEs
    /// beyond the ring are dropped, a CQ head out of range skips to the tail.
    pub fn repair(&self) {
        if self.sq_tail().wrapping_sub(self.sq_head()) > SQ_ENTRIES {
            self.set_sq_tail(self.sq_head());
        }
        if self.cq_tail().wrapping_sub(self.cq_head()) > CQ_ENTRIES {
            self.set_cq_head(self.cq_tail());
        }
    }

    /// Stores `v` at the u64 `off` of the page past the header (SQ/CQ
    /// slots or the spare tail); `off` is rounded down to a u64.
    pub fn store_word(&self, off: usize, v: u64) {
        let off = (off & !7).clamp(SQ_OFFSET, RING_BYTES - 8);
        self.word(off).store(v, Ordering::Relaxed);
    }

    /// Copies `bytes` into the spare tail so that they (padded to a u64)
    /// end at the end of the page, before the ring's guard page; returns
    /// their address. Longer inputs are cut to the spare area.
    pub fn put_at_page_end(&self, bytes: &[u8]) -> u64 {
        let room = RING_BYTES - SPARE_OFFSET;
        let bytes = &bytes[..bytes.len().min(room)];
        let start = RING_BYTES - bytes.len().next_multiple_of(8);
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(start + i * 8).store(u64::from_le_bytes(w), Ordering::Relaxed);
        }
        self.base + start as u64
    }
}

/// The SQE as the eight little-endian u64s of its `repr(C)` layout.
pub fn sqe_words(s: &Sqe) -> [u64; 8] {
    [
        u64::from(s.opcode)
            | u64::from(s.flags) << 8
            | u64::from(s.method) << 16
            | u64::from(s.cap) << 32,
        s.user_data,
        s.params,
        u64::from(s.params_len) | u64::from(s.result_len) << 32,
        s.result,
        s.arg,
        s._reserved[0],
        s._reserved[1],
    ]
}

fn sqe_from_words(w: &[u64; 8]) -> Sqe {
    Sqe {
        opcode: w[0] as u8,
        flags: (w[0] >> 8) as u8,
        method: (w[0] >> 16) as u16,
        cap: (w[0] >> 32) as u32,
        user_data: w[1],
        params: w[2],
        params_len: w[3] as u32,
        result_len: (w[3] >> 32) as u32,
        result: w[4],
        arg: w[5],
        _reserved: [w[6], w[7]],
    }
}
