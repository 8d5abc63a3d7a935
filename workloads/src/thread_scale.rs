//! Thread-scale workload: hash `total_blocks` fixed-size 64-byte blocks, each
//! generated from its index, with `work_rounds` rounds of mixing per block.
//!
//! Workers take contiguous, equal (to within one block) chunks and each
//! writes a [`ChunkResult`] into its own cache-line-padded slot
//! ([`CachePadded`]), so the hot loop shares nothing.
//!
//! Invariant: the root checksum is a Horner fold of the block hashes in
//! block order, `sum(h_i * M^(n-1-i))`, finalised with the block count. A
//! chunk's digest is the same fold over its blocks, so combining any
//! contiguous split *in chunk order* (`acc * M^len + digest`) yields the
//! same root as the single-threaded reference, while a missing, duplicated
//! or reordered chunk changes it.

use core::ops::Range;

use crate::mix::{absorb, fmix64, splitmix64, SEED};

/// Bytes per block.
pub const BLOCK_BYTES: usize = 64;
/// 64-bit words per block.
pub const WORDS_PER_BLOCK: usize = BLOCK_BYTES / 8;
/// Default number of blocks (16 MiB of input).
pub const DEFAULT_TOTAL_BLOCKS: u64 = 262_144;
/// Default mixing rounds per block.
pub const DEFAULT_WORK_ROUNDS: u32 = 64;
/// `expected_checksum(DEFAULT_TOTAL_BLOCKS, DEFAULT_WORK_ROUNDS)`, pinned.
pub const DEFAULT_CHECKSUM: u64 = 0xdc29_f27d_0303_2882;
/// Odd multiplier of the order-sensitive fold.
pub const FOLD_MULTIPLIER: u64 = 0x0000_0100_0000_01b3;

/// One input block, aligned to a cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block(pub [u64; WORDS_PER_BLOCK]);

impl Block {
    pub const ZERO: Block = Block([0; WORDS_PER_BLOCK]);

    /// The block at `index`: a pure function of the index.
    #[inline]
    pub const fn generate(index: u64) -> Block {
        let mut words = [0u64; WORDS_PER_BLOCK];
        let mut j = 0;
        while j < WORDS_PER_BLOCK {
            words[j] =
                splitmix64(index.wrapping_mul(WORDS_PER_BLOCK as u64).wrapping_add(j as u64));
            j += 1;
        }
        Block(words)
    }
}

/// Fills `out` with the blocks `first_index..first_index + out.len()`.
pub fn fill_blocks(first_index: u64, out: &mut [Block]) {
    for (k, b) in out.iter_mut().enumerate() {
        *b = Block::generate(first_index.wrapping_add(k as u64));
    }
}

/// Hash of `block` (which sits at `index`) after `rounds` mixing rounds.
#[inline]
pub fn hash_block(block: &Block, index: u64, rounds: u32) -> u64 {
    let mut h = SEED ^ index;
    for _ in 0..rounds {
        for &w in &block.0 {
            h = absorb(h, w);
        }
    }
    fmix64(h)
}

/// Hash of the generated block at `index`.
pub fn block_hash(index: u64, rounds: u32) -> u64 {
    hash_block(&Block::generate(index), index, rounds)
}

/// What one worker reports for its chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkResult {
    pub first_block: u64,
    pub blocks: u64,
    /// Horner fold of the chunk's block hashes in block order.
    pub digest: u64,
}

/// A value alone on its cache line(s): per-worker result slots.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachePadded<T>(pub T);

/// Worker `i`'s contiguous chunk of `0..total` when split `workers` ways; the
/// first `total % workers` chunks get one extra block. Empty for `i >= workers`.
pub fn chunk_range(total: u64, workers: u32, i: u32) -> Range<u64> {
    if i >= workers {
        return total..total;
    }
    let (w, i) = (u64::from(workers), u64::from(i));
    let (base, rem) = (total / w, total % w);
    let start = i * base + i.min(rem);
    let len = base + u64::from(i < rem);
    start..start + len
}

/// Hashes the generated blocks of `range` (no input buffer).
pub fn hash_chunk(range: Range<u64>, rounds: u32) -> ChunkResult {
    let first_block = range.start;
    let mut digest = 0u64;
    for index in range.clone() {
        digest = digest.wrapping_mul(FOLD_MULTIPLIER).wrapping_add(block_hash(index, rounds));
    }
    ChunkResult { first_block, blocks: range.end.saturating_sub(first_block), digest }
}

