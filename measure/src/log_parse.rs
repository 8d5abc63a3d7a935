//! Reading `measure.log` back into a [`Report`].
//!
//! Blank lines and lines starting with `#` are skipped; every other line
//! must be a `measure:` line of a known family with well-formed `key=value`
//! tokens. Unknown families, keys, phases, dimension labels or fields are
//! errors (with the 1-based line number), so a log from another catalogue is
//! refused rather than half-read. Fields missing from a group line read as 0.

use std::collections::BTreeMap;

use crate::declare::{group_by_name, Counter, Hist};
use crate::hist::BUCKETS;
use crate::instrument_info::{Accel, InstrumentInfo};
use crate::lock_pairs::{site_index, PairSums, UNKNOWN_HOLDER};
use crate::log_text::{
    CONTENTION_FAMILY, CPU_TIME_FAMILY, HIST_SUFFIX, LOCK_PAIR_FAMILY, OFFCPU_FAMILY, PREFIX,
    RUN_DELAY_FAMILY, RUN_DELAY_WORST_FAMILY, STACK_DEF_FAMILY, THREAD_NAME_FAMILY,
    THREAD_OPS_FAMILY, THREAD_TIME_FAMILY, TIMED_FAMILY,
};
use crate::phase::Phase;
use crate::record::{ContentionClass, HeldLock, Mode, SampleMode, SampleTag};
use crate::report::{Begin, End, LoadMap, Report, ThreadName, TimedSample};
use crate::samples::MAX_FRAMES;
use crate::thread_ops::ThreadOps;
use crate::trace::{TraceArgs, TraceKind};

/// A `measure.log` line that could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("measure.log line {line}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("not a `measure:` line")]
    NotMeasureLine,
    #[error("unknown line family `{0}`")]
    UnknownFamily(String),
    #[error("token `{0}` is not key=value")]
    BadToken(String),
    #[error("key `{0}` given twice")]
    DuplicateKey(String),
    #[error("missing key `{0}`")]
    MissingKey(String),
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    #[error("`{key}={value}` is not a number")]
    BadNumber { key: String, value: String },
    #[error("unknown phase `{0}`")]
    UnknownPhase(String),
    #[error("unknown `{key}` label `{value}`")]
    UnknownLabel { key: String, value: String },
    #[error("unknown trace kind `{0}`")]
    UnknownTraceKind(String),
    #[error("trace arguments out of range for kind `{0}`")]
    BadTraceArgs(String),
    #[error("bad bucket list `{0}`")]
    BadBuckets(String),
    #[error("bad escape in `{0}`")]
    BadEscape(String),
    #[error("more than {MAX_FRAMES} frames")]
    TooManyFrames,
}

use ParseErrorKind as K;

/// The `key=value` tokens of one line; keys are taken out as they are read
/// so leftovers can be reported as unknown.
struct Tokens<'a> {
    map: BTreeMap<&'a str, &'a str>,
}

impl<'a> Tokens<'a> {
    fn new(rest: impl Iterator<Item = &'a str>) -> Result<Self, ParseErrorKind> {
        let mut map = BTreeMap::new();
        for token in rest {
            let (k, v) = token.split_once('=').ok_or_else(|| K::BadToken(token.to_string()))?;
            if map.insert(k, v).is_some() {
                return Err(K::DuplicateKey(k.to_string()));
            }
        }
        Ok(Tokens { map })
    }

    fn str(&mut self, key: &str) -> Result<&'a str, ParseErrorKind> {
        self.map.remove(key).ok_or_else(|| K::MissingKey(key.to_string()))
    }

    fn num(&mut self, key: &str) -> Result<u64, ParseErrorKind> {
        let value = self.str(key)?;
        number(value).ok_or_else(|| K::BadNumber { key: key.to_string(), value: value.to_string() })
    }

    fn opt_num(&mut self, key: &str) -> Result<Option<u64>, ParseErrorKind> {
        if self.map.contains_key(key) {
            self.num(key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn small<T: TryFrom<u64>>(&mut self, key: &str) -> Result<T, ParseErrorKind> {
        let v = self.num(key)?;
        T::try_from(v).map_err(|_| K::BadNumber { key: key.to_string(), value: v.to_string() })
    }

    fn phase(&mut self, key: &str) -> Result<Phase, ParseErrorKind> {
        let name = self.str(key)?;
        Phase::from_name(name).ok_or_else(|| K::UnknownPhase(name.to_string()))
    }

    fn done(self) -> Result<(), ParseErrorKind> {
        match self.map.into_keys().next() {
            Some(k) => Err(K::UnknownKey(k.to_string())),
            None => Ok(()),
        }
    }
}

/// Decimal or `0x` hexadecimal.
fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn unescape(s: &str) -> Result<String, ParseErrorKind> {
    let bad = || K::BadEscape(s.to_string());
    let mut bytes = Vec::new();
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next().ok_or_else(bad)?, it.next().ok_or_else(bad)?];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else {
            bytes.push(b);
        }
    }
    if bytes == [0] {
        bytes.clear();
    }
    String::from_utf8(bytes).map_err(|_| bad())
}

