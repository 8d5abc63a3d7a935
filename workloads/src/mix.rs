//! Integer mixing shared by both workloads: cheap, deterministic, and with a
//! serial dependency chain so that the compiler cannot vectorise the work
//! away and every round costs real cycles.

/// Seed folded into every block hash (an arbitrary odd constant).
pub const SEED: u64 = 0x243f_6a88_85a3_08d3;

/// MurmurHash3's 64-bit finaliser: a bijection with full avalanche.
#[inline]
pub const fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// SplitMix64 output for position `i`: a stateless generator for input data.
#[inline]
pub const fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One absorbing step: folds `word` into `state`.
#[inline]
pub const fn absorb(state: u64, word: u64) -> u64 {
    let x = (state ^ word).rotate_left(23).wrapping_mul(0x9fb2_1c65_1e98_df25);
    x ^ (x >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(fmix64(0), 0);
        assert_ne!(fmix64(1), 1);
        assert_ne!(splitmix64(0), splitmix64(1));
        assert_ne!(absorb(0, 1), absorb(0, 2));
    }
}
