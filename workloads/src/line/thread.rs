//! `[thread-scale]` lines.

use core::fmt;

use super::parse::{scan, Fields, LineError};
use crate::thread_scale::BLOCK_BYTES;

pub const THREAD_SCALE_TAG: &str = "[thread-scale]";

/// How the parent waited for its workers during the timed section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentWait {
    /// Blocked in the kernel (join / wait), leaving its CPU to the workers.
    Blocking,
    /// Spun or polled.
    Polling,
}

impl ParentWait {
    pub const fn as_str(self) -> &'static str {
        match self {
            ParentWait::Blocking => "blocking",
            ParentWait::Polling => "polling",
        }
    }
}

/// What the hot section is allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchClass {
    /// Pure computation: no syscalls, allocation or logging between the marks.
    SyscallFreeCpu,
    /// The same computation with a `yield` system call every few blocks
    /// (`yield_every=`): a scheduler-heavy load for the planted
    /// run-queue-lock scenario, never a benchmark row.
    YieldingCpu,
}

impl BenchClass {
    pub const fn as_str(self) -> &'static str {
        match self {
            BenchClass::SyscallFreeCpu => "syscall-free-cpu",
            BenchClass::YieldingCpu => "yielding-cpu",
        }
    }
}

/// One `[thread-scale]` result. Cycle fields are guest TSC cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadScaleLine {
    pub cpus: u32,
    pub threads: u32,
    pub blocks: u64,
    pub work_rounds: u32,
    pub checksum: u64,
    pub spawn_ready: u64,
    /// The timed workload window (printed twice: `work=` and `elapsed=`).
    pub work: u64,
    pub shutdown: u64,
    pub total: u64,
    pub parent_wait: ParentWait,
    pub bench_class: BenchClass,
    /// System calls the workers made in their hot sections, as the kernel
    /// counted them (`THREAD_STAT` on capOS); `None` (printed `unmeasured`)
    /// where nothing counts them (the Linux baselines).
    pub hot_section_syscalls: Option<u64>,
    pub verified: bool,
    pub accepted: bool,
    /// Optional wall-clock nanoseconds of `work` and `total`.
    pub work_ns: Option<u64>,
    pub total_ns: Option<u64>,
}

const KEYS: [&str; 19] = [
    "cpus",
    "threads",
    "blocks",
    "block_bytes",
    "work_rounds",
    "checksum",
    "spawn_ready",
    "work",
    "elapsed",
    "shutdown",
    "total",
    "parent_wait",
    "bench_class",
    "hot_section_syscalls",
    "verified",
    "accepted",
    "work_ns",
    "total_ns",
    "elapsed_ns",
];

/// A count or `unmeasured`.
struct MeasuredCount(Option<u64>);

impl fmt::Display for MeasuredCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str(super::parse::UNMEASURED),
        }
    }
}

impl fmt::Display for ThreadScaleLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{THREAD_SCALE_TAG} cpus={} threads={} blocks={} block_bytes={BLOCK_BYTES} work_rounds={} \
             checksum=0x{:016x} spawn_ready={} work={} elapsed={} shutdown={} total={} parent_wait={} \
             bench_class={} hot_section_syscalls={} verified={} accepted={}",
            self.cpus,
            self.threads,
            self.blocks,
            self.work_rounds,
            self.checksum,
            self.spawn_ready,
            self.work,
            self.work,
            self.shutdown,
            self.total,
            self.parent_wait.as_str(),
            self.bench_class.as_str(),
            MeasuredCount(self.hot_section_syscalls),
            self.verified,
            self.accepted
        )?;
        if let Some(ns) = self.work_ns {
            write!(f, " work_ns={ns}")?;
        }
        if let Some(ns) = self.total_ns {
            write!(f, " total_ns={ns}")?;
        }
        Ok(())
    }
}