fn mode_of(family: &str, suffix: &str) -> Option<Mode> {
    match family.strip_suffix(suffix)? {
        "user" => Some(Mode::User),
        "kernel" => Some(Mode::Kernel),
        _ => None,
    }
}

/// Parses a whole `measure.log`.
pub fn parse_measure_log(text: &str) -> Result<Report, ParseError> {
    let mut report = Report::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        parse_line(&mut report, line).map_err(|kind| ParseError { line: i + 1, kind })?;
    }
    Ok(report)
}

fn parse_line(report: &mut Report, line: &str) -> Result<(), ParseErrorKind> {
    let body = line.strip_prefix(PREFIX).ok_or(K::NotMeasureLine)?;
    let mut words = body.split_whitespace();
    let family = words.next().ok_or(K::NotMeasureLine)?;
    let mut t = Tokens::new(words)?;
    match family {
        "begin" => {
            let _version = t.num("version")?;
            report.begin = Some(Begin {
                cpus: t.small("cpus")?,
                tsc_khz: t.num("tsc_khz")?,
                catalogue: t.num("catalogue")?,
            });
        }
        "instrument" => {
            let accel_name = t.str("accel")?;
            let accel = Accel::from_name(accel_name).ok_or_else(|| K::UnknownLabel {
                key: "accel".into(),
                value: accel_name.to_string(),
            })?;
            let mut n = [accel as u64; InstrumentInfo::COUNT];
            for (slot, key) in n[1..].iter_mut().zip(InstrumentInfo::KEYS) {
                // The clock rates came later: a log from before them reads
                // as 0 (unknown; `measure check` then uses its options).
                *slot = match key {
                    "tick_hz" | "sample_hz" => t.opt_num(key)?.unwrap_or(0),
                    _ => t.num(key)?,
                };
            }
            report.instrument = InstrumentInfo::from_numbers(n);
        }
        "load_map" => {
            let (pid, binary, base) = (t.num("pid")?, unescape(t.str("binary")?)?, t.num("base")?);
            report.load_maps.push(LoadMap { pid, binary, base });
        }
        "checkpoint" => {
            let phase = t.phase("name")?;
            report.checkpoints.insert(phase, t.num("tsc")?);
        }
        "phase" => {
            let phase = t.phase("name")?;
            report.phase_cycles.insert(phase, t.num("cycles")?);
        }
        "trace" => {
            let cpu = t.small("cpu")?;
            let tsc = t.num("tsc")?;
            let kind_name = t.str("kind")?;
            let kind = TraceKind::from_name(kind_name)
                .ok_or_else(|| K::UnknownTraceKind(kind_name.to_string()))?;
            let mut values = Vec::new();
            for name in TraceArgs::names(kind) {
                values.push(t.num(name)?);
            }
            let args = TraceArgs::from_values(kind, &values)
                .ok_or_else(|| K::BadTraceArgs(kind_name.to_string()))?;
            report.trace.push(args.event(tsc, cpu));
        }
        "trace_dropped" => {
            let cpu = t.small("cpu")?;
            report.trace_dropped.insert(cpu, t.num("dropped")?);
        }
        "end" => {
            report.end =
                Some(End { tsc: t.num("tsc")?, records: t.num("records")?, lost: t.num("lost")? });
        }
        f if mode_of(f, "_pc_sample").is_some() => {
            let mode = mode_of(f, "_pc_sample").ok_or_else(|| K::UnknownFamily(f.to_string()))?;
            let phase = t.phase("phase")?;
            let tag = sample_tag(&mut t, Some(mode))?;
            let (pc, count) = (t.num("pc")?, t.num("count")?);
            if count != 0 {
                let slot = report.pc_samples.entry((phase, tag, pc)).or_default();
                *slot = slot.saturating_add(count);
            }
        }
        f if mode_of(f, "_stack_sample").is_some() => {
            let mode =
                mode_of(f, "_stack_sample").ok_or_else(|| K::UnknownFamily(f.to_string()))?;
            let phase = t.phase("phase")?;
            let tag = sample_tag(&mut t, Some(mode))?;
            let count = t.num("count")?;
            let frames = frames(t.str("frames")?)?;
            if count != 0 {
                let slot = report.stack_samples.entry((phase, tag, frames)).or_default();
                *slot = slot.saturating_add(count);
            }
        }
        CPU_TIME_FAMILY => {
            let (phase, cpu) = (t.phase("phase")?, t.small("cpu")?);
            let mut cycles = [0u64; crate::cpu_time::STATES];
            for (c, state) in cycles.iter_mut().zip(crate::cpu_time::CpuState::ALL) {
                *c = t.num(state.name())?;
            }
            report.cpu_time.insert((phase, cpu), cycles);
        }
        THREAD_TIME_FAMILY => {
            let (phase, pid, thread) = (t.phase("phase")?, t.small("pid")?, t.num("thread")?);
            let mut cycles = [0u64; crate::thread_time::STATES];
            for (c, state) in cycles.iter_mut().zip(crate::thread_time::ThreadState::all()) {
                *c = t.num(&state.name())?;
            }
            let row = crate::thread_time::ThreadTime { phase, thread, pid, cycles };
            crate::thread_time::add_to(&mut report.thread_time, phase, &row);
        }
        RUN_DELAY_FAMILY => {
            let (phase, cpu) = (t.phase("phase")?, t.small("cpu")?);
            let kind = delay_kind(t.str("kind")?)?;
            let (count, sum) = (t.num("count")?, t.num("sum")?);
            let list = t.str("buckets")?;
            let bad = || K::BadBuckets(list.to_string());
            let mut buckets = std::collections::BTreeMap::new();
            for item in list.split(',').filter(|s| !s.is_empty()) {
                let (b, n) = item.split_once(':').ok_or_else(bad)?;
                let b: u8 = b.parse().map_err(|_| bad())?;
                if b as usize >= crate::run_delay::BUCKETS {
                    return Err(bad());
                }
                buckets.insert(b, number(n).ok_or_else(bad)?);
            }
            if buckets.values().sum::<u64>() != count {
                return Err(bad());
            }
            report.run_delay.insert((phase, cpu, kind), (sum, buckets));
        }
        OFFCPU_FAMILY => {
            let phase = t.phase("phase")?;
            let name = t.str("reason")?;
            let reason = crate::thread_time::BlockReason::from_name(name)
                .ok_or_else(|| K::UnknownLabel { key: "reason".into(), value: name.to_string() })?;
            let (count, blocked) = (t.num("count")?, t.num("blocked_cycles")?);
            let frames = frames(t.str("frames")?)?;
            let slot = report.offcpu_stacks.entry((phase, reason as u8, frames)).or_default();
            slot.0 = slot.0.saturating_add(count);
            slot.1 = slot.1.saturating_add(blocked);
        }
        RUN_DELAY_WORST_FAMILY => {
            let (phase, cpu) = (t.phase("phase")?, t.small("cpu")?);
            let kind = delay_kind(t.str("kind")?)?;
            let worst = crate::run_delay::WorstDelay {
                cycles: t.num("cycles")?,
                kind,
                thread: t.num("thread")?,
                pid: t.small("pid")?,
                waker: t.num("waker")?,
                frames: frames(t.str("frames")?)?,
            };
            report.run_delay_worst.insert((phase, cpu), worst);
        }
        THREAD_NAME_FAMILY => {
            let (thread, pid) = (t.num("thread")?, t.small("pid")?);
            let name = unescape(t.str("name")?)?;
            report.thread_names.insert(thread, ThreadName { thread, pid, name });
        }
        STACK_DEF_FAMILY => {
            let id = t.small("id")?;
            let tag = sample_tag(&mut t, None)?;
            let frames = frames(t.str("frames")?)?;
            report.stack_defs.insert(id, (tag, frames));
        }
        TIMED_FAMILY => {
            let cpu = t.small("cpu")?;
            let list = t.str("samples")?;
            let bad = || K::BadNumber { key: "samples".into(), value: list.to_string() };
            let mut tsc = 0u64;
            for entry in list.split(',').filter(|e| !e.is_empty()) {
                let (dt, id) = entry.split_once(':').ok_or_else(bad)?;
                tsc = tsc.wrapping_add(number(dt).ok_or_else(bad)?);
                let stack = number(id).and_then(|v| u32::try_from(v).ok()).ok_or_else(bad)?;
                report.timed_samples.push(TimedSample { cpu, tsc, stack });
            }
        }
        THREAD_OPS_FAMILY => report.add_thread_ops(ThreadOps {
            phase: t.phase("phase")?,
            pid: t.small("pid")?,
            thread: t.num("thread")?,
            syscalls: t.num("syscalls")?,
            ring_sqes: t.num("ring_sqes")?,
        }),
        CONTENTION_FAMILY => {
            let phase = t.phase("phase")?;
            let class = contention_class(&mut t)?;
            let lock_name = t.str("lock")?;
            let lock = class.lock_index(lock_name).ok_or_else(|| K::UnknownLabel {
                key: "lock".into(),
                value: lock_name.to_string(),
            })?;
            let (count, wait_cycles) = (t.num("count")?, t.num("wait_cycles")?);
            let frames = frames(t.str("frames")?)?;
            report.add_contention(phase, class as u8, lock, frames, count, wait_cycles);
        }
        LOCK_PAIR_FAMILY => {
            let phase = t.phase("phase")?;
            let class = contention_class(&mut t)?;
            let mut site = |key: &str| {
                let name = t.str(key)?;
                site_index(class, name)
                    .filter(|i| *i != UNKNOWN_HOLDER || key == "holder")
                    .ok_or_else(|| K::UnknownLabel { key: key.into(), value: name.to_string() })
            };
            let (waiter, holder) = (site("waiter")?, site("holder")?);
            let sums = PairSums {
                count: t.num("count")?,
                wait_cycles: t.num("wait_cycles")?,
                cross_cpu: t.num("cross_cpu")?,
            };
            report.add_lock_pair((phase, class as u8, waiter, holder), sums);
        }
        f => return parse_group_line(report, f, t),
    }
    t.done()
}

