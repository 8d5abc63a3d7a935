//! The per-thread capability ring: one 4 KiB page shared by a thread and
//! the kernel.
//!
//! ```text
//! 0x000  RingHeader (64 bytes)
//! 0x040  SQE[SQ_ENTRIES]  (64 bytes each)   user writes, kernel reads
//! 0x840  CQE[CQ_ENTRIES]  (32 bytes each)   kernel writes, user reads
//! ```
//!
//! Indices are free-running `u32`s; slot = index % entries. User space
//! writes SQEs then advances `sq_tail` (release); the kernel consumes from
//! `sq_head` on `cap_enter`. The kernel posts CQEs at `cq_tail` (release);
//! user space consumes from `cq_head`. The kernel never trusts user-written
//! indices: `sq_tail - sq_head > SQ_ENTRIES` is `RingOverflow`, and a full
//! completion queue makes the kernel stop consuming SQEs until space frees.

pub const RING_BYTES: usize = 4096;
pub const SQ_ENTRIES: u32 = 32;
pub const CQ_ENTRIES: u32 = 32;
pub const SQ_OFFSET: usize = 64;
pub const CQ_OFFSET: usize = SQ_OFFSET + SQ_ENTRIES as usize * 64;

/// Header at the start of the ring page.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RingHeader {
    /// Next SQE the kernel consumes (kernel writes).
    pub sq_head: u32,
    /// Next SQE slot user space fills (user writes).
    pub sq_tail: u32,
    /// Next CQE user space consumes (user writes).
    pub cq_head: u32,
    /// Next CQE slot the kernel fills (kernel writes).
    pub cq_tail: u32,
    pub sq_entries: u32,
    pub cq_entries: u32,
    /// Completions the kernel could not post (should stay 0).
    pub cq_overflow: u32,
    pub _reserved: [u32; 9],
}

/// The header's `u32` fields, as byte offsets into the ring page: both
/// sides reach them as atomics through these, never by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum HeaderField {
    SqHead = core::mem::offset_of!(RingHeader, sq_head),
    SqTail = core::mem::offset_of!(RingHeader, sq_tail),
    CqHead = core::mem::offset_of!(RingHeader, cq_head),
    CqTail = core::mem::offset_of!(RingHeader, cq_tail),
    SqEntries = core::mem::offset_of!(RingHeader, sq_entries),
    CqEntries = core::mem::offset_of!(RingHeader, cq_entries),
    CqOverflow = core::mem::offset_of!(RingHeader, cq_overflow),
}

impl HeaderField {
    /// Byte offset in the ring page (4-byte aligned).
    pub const fn offset(self) -> usize {
        self as usize
    }
}

/// Byte offset of the SQE slot that free-running index `idx` names.
pub const fn sqe_offset(idx: u32) -> usize {
    SQ_OFFSET + (idx % SQ_ENTRIES) as usize * core::mem::size_of::<Sqe>()
}

/// Byte offset of the CQE slot that free-running index `idx` names.
pub const fn cqe_offset(idx: u32) -> usize {
    CQ_OFFSET + (idx % CQ_ENTRIES) as usize * core::mem::size_of::<Cqe>()
}

/// SQE opcodes.
pub mod op {
    /// Nothing: completes at once with result 0 (ring tests, wakeups).
    pub const NOP: u8 = 0;
    /// Invoke `method` of the capability in `cap`.
    pub const CALL: u8 = 1;
}

/// A submission: invoke `method` on the object in slot `cap` with the
/// Cap'n Proto message at `params`; results go to `result`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sqe {
    pub opcode: u8,
    pub flags: u8,
    pub method: u16,
    pub cap: u32,
    /// Returned unchanged in the CQE.
    pub user_data: u64,
    /// User address and length of the parameter message (0/0: none).
    pub params: u64,
    pub params_len: u32,
    /// Capacity of the result buffer.
    pub result_len: u32,
    /// User address of the result buffer (0: none).
    pub result: u64,
    /// Small immediate argument some methods use instead of a message.
    pub arg: u64,
    pub _reserved: [u64; 2],
}

/// A completion.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    /// `>= 0`: method-defined value; negative: `-Error`.
    pub result: i64,
    /// Bytes written to the result buffer.
    pub result_bytes: u32,
    pub flags: u32,
    pub _reserved: u64,
}

const _: () = assert!(core::mem::size_of::<RingHeader>() == SQ_OFFSET);
const _: () = assert!(core::mem::size_of::<Sqe>() == 64);
const _: () = assert!(core::mem::size_of::<Cqe>() == 32);
const _: () = assert!(CQ_OFFSET + CQ_ENTRIES as usize * 32 <= RING_BYTES);

/// Pure index arithmetic shared by both sides.
pub mod index {
    use super::{CQ_ENTRIES, SQ_ENTRIES};

    /// SQEs waiting, or `None` if user space claims more than the ring holds.
    pub fn sq_pending(head: u32, tail: u32) -> Option<u32> {
        let n = tail.wrapping_sub(head);
        (n <= SQ_ENTRIES).then_some(n)
    }

    /// Free CQE slots, or `None` if the user's head is ahead of the tail or too far behind.
    pub fn cq_free(head: u32, tail: u32) -> Option<u32> {
        let used = tail.wrapping_sub(head);
        (used <= CQ_ENTRIES).then(|| CQ_ENTRIES - used)
    }
}

#[cfg(test)]
mod tests {
    use super::index::*;
    use super::*;

    #[test]
    fn sq_pending_detects_overflow_and_wraps() {
        assert_eq!(sq_pending(0, 0), Some(0));
        assert_eq!(sq_pending(5, 9), Some(4));
        assert_eq!(sq_pending(u32::MAX - 1, 2), Some(4));
        assert_eq!(sq_pending(0, SQ_ENTRIES), Some(SQ_ENTRIES));
        assert_eq!(sq_pending(0, SQ_ENTRIES + 1), None);
        assert_eq!(sq_pending(10, 5), None);
    }

    #[test]
    fn header_offsets_and_slots_match_the_layout() {
        assert_eq!(HeaderField::SqHead.offset(), 0);
        assert_eq!(HeaderField::CqOverflow.offset(), 24);
        assert_eq!(sqe_offset(0), SQ_OFFSET);
        assert_eq!(sqe_offset(SQ_ENTRIES + 1), SQ_OFFSET + 64);
        assert_eq!(cqe_offset(CQ_ENTRIES - 1), CQ_OFFSET + (CQ_ENTRIES as usize - 1) * 32);
        assert!(cqe_offset(u32::MAX) + 32 <= RING_BYTES);
    }

    #[test]
    fn cq_free_counts_space() {
        assert_eq!(cq_free(0, 0), Some(CQ_ENTRIES));
        assert_eq!(cq_free(0, CQ_ENTRIES), Some(0));
        assert_eq!(cq_free(3, 1), None);
        assert_eq!(cq_free(u32::MAX, 3), Some(CQ_ENTRIES - 4));
    }
}