/// Hashes `blocks`, the slice of an input buffer starting at `first_block`.
pub fn hash_chunk_blocks(blocks: &[Block], first_block: u64, rounds: u32) -> ChunkResult {
    let mut digest = 0u64;
    for (k, b) in blocks.iter().enumerate() {
        let h = hash_block(b, first_block.wrapping_add(k as u64), rounds);
        digest = digest.wrapping_mul(FOLD_MULTIPLIER).wrapping_add(h);
    }
    ChunkResult { first_block, blocks: blocks.len() as u64, digest }
}

/// `base^exp` with wrapping multiplication.
const fn wrapping_pow(mut base: u64, mut exp: u64) -> u64 {
    let mut acc = 1u64;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    acc
}

/// The result of chunk `a` followed directly by chunk `b`: the digest a
/// worker would have folded over both (for workers that hash their chunk
/// in pieces).
pub fn append(a: ChunkResult, b: ChunkResult) -> ChunkResult {
    ChunkResult {
        first_block: a.first_block,
        blocks: a.blocks.wrapping_add(b.blocks),
        digest: a
            .digest
            .wrapping_mul(wrapping_pow(FOLD_MULTIPLIER, b.blocks))
            .wrapping_add(b.digest),
    }
}

/// Root checksum of chunk results taken in the given (chunk) order.
pub fn combine(results: &[ChunkResult]) -> u64 {
    let mut acc = 0u64;
    let mut blocks = 0u64;
    for r in results {
        acc = acc.wrapping_mul(wrapping_pow(FOLD_MULTIPLIER, r.blocks)).wrapping_add(r.digest);
        blocks = blocks.wrapping_add(r.blocks);
    }
    fmix64(acc ^ blocks.rotate_left(32))
}

/// Why a set of chunk results does not tile `0..total` in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverError {
    /// Chunk `index` starts at `found`, not where the previous one ended.
    Gap { index: usize, expected: u64, found: u64 },
    /// The chunks end at `covered`, not at `total`.
    Short { covered: u64, total: u64 },
}

/// Checks that `results` tile `0..total` contiguously in order.
pub fn check_cover(results: &[ChunkResult], total: u64) -> Result<(), CoverError> {
    let mut next = 0u64;
    for (index, r) in results.iter().enumerate() {
        if r.first_block != next {
            return Err(CoverError::Gap { index, expected: next, found: r.first_block });
        }
        next = next.saturating_add(r.blocks);
    }
    if next != total {
        return Err(CoverError::Short { covered: next, total });
    }
    Ok(())
}

/// Mixing rounds the benchmark harness uses by default (`bench-capos`,
/// `bench-linux-*`; knob `CAPOS_THREAD_SCALE_WORK_ROUNDS`): 8x the seed's 64,
/// so that under QEMU TCG one worker's `work` window (~2 s) dominates the
/// guest boot (~0.1 s for capOS) and host scheduling noise.
pub const BENCH_WORK_ROUNDS: u32 = 512;
/// `expected_checksum(DEFAULT_TOTAL_BLOCKS, BENCH_WORK_ROUNDS)`, pinned.
pub const BENCH_CHECKSUM: u64 = 0x0fa7_103c_bae5_c7c6;

/// Roots pinned for the sizes the benchmarks use (blocks, rounds, root), so
/// a guest verifies without recomputing the whole input single-threaded.
pub const PINNED_CHECKSUMS: [(u64, u32, u64); 3] = [
    (DEFAULT_TOTAL_BLOCKS, DEFAULT_WORK_ROUNDS, DEFAULT_CHECKSUM),
    (DEFAULT_TOTAL_BLOCKS, BENCH_WORK_ROUNDS, BENCH_CHECKSUM),
    (1024, 64, 0x3ce4_60f1_83ab_51cb),
];

/// The reference root for `(total, rounds)`: pinned when known, else
/// [`expected_checksum`] (as costly as one worker doing the whole input).
pub fn reference_checksum(total: u64, rounds: u32) -> u64 {
    PINNED_CHECKSUMS
        .iter()
        .find(|(b, r, _)| (*b, *r) == (total, rounds))
        .map_or_else(|| expected_checksum(total, rounds), |p| p.2)
}

