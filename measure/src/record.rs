//! Wire records: what the guest sends the host, one record per defmt frame.
//!
//! Every record is `[WIRE_VERSION][tag][body]`; integers in the body are
//! unsigned LEB128 varints, ids are catalogue positions (checked against the
//! catalogue on decode; [`Record::Begin`] carries the catalogue fingerprint so
//! the host can refuse a stream from a different build).
//!
//! | tag | record          | body                                                              |
//! |-----|-----------------|-------------------------------------------------------------------|
//! | 1   | Begin           | cpus, tsc_khz, catalogue fingerprint                              |
//! | 2   | Counter         | phase, group, dim, field, value                                   |
//! | 3   | Hist            | phase, group, dim, hist, n, n x (bucket, count)                   |
//! | 4   | PcSample        | phase, tag, pc, count                                             |
//! | 5   | StackSample     | phase, tag, count, n, n x frame (leaf first)                      |
//! | 6   | Trace           | cpu, kind, flags, tsc, a, b                                       |
//! | 7   | TraceDropped    | cpu, dropped                                                      |
//! | 8   | PhaseMark       | phase, tsc                                                        |
//! | 9   | LoadMap         | pid, base, name length, name bytes (UTF-8)                        |
//! | 10  | End             | tsc, records sent before this one                                 |
//! | 11  | ContentionStack | phase, class, lock, count, wait cycles, n, n x frame (leaf first) |
//! | 12  | Instrument      | accel, counter, hist, lock, trace, stack cycles, hold corrections (scheduler, shared), batches, batch events, unquiesced CPUs, tick Hz, sample Hz |
//! | 13  | ThreadOps       | phase, thread ref, pid, syscalls, ring SQEs                       |
//! | 14  | ThreadName      | thread ref, pid, name length, name bytes (UTF-8)                  |
//! | 15  | StackDef        | id, tag, n, n x frame (leaf first)                                |
//! | 16  | TimedSamples    | cpu, n, n x (TSC minus the previous entry's (wrapping), stack id) |
//! | 17  | CpuTime         | phase, cpu, cycles per state (user, kernel, lock_spin, irq, shootdown, idle, measure) |
//! | 18  | LockPair        | phase, class, waiter, holder, count, wait cycles, cross-CPU count |
//! | 19  | ThreadTime      | phase, thread ref, pid, cycles per state (running, runnable, blocked by reason: sleep, park, join, ipc, cap_enter, exit_wait, other) |
//! | 20  | RunDelay        | phase, cpu, kind (0 wake, 1 preempt), sum, n, n x (bucket, count) (log-linear buckets) |
//! | 21  | RunDelayWorst   | phase, cpu, cycles, kind, thread ref, pid, waker, n, n x frame (leaf first) |
//! | 22  | OffCpuStack     | phase, block reason, wakeups, blocked cycles, n, n x frame (leaf first) |
//!
//! A sample's tag is `cpu, pid, thread ref, sample mode, lock` where lock is
//! `0` (none held) or `1 + class * 256 + lock index` (see [`HeldLock`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::catalogue::{SchedLockSite, SharedLock};
use crate::declare::{Counter, Hist};
use crate::instrument_info::InstrumentInfo;
use crate::phase::Phase;
use crate::samples::MAX_FRAMES;
use crate::thread_ops::ThreadOps;
use crate::thread_time::ThreadTime;
use crate::trace::TraceEvent;

pub use crate::decode::{decode, decode_all, DecodeError};

/// Version of the record encoding; bump on any layout change.
pub const WIRE_VERSION: u8 = 6;
/// Longest binary name in a load map.
pub const MAX_NAME: usize = 255;

/// Where a sample was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum Mode {
    User = 0,
    Kernel = 1,
}

impl Mode {
    pub const fn name(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::Kernel => "kernel",
        }
    }
}

/// What the sampled CPU was doing: [`SampleMode::User`] is the `user`
/// family of sample lines, the other three the `kernel` family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum SampleMode {
    /// User code of a process.
    User = 0,
    /// Kernel code on behalf of a thread (a system call, a fault, the
    /// scheduler), not inside an interrupt handler.
    Kernel = 1,
    /// The CPU's idle thread.
    Idle = 2,
    /// Kernel code that was itself inside an interrupt handler when the
    /// sample interrupt arrived.
    Interrupt = 3,
}

impl SampleMode {
    pub const ALL: [SampleMode; 4] =
        [SampleMode::User, SampleMode::Kernel, SampleMode::Idle, SampleMode::Interrupt];

