//! `[smp-process-scale]` lines.

use core::fmt;

use super::parse::{scan, Fields, LineError};

pub const PROCESS_SCALE_TAG: &str = "[smp-process-scale]";

/// One `[smp-process-scale]` result. `elapsed` is guest TSC cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessScaleLine {
    pub cpus: u32,
    pub workers: u32,
    pub lo: u64,
    pub hi: u64,
    pub primes: u64,
    pub checksum: u64,
    pub elapsed: u64,
    pub verified: bool,
    /// Optional wall-clock nanoseconds of `elapsed`.
    pub elapsed_ns: Option<u64>,
}

const KEYS: [&str; 8] =
    ["cpus", "workers", "range", "primes", "checksum", "elapsed", "verified", "elapsed_ns"];

impl fmt::Display for ProcessScaleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PROCESS_SCALE_TAG} cpus={} workers={} range={}..{} primes={} checksum=0x{:016x} elapsed={} verified={}",
            self.cpus, self.workers, self.lo, self.hi, self.primes, self.checksum, self.elapsed, self.verified
        )?;
        if let Some(ns) = self.elapsed_ns {
            write!(f, " elapsed_ns={ns}")?;
        }
        Ok(())
    }
}

impl ProcessScaleLine {
    /// Parses the `[smp-process-scale]` line contained in `line`.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let f = Fields { keys: &KEYS, values: scan(line, PROCESS_SCALE_TAG, &KEYS)? };
        let (lo, hi) = f.str("range")?.split_once("..").ok_or(LineError::BadValue("range"))?;
        let num = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(LineError::BadValue("range"));
            }
            s.parse::<u64>().map_err(|_| LineError::BadValue("range"))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi {
            return Err(LineError::Inconsistent("range"));
        }
        Ok(ProcessScaleLine {
            cpus: f.u32("cpus")?,
            workers: f.u32("workers")?,
            lo,
            hi,
            primes: f.u64("primes")?,
            checksum: f.hex("checksum")?,
            elapsed: f.u64("elapsed")?,
            verified: f.bool("verified")?,
            elapsed_ns: f.opt_u64("elapsed_ns")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProcessScaleLine {
        ProcessScaleLine {
            cpus: 4,
            workers: 4,
            lo: 0,
            hi: 1000,
            primes: 168,
            checksum: 0xabc,
            elapsed: 123,
            verified: true,
            elapsed_ns: None,
        }
    }

    #[test]
    fn exact_shape_and_round_trip() {
        let s = sample().to_string();
        assert_eq!(
            s,
            "[smp-process-scale] cpus=4 workers=4 range=0..1000 primes=168 checksum=0x0000000000000abc elapsed=123 verified=true"
        );
        assert_eq!(ProcessScaleLine::parse(&s), Ok(sample()));
        let ns = ProcessScaleLine { elapsed_ns: Some(77), ..sample() };
        assert_eq!(ProcessScaleLine::parse(&ns.to_string()), Ok(ns));
    }

    #[test]
    fn malformed_lines() {
        let good = sample().to_string();
        let p = |s: &str| ProcessScaleLine::parse(s);
        assert_eq!(p("nothing here"), Err(LineError::MissingTag));
        assert_eq!(
            p(&good.replace("range=0..1000", "range=0-1000")),
            Err(LineError::BadValue("range"))
        );
        assert_eq!(
            p(&good.replace("range=0..1000", "range=9..1")),
            Err(LineError::Inconsistent("range"))
        );
        assert_eq!(
            p(&good.replace("range=0..1000", "range=..1")),
            Err(LineError::BadValue("range"))
        );
        assert_eq!(p(&good.replace(" primes=168", "")), Err(LineError::MissingField("primes")));
        assert_eq!(
            p(&good.replace("elapsed=123", "elapsed=1.5")),
            Err(LineError::BadValue("elapsed"))
        );
        assert_eq!(
            p(&good.replace("verified=true", "verified=")),
            Err(LineError::BadValue("verified"))
        );
    }
}
