//! `[ipc-scale]` lines.

use core::fmt;

use super::parse::{scan, Fields, LineError};

pub const IPC_SCALE_TAG: &str = "[ipc-scale]";

/// One `[ipc-scale]` result. Cycle fields are guest TSC cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpcScaleLine {
    pub cpus: u32,
    /// Client/server pairs.
    pub pairs: u32,
    /// Calls each client made.
    pub calls: u32,
    pub checksum: u64,
    /// From the first spawn until every client is ready.
    pub spawn_ready: u64,
    /// From the start signal to the last client's end stamp (printed twice:
    /// `work=` and `elapsed=`).
    pub work: u64,
    /// From that end stamp until every process of the run has exited.
    pub shutdown: u64,
    pub verified: bool,
    /// Optional wall-clock nanoseconds of `work`.
    pub work_ns: Option<u64>,
}

const KEYS: [&str; 10] = [
    "cpus",
    "pairs",
    "calls",
    "checksum",
    "spawn_ready",
    "work",
    "elapsed",
    "shutdown",
    "verified",
    "work_ns",
];

impl IpcScaleLine {
    /// Calls of all pairs together.
    pub fn total_calls(&self) -> u64 {
        u64::from(self.pairs) * u64::from(self.calls)
    }
}

impl fmt::Display for IpcScaleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{IPC_SCALE_TAG} cpus={} pairs={} calls={} checksum=0x{:016x} spawn_ready={} work={} \
             elapsed={} shutdown={} verified={}",
            self.cpus,
            self.pairs,
            self.calls,
            self.checksum,
            self.spawn_ready,
            self.work,
            self.work,
            self.shutdown,
            self.verified
        )?;
        if let Some(ns) = self.work_ns {
            write!(f, " work_ns={ns}")?;
        }
        Ok(())
    }
}

impl IpcScaleLine {
    /// Parses the `[ipc-scale]` line contained in `line`.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let f = Fields { keys: &KEYS, values: scan(line, IPC_SCALE_TAG, &KEYS)? };
        let work = f.u64("work")?;
        if f.u64("elapsed")? != work {
            return Err(LineError::Inconsistent("elapsed"));
        }
        let pairs = f.u32("pairs")?;
        if pairs == 0 {
            return Err(LineError::BadValue("pairs"));
        }
        Ok(IpcScaleLine {
            cpus: f.u32("cpus")?,
            pairs,
            calls: f.u32("calls")?,
            checksum: f.hex("checksum")?,
            spawn_ready: f.u64("spawn_ready")?,
            work,
            shutdown: f.u64("shutdown")?,
            verified: f.bool("verified")?,
            work_ns: f.opt_u64("work_ns")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IpcScaleLine {
        IpcScaleLine {
            cpus: 2,
            pairs: 2,
            calls: 500,
            checksum: 0xabc,
            spawn_ready: 10,
            work: 20,
            shutdown: 30,
            verified: true,
            work_ns: None,
        }
    }

    #[test]
    fn exact_shape_and_round_trip() {
        let s = sample().to_string();
        assert_eq!(
            s,
            "[ipc-scale] cpus=2 pairs=2 calls=500 checksum=0x0000000000000abc spawn_ready=10 \
             work=20 elapsed=20 shutdown=30 verified=true"
        );
        assert_eq!(IpcScaleLine::parse(&s), Ok(sample()));
        assert_eq!(sample().total_calls(), 1000);
        let ns = IpcScaleLine { work_ns: Some(99), ..sample() };
        assert_eq!(IpcScaleLine::parse(&format!("user 3 ipc-scale: {ns} extra=1")), Ok(ns));
    }

    #[test]
    fn malformed_lines() {
        let good = sample().to_string();
        let p = |s: &str| IpcScaleLine::parse(s);
        assert_eq!(p("[ipc-scalex] cpus=1"), Err(LineError::MissingTag));
        assert_eq!(
            p(&good.replace("elapsed=20", "elapsed=21")),
            Err(LineError::Inconsistent("elapsed"))
        );
        assert_eq!(p(&good.replace("pairs=2", "pairs=0")), Err(LineError::BadValue("pairs")));
        assert_eq!(p(&good.replace(" calls=500", "")), Err(LineError::MissingField("calls")));
        assert_eq!(p(&format!("{good} calls=1")), Err(LineError::DuplicateField("calls")));
        assert_eq!(
            p(&good.replace("checksum=0x", "checksum=")),
            Err(LineError::BadValue("checksum"))
        );
    }
}