    pub const fn name(self) -> &'static str {
        match self {
            SampleMode::User => "user",
            SampleMode::Kernel => "kernel",
            SampleMode::Idle => "idle",
            SampleMode::Interrupt => "interrupt",
        }
    }

    pub const fn from_id(id: u64) -> Option<Self> {
        match id {
            0 => Some(SampleMode::User),
            1 => Some(SampleMode::Kernel),
            2 => Some(SampleMode::Idle),
            3 => Some(SampleMode::Interrupt),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The address space the PC is in: which table, counters and line
    /// family the sample belongs to.
    pub const fn family(self) -> Mode {
        match self {
            SampleMode::User => Mode::User,
            _ => Mode::Kernel,
        }
    }
}

impl From<Mode> for SampleMode {
    /// A family's plain mode (`Kernel` for the kernel family).
    fn from(m: Mode) -> Self {
        match m {
            Mode::User => SampleMode::User,
            Mode::Kernel => SampleMode::Kernel,
        }
    }
}

/// The innermost measured lock a sampled CPU held: a contention class and
/// an index into its lock dimension, as in contention stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeldLock {
    pub class: ContentionClass,
    pub lock: u8,
}

impl HeldLock {
    /// `Some` when `lock` is in `class`'s dimension.
    pub fn new(class: ContentionClass, lock: u8) -> Option<Self> {
        ((lock as usize) < class.lock_count()).then_some(HeldLock { class, lock })
    }

    /// Wire (and table) code: `0` none, else `1 + class * 256 + lock`.
    pub fn code(lock: Option<HeldLock>) -> u64 {
        lock.map_or(0, |l| 1 + (l.class as u64) * 256 + l.lock as u64)
    }

    /// Inverse of [`HeldLock::code`]; `Err` for a code no lock has.
    pub fn from_code(code: u64) -> Result<Option<HeldLock>, u64> {
        if code == 0 {
            return Ok(None);
        }
        let c = code - 1;
        let class = u8::try_from(c / 256).ok().and_then(ContentionClass::from_id).ok_or(code)?;
        HeldLock::new(class, (c % 256) as u8).map(Some).ok_or(code)
    }

    /// `lock=` text: `class:label`, e.g. `shared_kernel_lock:frames`.
    pub fn name(self) -> alloc::string::String {
        let label = self.class.lock_name(self.lock).unwrap_or("?");
        alloc::format!("{}:{label}", self.class.name())
    }

    /// Inverse of [`HeldLock::name`].
    pub fn from_name(text: &str) -> Option<HeldLock> {
        let (class, label) = text.split_once(':')?;
        let class = ContentionClass::from_name(class)?;
        Some(HeldLock { class, lock: class.lock_index(label)? })
    }
}

/// Who and where a sample was taken: the CPU, the process (`pid`, `0` for
/// a kernel thread), the thread (its kernel thread ref, as in trace events
/// and `thread_counts` lines), what the CPU was doing and the innermost
/// measured lock it held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleTag {
    pub cpu: u8,
    pub pid: u32,
    pub tid: u64,
    pub mode: SampleMode,
    pub lock: Option<HeldLock>,
}

impl SampleTag {
    /// A tag with only a mode (tests, and views that ignore the rest).
    pub const fn mode_only(mode: SampleMode) -> Self {
        SampleTag { cpu: 0, pid: 0, tid: 0, mode, lock: None }
    }

    /// The sample's line family (user or kernel).
    pub const fn family(&self) -> Mode {
        self.mode.family()
    }
}

/// Key of a PC sample in reports: (phase, tag, pc).
pub type PcKey = (Phase, SampleTag, u64);
/// Key of a stack sample in reports: (phase, tag, frames leaf first).
pub type StackKey = (Phase, SampleTag, Vec<u64>);

/// Lock family of a contention stack (`class` on the wire and in
/// [`crate::Measure::contention_stack`] is `ContentionClass as u8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ContentionClass {
    /// A scheduler (run-queue) lock; `lock` is a [`SchedLockSite`] index.
    SchedulerLock = 0,
    /// A shared kernel lock; `lock` is a [`SharedLock`] index.
    SharedKernelLock = 1,
}

