//! log2 histogram bucket math.
//!
//! 64 buckets. Bucket 0 holds the value 0; bucket `i` in `1..=62` holds
//! `[2^(i-1), 2^i)`; bucket 63 holds everything from `2^62` up to `u64::MAX`.
//! So a bucket index is the bit length of the value, clamped to 63.

/// Buckets per histogram.
pub const BUCKETS: usize = 64;

/// The bucket a value falls in.
pub const fn bucket(value: u64) -> usize {
    let bits = (u64::BITS - value.leading_zeros()) as usize;
    if bits > BUCKETS - 1 {
        BUCKETS - 1
    } else {
        bits
    }
}

/// Smallest value that lands in `bucket` (`None` for indices past the end).
pub const fn bucket_lower_bound(bucket: usize) -> Option<u64> {
    match bucket {
        0 => Some(0),
        b if b < BUCKETS => Some(1u64 << (b - 1)),
        _ => None,
    }
}

/// Largest value that lands in `bucket`.
pub const fn bucket_upper_bound(bucket: usize) -> Option<u64> {
    match bucket {
        0 => Some(0),
        b if b < BUCKETS - 1 => Some((1u64 << b) - 1),
        b if b == BUCKETS - 1 => Some(u64::MAX),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(2), 2);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(4), 3);
        assert_eq!(bucket(1 << 61), 62);
        assert_eq!(bucket(1 << 62), 63);
        assert_eq!(bucket(1 << 63), 63);
        assert_eq!(bucket(u64::MAX), 63);
    }

    #[test]
    fn bounds_agree_with_bucket() {
        for b in 0..BUCKETS {
            let (lo, hi) = (bucket_lower_bound(b).unwrap(), bucket_upper_bound(b).unwrap());
            assert_eq!(bucket(lo), b, "lower bound of {b}");
            assert_eq!(bucket(hi), b, "upper bound of {b}");
            if b > 0 {
                assert_eq!(bucket(lo - 1), b - 1);
            }
        }
        assert_eq!(bucket_lower_bound(BUCKETS), None);
        assert_eq!(bucket_upper_bound(BUCKETS), None);
    }
}