/// A `frames=` list: comma-separated addresses, leaf first, at most
/// [`MAX_FRAMES`]; empty for no frames.
/// A sample line's tag (`cpu= pid= tid= mode= lock=`); the mode must be of
/// the line's family (`mode=idle` on a `user_` line is refused).
/// `None` accepts every mode (stack definitions).
fn sample_tag(t: &mut Tokens<'_>, family: Option<Mode>) -> Result<SampleTag, ParseErrorKind> {
    let (cpu, pid, tid) = (t.small("cpu")?, t.small("pid")?, t.num("tid")?);
    let name = t.str("mode")?;
    let mode = SampleMode::from_name(name)
        .filter(|m| family.is_none_or(|f| m.family() == f))
        .ok_or_else(|| K::UnknownLabel { key: "mode".into(), value: name.to_string() })?;
    let lock = match t.str("lock")? {
        "-" => None,
        text => Some(
            HeldLock::from_name(text)
                .ok_or_else(|| K::UnknownLabel { key: "lock".into(), value: text.to_string() })?,
        ),
    };
    Ok(SampleTag { cpu, pid, tid, mode, lock })
}

/// A run-queue delay kind's id from its name.
fn delay_kind(name: &str) -> Result<u8, ParseErrorKind> {
    crate::run_delay::DelayKind::from_name(name)
        .map(|k| k as u8)
        .ok_or_else(|| K::UnknownLabel { key: "kind".into(), value: name.to_string() })
}