impl ContentionClass {
    pub const ALL: [ContentionClass; 2] =
        [ContentionClass::SchedulerLock, ContentionClass::SharedKernelLock];

    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(ContentionClass::SchedulerLock),
            1 => Some(ContentionClass::SharedKernelLock),
            _ => None,
        }
    }

    /// `class=` text: the catalogue group of the lock family.
    pub const fn name(self) -> &'static str {
        match self {
            ContentionClass::SchedulerLock => "scheduler_lock",
            ContentionClass::SharedKernelLock => "shared_kernel_lock",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Entries in this class's lock dimension.
    pub const fn lock_count(self) -> usize {
        match self {
            ContentionClass::SchedulerLock => SchedLockSite::ALL.len(),
            ContentionClass::SharedKernelLock => SharedLock::ALL.len(),
        }
    }

    /// `lock=` text of lock index `lock` (a site or lock label).
    pub fn lock_name(self, lock: u8) -> Option<&'static str> {
        match self {
            ContentionClass::SchedulerLock => {
                SchedLockSite::ALL.get(lock as usize).map(|l| l.label())
            }
            ContentionClass::SharedKernelLock => {
                SharedLock::ALL.get(lock as usize).map(|l| l.label())
            }
        }
    }

    /// Inverse of [`ContentionClass::lock_name`].
    pub fn lock_index(self, name: &str) -> Option<u8> {
        (0..self.lock_count() as u8).find(|l| self.lock_name(*l) == Some(name))
    }
}

/// Key of a contention stack in reports: (phase, [`ContentionClass`] id,
/// lock index, frames leaf first).
pub type ContentionKey = (Phase, u8, u8, Vec<u64>);

/// Everything the guest reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Begin {
        cpus: u8,
        tsc_khz: u64,
        catalogue: u64,
    },
    /// The accelerator, probe costs and hold correction (after `Begin`).
    Instrument(InstrumentInfo),
    Counter {
        phase: Phase,
        counter: Counter,
        value: u64,
    },
    /// Non-zero buckets, ascending bucket index.
    Hist {
        phase: Phase,
        hist: Hist,
        buckets: Vec<(u8, u64)>,
    },
    PcSample {
        phase: Phase,
        tag: SampleTag,
        pc: u64,
        count: u64,
    },
    /// Frames leaf first, at most [`MAX_FRAMES`].
    StackSample {
        phase: Phase,
        tag: SampleTag,
        frames: Vec<u64>,
        count: u64,
    },
    /// Contended acquisitions of one lock from one call stack: `class` is a
    /// [`ContentionClass`] id, `lock` an index into its dimension, frames
    /// leaf first, at most [`MAX_FRAMES`].
    ContentionStack {
        phase: Phase,
        class: u8,
        lock: u8,
        frames: Vec<u64>,
        count: u64,
        wait_cycles: u64,
    },
    Trace(TraceEvent),
    /// One thread's operation counts in one phase.
    ThreadOps(ThreadOps),
    TraceDropped {
        cpu: u8,
        dropped: u64,
    },
    PhaseMark {
        phase: Phase,
        tsc: u64,
    },
    LoadMap {
        pid: u64,
        binary: String,
        base: u64,
    },
    /// The last name a thread set (at most
    /// [`crate::thread_names::MAX_THREAD_NAME`] bytes).
    ThreadName {
        thread: u64,
        pid: u32,
        name: String,
    },
    /// A stack that [`Record::TimedSamples`] refer to by `id` (never 0).
    StackDef {
        id: u32,
        tag: SampleTag,
        frames: Vec<u64>,
    },
    /// Consecutive entries of one CPU's time-ordered sample ring: (TSC,
    /// stack id, `0` when the stack was not kept), oldest first, at most
    /// [`TIMED_BATCH`] per record.
    TimedSamples {
        cpu: u8,
        samples: Vec<(u64, u32)>,
    },
    /// Cycles one CPU spent in each [`crate::cpu_time::CpuState`] in one
    /// phase (indexed by state id).
    CpuTime {
        phase: Phase,
        cpu: u8,
        cycles: [u64; crate::cpu_time::STATES],
    },
    /// Contended acquisitions of one lock class by one waiting site while
    /// one holder site held it (see [`crate::lock_pairs`]): `class` is a
    /// [`ContentionClass`] id, `waiter` and `holder` indices into its
    /// dimension (`holder` may be [`crate::lock_pairs::UNKNOWN_HOLDER`]).
    LockPair {
        phase: Phase,
        class: u8,
        waiter: u8,
        holder: u8,
        sums: crate::lock_pairs::PairSums,
    },
    /// Cycles one thread spent in each
    /// [`crate::thread_time::ThreadState`] in one phase.
    ThreadTime(ThreadTime),
    /// One CPU's run-queue delays of one kind in one phase.
    RunDelay(crate::run_delay::DelayHist),
    /// Blocked time ended by wakeups in one phase, by the reason and the
    /// kernel stack the threads blocked at (leaf first).
    OffCpuStack {
        phase: Phase,
        reason: u8,
        frames: Vec<u64>,
        count: u64,
        blocked_cycles: u64,
    },
    /// One CPU's worst run-queue delay in one phase.
    RunDelayWorst {
        phase: Phase,
        cpu: u8,
        worst: crate::run_delay::WorstDelay,
    },
    End {
        tsc: u64,
        records: u64,
    },
}

