//! Decoding wire records, refusing anything this build does not know (see
//! `record.rs` for the layout).

use alloc::string::String;
use alloc::vec::Vec;

use crate::declare::{Counter, Hist, GROUP_COUNT};
use crate::hist::BUCKETS;
use crate::instrument_info::InstrumentInfo;
use crate::lock_pairs::{PairSums, UNKNOWN_HOLDER};
use crate::phase::Phase;
use crate::record::{
    tag, ContentionClass, HeldLock, Record, SampleMode, SampleTag, MAX_NAME, TIMED_BATCH,
    WIRE_VERSION,
};
use crate::samples::MAX_FRAMES;
use crate::thread_names::MAX_THREAD_NAME;
use crate::thread_ops::ThreadOps;
use crate::thread_time::ThreadTime;
use crate::trace::{TraceEvent, TraceKind};

/// Why bytes are not a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated at byte {0}")]
    Truncated(usize),
    #[error("wire version {found}, this decoder reads {expected}")]
    VersionMismatch { found: u8, expected: u8 },
    #[error("unknown record tag {0}")]
    UnknownTag(u8),
    #[error("varint longer than 64 bits at byte {0}")]
    VarintOverflow(usize),
    #[error("unknown phase id {0}")]
    BadPhase(u64),
    #[error("unknown group id {0}")]
    BadGroup(u64),
    #[error("group {group}: no dimension entry {dim}")]
    BadDimension { group: u64, dim: u64 },
    #[error("group {group}: no field {field}")]
    BadField { group: u64, field: u64 },
    #[error("group {group}: no histogram {hist}")]
    BadHist { group: u64, hist: u64 },
    #[error("histogram bucket {0} out of range or not ascending")]
    BadBucket(u64),
    #[error("unknown sample mode {0}")]
    BadMode(u64),
    #[error("unknown trace kind {0}")]
    BadTraceKind(u64),
    #[error("{what} value {value} out of range")]
    OutOfRange { what: &'static str, value: u64 },
    #[error("load-map name is not UTF-8")]
    BadUtf8,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated(self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn var(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                return Err(DecodeError::VarintOverflow(start));
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow(start))
    }

    fn small(&mut self, what: &'static str, max: u64) -> Result<u64, DecodeError> {
        let v = self.var()?;
        if v > max {
            return Err(DecodeError::OutOfRange { what, value: v });
        }
        Ok(v)
    }

    fn phase(&mut self) -> Result<Phase, DecodeError> {
        let v = self.var()?;
        u8::try_from(v).ok().and_then(Phase::from_id).ok_or(DecodeError::BadPhase(v))
    }

    /// A frame count (at most [`MAX_FRAMES`]) and that many frames.
    fn frames(&mut self) -> Result<Vec<u64>, DecodeError> {
        let n = self.small("frame count", MAX_FRAMES as u64)?;
        (0..n).map(|_| self.var()).collect()
    }

    /// A [`ContentionClass`] id.
    fn contention_class(&mut self) -> Result<ContentionClass, DecodeError> {
        let c = self.var()?;
        u8::try_from(c)
            .ok()
            .and_then(ContentionClass::from_id)
            .ok_or(DecodeError::OutOfRange { what: "contention class", value: c })
    }

    fn tag(&mut self) -> Result<SampleTag, DecodeError> {
        let cpu = self.small("sample cpu", u8::MAX as u64)? as u8;
        let pid = self.small("sample pid", u32::MAX as u64)? as u32;
        let tid = self.var()?;
        let m = self.var()?;
        let mode = SampleMode::from_id(m).ok_or(DecodeError::BadMode(m))?;
        let code = self.var()?;
        let lock = HeldLock::from_code(code)
            .map_err(|value| DecodeError::OutOfRange { what: "sample lock", value })?;
        Ok(SampleTag { cpu, pid, tid, mode, lock })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated(self.bytes.len()))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// Checks a (group, dim, member) triple; `members` picks fields or hists.
fn ids(r: &mut Reader<'_>, hist: bool) -> Result<(u8, usize, u8), DecodeError> {
    let (g, d, m) = (r.var()?, r.var()?, r.var()?);
    let group = u8::try_from(g)
        .ok()
        .filter(|g| (*g as usize) < GROUP_COUNT)
        .ok_or(DecodeError::BadGroup(g))?;
    let desc = &crate::catalogue::GROUPS[group as usize];
    if d >= desc.dim.count() as u64 {
        return Err(DecodeError::BadDimension { group: g, dim: d });
    }
    let members = if hist { desc.hists.len() } else { desc.fields.len() } as u64;
    if m >= members {
        return Err(if hist {
            DecodeError::BadHist { group: g, hist: m }
        } else {
            DecodeError::BadField { group: g, field: m }
        });
    }
    Ok((group, d as usize, m as u8))
}

/// Decodes one record from the front of `bytes`; returns it and the bytes used.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.byte()?;
    if version != WIRE_VERSION {
        return Err(DecodeError::VersionMismatch { found: version, expected: WIRE_VERSION });
    }
    let record = match r.byte()? {
        tag::BEGIN => Record::Begin {
            cpus: r.small("cpu count", u8::MAX as u64)? as u8,
            tsc_khz: r.var()?,
            catalogue: r.var()?,
        },
        tag::COUNTER => {
            let phase = r.phase()?;
            let (g, d, f) = ids(&mut r, false)?;
            let counter = Counter::from_ids(g, d, f)
                .ok_or(DecodeError::BadField { group: g as u64, field: f as u64 })?;
            Record::Counter { phase, counter, value: r.var()? }
        }
        tag::HIST => {
            let phase = r.phase()?;
            let (g, d, h) = ids(&mut r, true)?;
            let hist = Hist::from_ids(g, d, h)
                .ok_or(DecodeError::BadHist { group: g as u64, hist: h as u64 })?;
            let n = r.small("bucket count", BUCKETS as u64)?;
            let mut buckets = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let b = r.var()?;
                let ascending = buckets.last().is_none_or(|(prev, _): &(u8, u64)| b > *prev as u64);
                if b >= BUCKETS as u64 || !ascending {
                    return Err(DecodeError::BadBucket(b));
                }
                buckets.push((b as u8, r.var()?));
            }
            Record::Hist { phase, hist, buckets }
        }
        tag::INSTRUMENT => {
            let mut n = [0u64; InstrumentInfo::COUNT];
            for v in &mut n {
                *v = r.var()?;
            }
            let info = InstrumentInfo::from_numbers(n)
                .ok_or(DecodeError::OutOfRange { what: "accelerator", value: n[0] })?;
            Record::Instrument(info)
        }
        tag::PC_SAMPLE => {
            Record::PcSample { phase: r.phase()?, tag: r.tag()?, pc: r.var()?, count: r.var()? }
        }
        tag::STACK_SAMPLE => {
            let (phase, tag, count) = (r.phase()?, r.tag()?, r.var()?);
            let frames = r.frames()?;
            Record::StackSample { phase, tag, frames, count }
        }
        tag::CONTENTION_STACK => {
            let phase = r.phase()?;
            let class = r.contention_class()?;
            let lock = r.small("contention lock", class.lock_count() as u64 - 1)? as u8;
            let (count, wait_cycles) = (r.var()?, r.var()?);
            let frames = r.frames()?;
            Record::ContentionStack { phase, class: class as u8, lock, frames, count, wait_cycles }
        }
        tag::TRACE => {
            let cpu = r.small("cpu", u8::MAX as u64)? as u8;
            let k = r.var()?;
            let kind = u8::try_from(k)
                .ok()
                .and_then(TraceKind::from_id)
                .ok_or(DecodeError::BadTraceKind(k))?;
            let flags = r.small("trace flags", u8::MAX as u64)? as u8;
            Record::Trace(TraceEvent { cpu, kind, flags, tsc: r.var()?, a: r.var()?, b: r.var()? })
        }
        tag::THREAD_OPS => Record::ThreadOps(ThreadOps {
            phase: r.phase()?,
            thread: r.var()?,
            pid: r.small("pid", u32::MAX as u64)? as u32,
            syscalls: r.var()?,
            ring_sqes: r.var()?,
        }),
        tag::TRACE_DROPPED => {
            Record::TraceDropped { cpu: r.small("cpu", u8::MAX as u64)? as u8, dropped: r.var()? }
        }
        tag::PHASE_MARK => Record::PhaseMark { phase: r.phase()?, tsc: r.var()? },
        tag::LOAD_MAP => {
            let (pid, base) = (r.var()?, r.var()?);
            let len = r.small("name length", MAX_NAME as u64)? as usize;
            let name = core::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::BadUtf8)?;
            Record::LoadMap { pid, binary: String::from(name), base }
        }
        tag::THREAD_NAME => {
            let thread = r.var()?;
            let pid = r.small("pid", u32::MAX as u64)? as u32;
            let len = r.small("name length", MAX_THREAD_NAME as u64)? as usize;
            let name = core::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::BadUtf8)?;
            Record::ThreadName { thread, pid, name: String::from(name) }
        }
        tag::STACK_DEF => {
            let id = r.small("stack id", u32::MAX as u64)? as u32;
            let tag = r.tag()?;
            let frames = r.frames()?;
            Record::StackDef { id, tag, frames }
        }
        tag::TIMED_SAMPLES => {
            let cpu = r.small("cpu", u8::MAX as u64)? as u8;
            let n = r.small("timed sample count", TIMED_BATCH as u64)? as usize;
            let mut samples = Vec::with_capacity(n);
            let mut tsc = 0u64;
            for _ in 0..n {
                tsc = tsc.wrapping_add(r.var()?);
                samples.push((tsc, r.small("stack id", u32::MAX as u64)? as u32));
            }
            Record::TimedSamples { cpu, samples }
        }
        tag::CPU_TIME => {
            let (phase, cpu) = (r.phase()?, r.small("cpu", u8::MAX as u64)? as u8);
            let mut cycles = [0u64; crate::cpu_time::STATES];
            for c in &mut cycles {
                *c = r.var()?;
            }
            Record::CpuTime { phase, cpu, cycles }
        }
        tag::LOCK_PAIR => {
            let phase = r.phase()?;
            let class = r.contention_class()?;
            let last = class.lock_count() as u64 - 1;
            let waiter = r.small("pair waiter", last)? as u8;
            let h = r.var()?;
            let holder = u8::try_from(h)
                .ok()
                .filter(|h| *h as u64 <= last || *h == UNKNOWN_HOLDER)
                .ok_or(DecodeError::OutOfRange { what: "pair holder", value: h })?;
            let sums = PairSums { count: r.var()?, wait_cycles: r.var()?, cross_cpu: r.var()? };
            Record::LockPair { phase, class: class as u8, waiter, holder, sums }
        }
        tag::THREAD_TIME => {
            let (phase, thread) = (r.phase()?, r.var()?);
            let pid = r.small("pid", u32::MAX as u64)? as u32;
            let mut cycles = [0u64; crate::thread_time::STATES];
            for c in &mut cycles {
                *c = r.var()?;
            }
            Record::ThreadTime(ThreadTime { phase, thread, pid, cycles })
        }
        tag::RUN_DELAY => {
            let (phase, cpu) = (r.phase()?, r.small("cpu", u8::MAX as u64)? as u8);
            let kind = r.small("delay kind", crate::run_delay::KINDS as u64 - 1)? as u8;
            let sum = r.var()?;
            let n = r.small("bucket count", crate::run_delay::BUCKETS as u64)?;
            let mut buckets = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let b = r.small("delay bucket", crate::run_delay::BUCKETS as u64 - 1)?;
                if buckets.last().is_some_and(|(last, _)| u64::from(*last) >= b) {
                    return Err(DecodeError::BadBucket(b));
                }
                buckets.push((b as u8, r.var()?));
            }
            Record::RunDelay(crate::run_delay::DelayHist { phase, cpu, kind, sum, buckets })
        }
        tag::RUN_DELAY_WORST => {
            let (phase, cpu) = (r.phase()?, r.small("cpu", u8::MAX as u64)? as u8);
            let cycles = r.var()?;
            let kind = r.small("delay kind", crate::run_delay::KINDS as u64 - 1)? as u8;
            let thread = r.var()?;
            let pid = r.small("pid", u32::MAX as u64)? as u32;
            let waker = r.var()?;
            let frames = r.frames()?;
            let worst = crate::run_delay::WorstDelay { cycles, kind, thread, pid, waker, frames };
            Record::RunDelayWorst { phase, cpu, worst }
        }
        tag::OFFCPU_STACK => {
            let phase = r.phase()?;
            let reason = r.small("block reason", crate::thread_time::REASONS as u64 - 1)? as u8;
            let (count, blocked_cycles) = (r.var()?, r.var()?);
            let frames = r.frames()?;
            Record::OffCpuStack { phase, reason, frames, count, blocked_cycles }
        }
        tag::END => Record::End { tsc: r.var()?, records: r.var()? },
        other => return Err(DecodeError::UnknownTag(other)),
    };
    Ok((record, r.pos))
}

/// Decodes back-to-back records until `bytes` is used up.
pub fn decode_all(mut bytes: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (rec, used) = decode(bytes)?;
        out.push(rec);
        bytes = &bytes[used..];
    }
    Ok(out)
}
