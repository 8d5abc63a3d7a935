//! ipc-scale: request/reply pairs. Each client makes `calls` calls to its
//! own server; request `i` of pair `p` is [`request`], the server answers
//! with [`reply`], and the client folds every reply into its pair checksum
//! ([`pair_checksum`]). The checksum of a run folds the pair checksums in
//! pair order ([`combine`]), so a missing, duplicated, reordered or wrong
//! reply changes it, and [`reference`] recomputes it without any IPC.

use crate::mix::{absorb, fmix64, splitmix64, SEED};

/// Calls per client in the benchmark commands (knob `CAPOS_IPC_SCALE_CALLS`).
pub const DEFAULT_CALLS: u32 = 2000;

/// Bytes of one request and of one reply (one little-endian u64).
pub const MESSAGE_BYTES: usize = 8;

/// A client's checksum before its first reply.
pub const CHECKSUM_START: u64 = SEED;

/// Request `i` of pair `pair`.
#[inline]
pub const fn request(pair: u32, i: u32) -> u64 {
    splitmix64(((pair as u64) << 32) | i as u64)
}

/// The server's answer to `req`.
#[inline]
pub const fn reply(req: u64) -> u64 {
    fmix64(req ^ SEED)
}

/// Folds one reply into a client's running checksum.
#[inline]
pub const fn fold(acc: u64, rep: u64) -> u64 {
    absorb(acc, rep)
}

/// The checksum a client of `pair` reaches after `calls` correct replies.
pub fn pair_checksum(pair: u32, calls: u32) -> u64 {
    (0..calls).fold(CHECKSUM_START, |acc, i| fold(acc, reply(request(pair, i))))
}

/// The run's checksum from the pair checksums, in pair order.
pub fn combine(pairs: &[u64]) -> u64 {
    pairs.iter().fold(SEED ^ pairs.len() as u64, |acc, &c| absorb(acc, c))
}

/// The run's checksum for `pairs` pairs of `calls` calls each.
pub fn reference(pairs: u32, calls: u32) -> u64 {
    (0..pairs).fold(SEED ^ u64::from(pairs), |acc, p| absorb(acc, pair_checksum(p, calls)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_matches_combined_pairs() {
        let parts: [u64; 3] = [pair_checksum(0, 50), pair_checksum(1, 50), pair_checksum(2, 50)];
        assert_eq!(combine(&parts), reference(3, 50));
        assert_ne!(combine(&[parts[1], parts[0], parts[2]]), reference(3, 50));
        assert_ne!(combine(&parts[..2]), reference(3, 50));
        assert_ne!(pair_checksum(0, 50), pair_checksum(0, 49));
    }

    #[test]
    fn a_wrong_reply_changes_the_pair_checksum() {
        let good = pair_checksum(1, 10);
        let bad = (0..10u32).fold(SEED, |acc, i| {
            let r = reply(request(1, i));
            fold(acc, if i == 7 { r ^ 1 } else { r })
        });
        assert_ne!(good, bad);
        assert_ne!(request(0, 1), request(1, 0));
    }
}