pub(crate) mod tag {
    pub const BEGIN: u8 = 1;
    pub const COUNTER: u8 = 2;
    pub const HIST: u8 = 3;
    pub const PC_SAMPLE: u8 = 4;
    pub const STACK_SAMPLE: u8 = 5;
    pub const TRACE: u8 = 6;
    pub const TRACE_DROPPED: u8 = 7;
    pub const PHASE_MARK: u8 = 8;
    pub const LOAD_MAP: u8 = 9;
    pub const END: u8 = 10;
    pub const CONTENTION_STACK: u8 = 11;
    pub const INSTRUMENT: u8 = 12;
    pub const THREAD_OPS: u8 = 13;
    pub const THREAD_NAME: u8 = 14;
    pub const STACK_DEF: u8 = 15;
    pub const TIMED_SAMPLES: u8 = 16;
    pub const CPU_TIME: u8 = 17;
    pub const LOCK_PAIR: u8 = 18;
    pub const THREAD_TIME: u8 = 19;
    pub const RUN_DELAY: u8 = 20;
    pub const RUN_DELAY_WORST: u8 = 21;
    pub const OFFCPU_STACK: u8 = 22;
}

/// Most entries in one [`Record::TimedSamples`].
pub const TIMED_BATCH: usize = 64;

// ---------------------------------------------------------------------------
// Encoding.

fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends the encoding of `record` to `out`.
/// A sample's tag: cpu, pid, thread ref, sample mode, lock code.
fn put_tag(out: &mut Vec<u8>, t: &SampleTag) {
    for v in [t.cpu as u64, t.pid as u64, t.tid, t.mode as u64, HeldLock::code(t.lock)] {
        put(out, v);
    }
}