impl ThreadScaleLine {
    /// Parses the `[thread-scale]` line contained in `line`.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let f = Fields { keys: &KEYS, values: scan(line, THREAD_SCALE_TAG, &KEYS)? };
        if f.u64("block_bytes")? != BLOCK_BYTES as u64 {
            return Err(LineError::BadValue("block_bytes"));
        }
        let work = f.u64("work")?;
        if f.u64("elapsed")? != work {
            return Err(LineError::Inconsistent("elapsed"));
        }
        let parent_wait = match f.str("parent_wait")? {
            "blocking" => ParentWait::Blocking,
            "polling" => ParentWait::Polling,
            _ => return Err(LineError::BadValue("parent_wait")),
        };
        let bench_class = match f.str("bench_class")? {
            "syscall-free-cpu" => BenchClass::SyscallFreeCpu,
            "yielding-cpu" => BenchClass::YieldingCpu,
            _ => return Err(LineError::BadValue("bench_class")),
        };
        Ok(ThreadScaleLine {
            cpus: f.u32("cpus")?,
            threads: f.u32("threads")?,
            blocks: f.u64("blocks")?,
            work_rounds: f.u32("work_rounds")?,
            checksum: f.hex("checksum")?,
            spawn_ready: f.u64("spawn_ready")?,
            work,
            shutdown: f.u64("shutdown")?,
            total: f.u64("total")?,
            parent_wait,
            bench_class,
            hot_section_syscalls: f.measured_u64("hot_section_syscalls")?,
            verified: f.bool("verified")?,
            accepted: f.bool("accepted")?,
            work_ns: f.opt_u64("work_ns")?,
            total_ns: f.opt_u64("total_ns")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ThreadScaleLine {
        ThreadScaleLine {
            cpus: 2,
            threads: 2,
            blocks: 262_144,
            work_rounds: 64,
            checksum: 0xdead_beef,
            spawn_ready: 10,
            work: 20,
            shutdown: 30,
            total: 60,
            parent_wait: ParentWait::Blocking,
            bench_class: BenchClass::SyscallFreeCpu,
            hot_section_syscalls: Some(0),
            verified: true,
            accepted: false,
            work_ns: None,
            total_ns: None,
        }
    }

    #[test]
    fn exact_shape_and_round_trip() {
        let s = sample().to_string();
        assert_eq!(
            s,
            "[thread-scale] cpus=2 threads=2 blocks=262144 block_bytes=64 work_rounds=64 \
             checksum=0x00000000deadbeef spawn_ready=10 work=20 elapsed=20 shutdown=30 total=60 \
             parent_wait=blocking bench_class=syscall-free-cpu hot_section_syscalls=0 verified=true accepted=false"
        );
        assert_eq!(ThreadScaleLine::parse(&s), Ok(sample()));
        let with_ns = ThreadScaleLine { work_ns: Some(5), total_ns: Some(9), ..sample() };
        assert_eq!(ThreadScaleLine::parse(&format!("kernel: {with_ns}\r")), Ok(with_ns));
    }

    #[test]
    fn the_yielding_class_round_trips_and_unknown_classes_are_refused() {
        let y = ThreadScaleLine {
            bench_class: BenchClass::YieldingCpu,
            hot_section_syscalls: Some(512),
            ..sample()
        };
        let s = y.to_string();
        assert!(s.contains(" bench_class=yielding-cpu hot_section_syscalls=512 "), "{s}");
        assert_eq!(ThreadScaleLine::parse(&s), Ok(y));
        let bad = s.replace("yielding-cpu", "yielding");
        assert_eq!(ThreadScaleLine::parse(&bad), Err(LineError::BadValue("bench_class")));
    }

    #[test]
    fn an_unmeasured_count_says_so_and_round_trips() {
        let linux = ThreadScaleLine { hot_section_syscalls: None, ..sample() };
        let s = linux.to_string();
        assert!(s.contains(" hot_section_syscalls=unmeasured "), "{s}");
        assert_eq!(ThreadScaleLine::parse(&s), Ok(linux));
        let bad = sample().to_string().replace("hot_section_syscalls=0", "hot_section_syscalls=x");
        assert_eq!(ThreadScaleLine::parse(&bad), Err(LineError::BadValue("hot_section_syscalls")));
    }

    #[test]
    fn malformed_lines() {
        let good = sample().to_string();
        let p = |s: &str| ThreadScaleLine::parse(s);
        assert_eq!(p("[smp-process-scale] cpus=1"), Err(LineError::MissingTag));
        assert_eq!(p("[thread-scale]x cpus=1"), Err(LineError::MissingTag));
        assert_eq!(p(&good.replace(" threads=2", "")), Err(LineError::MissingField("threads")));
        assert_eq!(p(&format!("{good} cpus=3")), Err(LineError::DuplicateField("cpus")));
        assert_eq!(p(&good.replace("cpus=2", "cpus=-2")), Err(LineError::BadValue("cpus")));
        assert_eq!(
            p(&good.replace("cpus=2", "cpus=99999999999")),
            Err(LineError::BadValue("cpus"))
        );
        assert_eq!(
            p(&good.replace("0x00000000deadbeef", "deadbeef")),
            Err(LineError::BadValue("checksum"))
        );
        assert_eq!(
            p(&good.replace("0x00000000deadbeef", "0xzz")),
            Err(LineError::BadValue("checksum"))
        );
        assert_eq!(
            p(&good.replace("elapsed=20", "elapsed=21")),
            Err(LineError::Inconsistent("elapsed"))
        );
        assert_eq!(
            p(&good.replace("block_bytes=64", "block_bytes=32")),
            Err(LineError::BadValue("block_bytes"))
        );
        assert_eq!(
            p(&good.replace("verified=true", "verified=yes")),
            Err(LineError::BadValue("verified"))
        );
        assert_eq!(
            p(&good.replace("=blocking", "=sleepy")),
            Err(LineError::BadValue("parent_wait"))
        );
        assert_eq!(p(&format!("{good} junk")), Err(LineError::NotKeyValue));
        // Truncated by a crash mid-line.
        assert!(p(&good[..good.len() / 2]).is_err());
        // Unknown fields are ignored.
        assert_eq!(p(&format!("{good} future=1")), Ok(sample()));
    }
}
