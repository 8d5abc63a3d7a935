//! SplitMix64: a tiny, fast, well-mixed PRNG whose whole state is one
//! `u64`, so a seed fully determines the stream on every target.

/// Added to the state at every step (the golden-ratio increment).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 output function: a bijective mix of all 64 bits.
pub const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An independent seed for sub-stream `stream` of `seed` (a child, a
/// worker thread): different streams of one seed do not overlap in practice.
pub const fn derive(seed: u64, stream: u64) -> u64 {
    mix(seed ^ mix(stream.wrapping_add(GOLDEN)))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub const fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-high: no modulo bias
    /// worth caring about for a fuzzer and no loop.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(), // the full u64 range
        }
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty array (checked at compile time).
    pub fn pick<T: Copy, const N: usize>(&mut self, xs: &[T; N]) -> T {
        const { assert!(N > 0, "pick from an empty array") };
        xs[self.below(N as u64) as usize]
    }

    /// One value of `(weight, value)` pairs, with probability proportional
    /// to its weight; `None` if every weight is 0.
    pub fn weighted<T: Copy>(&mut self, table: &[(u32, T)]) -> Option<T> {
        let total: u64 = table.iter().map(|&(w, _)| u64::from(w)).sum();
        let mut r = self.below(total);
        for &(w, v) in table {
            if r < u64::from(w) {
                return Some(v);
            }
            r -= u64::from(w);
        }
        None
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A new generator seeded from this one (for a sub-task whose draws
    /// must not shift this stream).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(43);
            (0..100).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Pinned: the stream is part of the replay contract (a seed printed
        // by an old run must still mean the same ops).
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let v = r.range(5, 9);
            assert!((5..=9).contains(&v));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(3, 3), 3);
        assert_eq!(r.range(9, 3), 9);
        let _ = r.range(0, u64::MAX);
        assert!(!(0..100).any(|_| r.chance(0, 5)));
        assert!((0..100).all(|_| r.chance(5, 5)));
    }

    #[test]
    fn weighted_follows_weights() {
        let mut r = Rng::new(1);
        let table = [(0u32, 'a'), (1, 'b'), (3, 'c')];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            match r.weighted(&table) {
                Some('b') => counts[1] += 1,
                Some('c') => counts[2] += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        let ratio = f64::from(counts[2]) / f64::from(counts[1]);
        assert!((2.7..3.3).contains(&ratio), "ratio {ratio}");
        assert_eq!(r.weighted(&[(0u32, 1)]), None);
        assert_eq!(r.weighted::<u8>(&[]), None);
    }

    #[test]
    fn derived_streams_differ() {
        assert_ne!(derive(1, 0), derive(1, 1));
        assert_ne!(derive(1, 0), derive(2, 0));
        assert_eq!(derive(9, 3), derive(9, 3));
        let mut buf = [0u8; 13];
        Rng::new(3).fill(&mut buf);
        let mut again = [0u8; 13];
        Rng::new(3).fill(&mut again);
        assert_eq!(buf, again);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