pub fn encode(record: &Record, out: &mut Vec<u8>) {
    out.push(WIRE_VERSION);
    match record {
        Record::Begin { cpus, tsc_khz, catalogue } => {
            out.push(tag::BEGIN);
            for v in [*cpus as u64, *tsc_khz, *catalogue] {
                put(out, v);
            }
        }
        Record::Instrument(info) => {
            out.push(tag::INSTRUMENT);
            for v in info.numbers() {
                put(out, v);
            }
        }
        Record::Counter { phase, counter, value } => {
            out.push(tag::COUNTER);
            for v in [
                *phase as u64,
                counter.group as u64,
                counter.dim as u64,
                counter.field as u64,
                *value,
            ] {
                put(out, v);
            }
        }
        Record::Hist { phase, hist, buckets } => {
            out.push(tag::HIST);
            for v in [
                *phase as u64,
                hist.group as u64,
                hist.dim as u64,
                hist.hist as u64,
                buckets.len() as u64,
            ] {
                put(out, v);
            }
            for (b, n) in buckets {
                put(out, *b as u64);
                put(out, *n);
            }
        }
        Record::PcSample { phase, tag, pc, count } => {
            out.push(tag::PC_SAMPLE);
            put(out, *phase as u64);
            put_tag(out, tag);
            for v in [*pc, *count] {
                put(out, v);
            }
        }
        Record::StackSample { phase, tag, frames, count } => {
            out.push(tag::STACK_SAMPLE);
            let frames = &frames[..frames.len().min(MAX_FRAMES)];
            put(out, *phase as u64);
            put_tag(out, tag);
            for v in [*count, frames.len() as u64] {
                put(out, v);
            }
            for f in frames {
                put(out, *f);
            }
        }
        Record::ContentionStack { phase, class, lock, frames, count, wait_cycles } => {
            out.push(tag::CONTENTION_STACK);
            let frames = &frames[..frames.len().min(MAX_FRAMES)];
            for v in [
                *phase as u64,
                *class as u64,
                *lock as u64,
                *count,
                *wait_cycles,
                frames.len() as u64,
            ] {
                put(out, v);
            }
            for f in frames {
                put(out, *f);
            }
        }
        Record::Trace(e) => {
            out.push(tag::TRACE);
            for v in [e.cpu as u64, e.kind as u64, e.flags as u64, e.tsc, e.a, e.b] {
                put(out, v);
            }
        }
        Record::ThreadOps(t) => {
            out.push(tag::THREAD_OPS);
            for v in [t.phase as u64, t.thread, t.pid as u64, t.syscalls, t.ring_sqes] {
                put(out, v);
            }
        }
        Record::TraceDropped { cpu, dropped } => {
            out.push(tag::TRACE_DROPPED);
            put(out, *cpu as u64);
            put(out, *dropped);
        }
        Record::PhaseMark { phase, tsc } => {
            out.push(tag::PHASE_MARK);
            put(out, *phase as u64);
            put(out, *tsc);
        }
        Record::LoadMap { pid, binary, base } => {
            out.push(tag::LOAD_MAP);
            let name = truncate_utf8(binary, MAX_NAME);
            for v in [*pid, *base, name.len() as u64] {
                put(out, v);
            }
            out.extend_from_slice(name.as_bytes());
        }
        Record::ThreadName { thread, pid, name } => {
            out.push(tag::THREAD_NAME);
            let name = truncate_utf8(name, crate::thread_names::MAX_THREAD_NAME);
            for v in [*thread, *pid as u64, name.len() as u64] {
                put(out, v);
            }
            out.extend_from_slice(name.as_bytes());
        }
        Record::StackDef { id, tag, frames } => {
            out.push(tag::STACK_DEF);
            put(out, *id as u64);
            put_tag(out, tag);
            let frames = &frames[..frames.len().min(MAX_FRAMES)];
            put(out, frames.len() as u64);
            for f in frames {
                put(out, *f);
            }
        }
        Record::TimedSamples { cpu, samples } => {
            out.push(tag::TIMED_SAMPLES);
            let samples = &samples[..samples.len().min(TIMED_BATCH)];
            put(out, *cpu as u64);
            put(out, samples.len() as u64);
            // Deltas keep a batch small (a TSC that went backwards, which
            // one CPU never sees, still round-trips: the delta wraps).
            let mut prev = 0u64;
            for (tsc, stack) in samples {
                put(out, tsc.wrapping_sub(prev));
                put(out, *stack as u64);
                prev = *tsc;
            }
        }
        Record::CpuTime { phase, cpu, cycles } => {
            out.push(tag::CPU_TIME);
            put(out, *phase as u64);
            put(out, *cpu as u64);
            for c in cycles {
                put(out, *c);
            }
        }
        Record::LockPair { phase, class, waiter, holder, sums } => {
            out.push(tag::LOCK_PAIR);
            for v in [
                *phase as u64,
                *class as u64,
                *waiter as u64,
                *holder as u64,
                sums.count,
                sums.wait_cycles,
                sums.cross_cpu,
            ] {
                put(out, v);
            }
        }
        Record::ThreadTime(t) => {
            out.push(tag::THREAD_TIME);
            for v in [t.phase as u64, t.thread, t.pid as u64] {
                put(out, v);
            }
            for c in t.cycles {
                put(out, c);
            }
        }
        Record::RunDelay(h) => {
            out.push(tag::RUN_DELAY);
            let buckets = &h.buckets[..h.buckets.len().min(crate::run_delay::BUCKETS)];
            for v in [h.phase as u64, h.cpu as u64, h.kind as u64, h.sum, buckets.len() as u64] {
                put(out, v);
            }
            for (b, n) in buckets {
                put(out, *b as u64);
                put(out, *n);
            }
        }
        Record::RunDelayWorst { phase, cpu, worst: w } => {
            out.push(tag::RUN_DELAY_WORST);
            let frames = &w.frames[..w.frames.len().min(MAX_FRAMES)];
            for v in [
                *phase as u64,
                *cpu as u64,
                w.cycles,
                w.kind as u64,
                w.thread,
                w.pid as u64,
                w.waker,
                frames.len() as u64,
            ] {
                put(out, v);
            }
            for f in frames {
                put(out, *f);
            }
        }
        Record::OffCpuStack { phase, reason, frames, count, blocked_cycles } => {
            out.push(tag::OFFCPU_STACK);
            let frames = &frames[..frames.len().min(MAX_FRAMES)];
            for v in [*phase as u64, *reason as u64, *count, *blocked_cycles, frames.len() as u64] {
                put(out, v);
            }
            for f in frames {
                put(out, *f);
            }
        }
        Record::End { tsc, records } => {
            out.push(tag::END);
            put(out, *tsc);
            put(out, *records);
        }
    }
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