/// The single-threaded reference checksum.
pub fn expected_checksum(total: u64, rounds: u32) -> u64 {
    combine(&[hash_chunk(0..total, rounds)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_hashed_in_pieces_appends_to_the_whole() {
        let whole = hash_chunk(100..140, 3);
        let mut acc = hash_chunk(100..100, 3);
        for start in (100..140).step_by(7) {
            acc = append(acc, hash_chunk(start..(start + 7).min(140), 3));
        }
        assert_eq!(acc, whole);
    }

    const T: u64 = 1000;
    const R: u32 = 4;

    fn split(total: u64, workers: u32) -> Vec<ChunkResult> {
        (0..workers).map(|i| hash_chunk(chunk_range(total, workers, i), R)).collect()
    }

    #[test]
    fn default_checksum_is_pinned() {
        assert_eq!(expected_checksum(1024, 64), SMALL_CHECKSUM);
        assert_eq!(expected_checksum(DEFAULT_TOTAL_BLOCKS, DEFAULT_WORK_ROUNDS), DEFAULT_CHECKSUM);
    }

    #[test]
    fn pinned_checksums_are_right() {
        for (b, r, root) in PINNED_CHECKSUMS {
            assert_eq!(expected_checksum(b, r), root, "blocks={b} rounds={r}");
        }
        assert_eq!(reference_checksum(T, R), expected_checksum(T, R));
    }

    /// `expected_checksum(1024, 64)`: a cheap second pin.
    const SMALL_CHECKSUM: u64 = 0x3ce4_60f1_83ab_51cb;

    #[test]
    fn any_worker_count_gives_the_reference() {
        let want = expected_checksum(T, R);
        for w in [1, 2, 3, 4, 7, 8, 64] {
            let parts = split(T, w);
            assert_eq!(check_cover(&parts, T), Ok(()));
            assert_eq!(combine(&parts), want, "workers={w}");
        }
    }

    #[test]
    fn buffer_and_generated_paths_agree() {
        let mut buf = vec![Block::ZERO; T as usize];
        fill_blocks(0, &mut buf);
        let r = chunk_range(T, 3, 1);
        let from_buf = hash_chunk_blocks(&buf[r.start as usize..r.end as usize], r.start, R);
        assert_eq!(from_buf, hash_chunk(r, R));
        assert_eq!(core::mem::align_of::<Block>(), 64);
        assert_eq!(core::mem::size_of::<Block>(), BLOCK_BYTES);
        assert_eq!(core::mem::size_of::<CachePadded<ChunkResult>>(), 64);
    }

    #[test]
    fn chunks_are_contiguous_and_equal() {
        for (total, w) in [(10u64, 3u32), (262_144, 4), (5, 8), (0, 2)] {
            let mut next = 0;
            for i in 0..w {
                let r = chunk_range(total, w, i);
                assert_eq!(r.start, next);
                assert!(r.end - r.start <= total / u64::from(w) + 1);
                next = r.end;
            }
            assert_eq!(next, total);
        }
        assert!(chunk_range(10, 2, 2).is_empty());
        assert!(chunk_range(10, 0, 0).is_empty());
    }

    #[test]
    fn missing_duplicated_and_reordered_chunks_change_the_root() {
        let want = expected_checksum(T, R);
        let parts = split(T, 4);
        let missing = [parts[0], parts[1], parts[3]];
        assert_ne!(combine(&missing), want);
        assert!(matches!(check_cover(&missing, T), Err(CoverError::Gap { index: 2, .. })));
        let duplicated = [parts[0], parts[1], parts[1], parts[2], parts[3]];
        assert_ne!(combine(&duplicated), want);
        assert!(check_cover(&duplicated, T).is_err());
        let reordered = [parts[1], parts[0], parts[2], parts[3]];
        assert_ne!(combine(&reordered), want);
        assert!(check_cover(&reordered, T).is_err());
        let dropped_tail = [parts[0], parts[1], parts[2]];
        assert_eq!(
            check_cover(&dropped_tail, T),
            Err(CoverError::Short { covered: 750, total: T })
        );
        // Even a forged cover (right ranges, swapped digests) is caught by the fold.
        let mut forged = parts.clone();
        let d = forged[0].digest;
        forged[0].digest = forged[1].digest;
        forged[1].digest = d;
        assert_eq!(check_cover(&forged, T), Ok(()));
        assert_ne!(combine(&forged), want);
    }

    #[test]
    fn rounds_and_index_matter() {
        assert_ne!(block_hash(5, 1), block_hash(5, 2));
        assert_ne!(block_hash(5, 1), block_hash(6, 1));
        assert_ne!(expected_checksum(T, R), expected_checksum(T + 1, R));
    }
}
