//! Names threads gave themselves (`SET_THREAD_NAME`), kept for the report.
//!
//! An open-addressing table shared by all CPUs keyed by thread ref (the
//! same claim rules as the sample tables: [`claim`], a [`Claims`] budget).
//! Only the named thread writes its own slot's name (a thread runs on one
//! CPU at a time), so the name words need no lock; the report reads them
//! after the stop. A later name replaces the earlier one, so the report has
//! the last name each thread set, even after it exited.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::samples::{claim, Claims};

/// Longest thread name in bytes (UTF-8); the ABI's limit.
pub const MAX_THREAD_NAME: usize = 32;
const WORDS: usize = MAX_THREAD_NAME / 8;
const R: Ordering = Ordering::Relaxed;

/// (thread ref) -> (pid, name).
pub struct ThreadNames<const N: usize> {
    /// `thread ref | VALID` once claimed (thread refs are never `u64::MAX`).
    keys: [AtomicU64; N],
    pids: [AtomicU32; N],
    /// Name length in bytes.
    lens: [AtomicU32; N],
    names: [[AtomicU64; WORDS]; N],
    pub claims: Claims,
}

/// Keys are the thread ref plus one, so ref 0 (no thread) stays storable.
const fn key_of(thread: u64) -> u64 {
    thread.wrapping_add(1)
}

impl<const N: usize> Default for ThreadNames<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ThreadNames<N> {
    const SHAPE: () = assert!(N.is_power_of_two());

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::SHAPE;
        ThreadNames {
            keys: [const { AtomicU64::new(0) }; N],
            pids: [const { AtomicU32::new(0) }; N],
            lens: [const { AtomicU32::new(0) }; N],
            names: [const { [const { AtomicU64::new(0) }; WORDS] }; N],
            claims: Claims::new(),
        }
    }

    /// Records `thread`'s name (bytes past [`MAX_THREAD_NAME`] are cut).
    /// `false` when the table has no slot for a new thread. Called by the
    /// named thread itself.
    pub fn set(&self, thread: u64, pid: u32, name: &[u8]) -> bool {
        let key = key_of(thread);
        if key == 0 {
            return false;
        }
        let Some((i, _)) = claim(&self.keys, key, &self.claims) else { return false };
        let name = &name[..name.len().min(MAX_THREAD_NAME)];
        let mut words = [0u64; WORDS];
        for (k, b) in name.iter().enumerate() {
            words[k / 8] |= (*b as u64) << (8 * (k % 8));
        }
        for (cell, w) in self.names[i].iter().zip(words) {
            cell.store(w, R);
        }
        self.pids[i].store(pid, R);
        self.lens[i].store(name.len() as u32, R);
        true
    }

    /// Every (thread ref, pid, name bytes, length) recorded.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32, [u8; MAX_THREAD_NAME], usize)> + '_ {
        (0..N).filter_map(|i| {
            let key = self.keys[i].load(R);
            if key == 0 {
                return None;
            }
            let len = (self.lens[i].load(R) as usize).min(MAX_THREAD_NAME);
            let mut bytes = [0u8; MAX_THREAD_NAME];
            for (k, b) in bytes.iter_mut().enumerate() {
                *b = (self.names[i][k / 8].load(R) >> (8 * (k % 8))) as u8;
            }
            Some((key.wrapping_sub(1), self.pids[i].load(R), bytes, len))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    fn names<const N: usize>(t: &ThreadNames<N>) -> Vec<(u64, u32, Vec<u8>)> {
        let mut v: Vec<_> = t.entries().map(|(th, p, b, n)| (th, p, b[..n].to_vec())).collect();
        v.sort();
        v
    }

    #[test]
    fn the_last_name_wins_and_long_names_are_cut() {
        let t: Box<ThreadNames<8>> = Box::default();
        assert!(t.set(1 << 32 | 4, 3, b"first"));
        assert!(t.set(1 << 32 | 4, 3, b"worker-1"));
        assert!(t.set(0, 0, b"kernel"), "thread ref 0 is storable");
        assert!(t.set(2 << 32 | 9, 5, &[b'x'; 40]));
        assert_eq!(
            names(&t),
            [
                (0, 0, b"kernel".to_vec()),
                (1 << 32 | 4, 3, b"worker-1".to_vec()),
                (2 << 32 | 9, 5, [b'x'; MAX_THREAD_NAME].to_vec()),
            ]
        );
    }

    #[test]
    fn a_full_table_refuses_new_threads_only() {
        let t: Box<ThreadNames<8>> = Box::default();
        t.claims.set_limit(2);
        assert!(t.set(10, 1, b"a") && t.set(11, 1, b"b"));
        assert!(!t.set(12, 1, b"c"));
        assert!(t.set(10, 1, b"renamed"), "a known thread still renames");
        assert_eq!(names(&t).len(), 2);
    }
}
