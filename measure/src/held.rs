//! The measured locks a thread holds, packed in one word (measure kernels
//! keep one per thread, for the `lock=` tag of its samples).
//!
//! Only the thread itself pushes and pops (at acquisition and release), so
//! the word needs no read-modify-write atomics; a sample reads it on the
//! same CPU while the thread is interrupted. Layout: bits `48..56` the
//! depth (saturating at 255), bits `16 * i .. 16 * i + 16` the
//! [`HeldLock::code`] of the lock taken at depth `i + 1`, for the first
//! [`SLOTS`] depths. Deeper locks are counted but not kept, so the
//! innermost lock is known only up to [`SLOTS`] deep.

use crate::record::HeldLock;

/// Depths whose lock is kept.
pub const SLOTS: u64 = 3;
const DEPTH_SHIFT: u32 = 48;

fn depth(word: u64) -> u64 {
    (word >> DEPTH_SHIFT) & 0xff
}

/// `word` after taking `lock`.
pub fn push(word: u64, lock: HeldLock) -> u64 {
    let d = depth(word);
    if d == 0xff {
        return word;
    }
    let code = HeldLock::code(Some(lock));
    let word = if d < SLOTS { word | code << (16 * d) } else { word };
    (word & !(0xff << DEPTH_SHIFT)) | (d + 1) << DEPTH_SHIFT
}

/// `word` after releasing the innermost lock (releases are in reverse
/// order of acquisition; a release with nothing held changes nothing).
pub fn pop(word: u64) -> u64 {
    let d = depth(word);
    if d == 0 {
        return word;
    }
    let word = if d <= SLOTS { word & !(0xffff << (16 * (d - 1))) } else { word };
    (word & !(0xff << DEPTH_SHIFT)) | (d - 1) << DEPTH_SHIFT
}

/// The innermost lock held: `None` when none is, or when it is deeper than
/// [`SLOTS`] (not kept).
pub fn innermost(word: u64) -> Option<HeldLock> {
    let d = depth(word);
    if d == 0 || d > SLOTS {
        return None;
    }
    HeldLock::from_code((word >> (16 * (d - 1))) & 0xffff).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{SchedLockSite, SharedLock};
    use crate::record::ContentionClass;

    fn shared(l: SharedLock) -> HeldLock {
        HeldLock::new(ContentionClass::SharedKernelLock, l as u8).unwrap()
    }

    #[test]
    fn nested_locks_report_the_innermost_and_unwind() {
        let a = shared(SharedLock::ProcessHeapEnd);
        let b = HeldLock::new(ContentionClass::SchedulerLock, SchedLockSite::Steal as u8).unwrap();
        let c = shared(SharedLock::Heap);
        let mut w = 0;
        assert_eq!(innermost(w), None);
        assert_eq!(pop(w), 0, "a stray release changes nothing");
        w = push(w, a);
        assert_eq!(innermost(w), Some(a));
        w = push(w, b);
        w = push(w, c);
        assert_eq!(innermost(w), Some(c));
        // A fourth is counted, not kept: its innermost is unknown.
        let deep = push(w, a);
        assert_eq!(innermost(deep), None);
        assert_eq!(pop(deep), w);
        w = pop(w);
        assert_eq!(innermost(w), Some(b));
        w = pop(pop(w));
        assert_eq!((w, innermost(w)), (0, None));
    }

    #[test]
    fn depth_saturates_and_garbage_reads_as_none() {
        let a = shared(SharedLock::Heap);
        let mut w = 0;
        for _ in 0..300 {
            w = push(w, a);
        }
        assert_eq!(depth(w), 255);
        assert_eq!(innermost(w), None);
        // A word whose slot holds no lock code.
        assert_eq!(innermost(1 << DEPTH_SHIFT | 0xffff), None);
    }
}