/// A `class=` contention class name.
fn contention_class(t: &mut Tokens<'_>) -> Result<ContentionClass, ParseErrorKind> {
    let name = t.str("class")?;
    ContentionClass::from_name(name)
        .ok_or_else(|| K::UnknownLabel { key: "class".into(), value: name.to_string() })
}

fn frames(list: &str) -> Result<Vec<u64>, ParseErrorKind> {
    let frames = list
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            number(s).ok_or_else(|| K::BadNumber { key: "frames".into(), value: s.to_string() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if frames.len() > MAX_FRAMES {
        return Err(K::TooManyFrames);
    }
    Ok(frames)
}

fn parse_group_line(
    report: &mut Report,
    family: &str,
    mut t: Tokens<'_>,
) -> Result<(), ParseErrorKind> {
    let (name, is_hist) = match family.strip_suffix(HIST_SUFFIX) {
        Some(base) if group_by_name(base).is_some() => (base, true),
        _ => (family, false),
    };
    let (g, group) = group_by_name(name).ok_or_else(|| K::UnknownFamily(family.to_string()))?;
    let phase = t.phase("phase")?;
    let dim = if group.dim.is_none() {
        0
    } else {
        let label = t.str(group.dim.key)?;
        group.dim.index_of(label).ok_or_else(|| K::UnknownLabel {
            key: group.dim.key.to_string(),
            value: label.to_string(),
        })?
    };
    if is_hist {
        let kind = t.str("kind")?;
        let h = group.hists.iter().position(|h| h.name == kind);
        let hist = h
            .and_then(|h| Hist::from_ids(g, dim, h as u8))
            .ok_or_else(|| K::UnknownLabel { key: "kind".into(), value: kind.to_string() })?;
        let list = t.str("buckets")?;
        let bad = || K::BadBuckets(list.to_string());
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (b, n) = item.split_once(':').ok_or_else(bad)?;
            let b: u8 = b.parse().map_err(|_| bad())?;
            let n = number(n).ok_or_else(bad)?;
            if b as usize >= BUCKETS {
                return Err(bad());
            }
            report.set_bucket(phase, hist, b, n);
        }
    } else {
        for (f, field) in group.fields.iter().enumerate() {
            if let Some(value) = t.opt_num(field.name)? {
                let counter = Counter::from_ids(g, dim, f as u8)
                    .ok_or_else(|| K::UnknownKey(field.name.to_string()))?;
                report.set_counter(phase, counter, value);
            }
        }
    }
    t.done()
}
