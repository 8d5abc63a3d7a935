//! [`Measure`]: everything the kernel instruments, in one `static`.
//!
//! ```
//! use capos_measure::catalogue::{scheduler_lock, scheduler_lock_site, SchedLockSite};
//! use capos_measure::{encode, Measure, Phase, ReportInfo};
//!
//! static MEASURE: Measure = Measure::new();
//! let (cpu, cycles) = (0, 420);
//! MEASURE.mark(Phase::Boot, 1).unwrap();
//! MEASURE.add(cpu, scheduler_lock::acquisitions, 1);
//! MEASURE.add(cpu, scheduler_lock_site::acquisitions.at(SchedLockSite::TimerSelect), 1);
//! MEASURE.max(cpu, scheduler_lock::hold_max, cycles);
//! MEASURE.hist(cpu, scheduler_lock::hold, cycles);
//! MEASURE.mark(Phase::Work, 1000).unwrap();
//! let mut frame = Vec::new();
//! // Reporting stops every probe first; later updates change nothing.
//! MEASURE.report(&ReportInfo { cpus: 1, tsc_khz: 0, end_tsc: 2000, instrument: None }, &mut |record| {
//!     frame.clear();
//!     encode(record, &mut frame); // one defmt frame on COM2
//! });
//! ```
//!
//! A dimensioned field needs its entry; forgetting it does not compile:
//!
//! ```compile_fail
//! use capos_measure::{catalogue::scheduler_lock_site, Measure};
//! static MEASURE: Measure = Measure::new();
//! MEASURE.add(0, scheduler_lock_site::acquisitions, 1);
//! ```

use core::sync::atomic::{AtomicBool, Ordering};

use crate::cpu_time::{CpuState, CpuTime};
use crate::declare::{Counter, Hist};
use crate::lock_pairs::PairTable;
use crate::phase::{MarkError, Phase, PhaseBook};
use crate::record::ContentionClass;
use crate::record::{Mode, SampleTag};
use crate::run_delay::RunDelays;
use crate::samples::{ContentionTable, PcTable, StackTable};
use crate::shard::Shards;
use crate::thread_names::ThreadNames;
use crate::thread_ops::{ThreadOp, ThreadOpsTable};
use crate::thread_time::{ThreadClock, ThreadState, ThreadTimeTable};
use crate::timed::SampleRings;
use crate::trace::{TraceEvent, TraceRings};
use crate::{
    catalogue, CONTENTION_TABLE_ENTRIES, OFFCPU_ENTRIES, PC_TABLE_ENTRIES, STACK_TABLE_ENTRIES,
    THREAD_NAMES, THREAD_OPS_ENTRIES, THREAD_TIME_ENTRIES, TIMED_SAMPLES_PER_CPU,
    TRACE_EVENTS_PER_CPU,
};

/// Set once, when measurement stops; read by every probe. Alone on its
/// cache line so probes never share a written line through it.
#[repr(C, align(64))]
struct StopFlag(AtomicBool);

/// The whole measurement state: shards, phase book, sample tables, trace rings.
pub struct Measure {
    stopped: StopFlag,
    pub shards: Shards,
    pub phases: PhaseBook,
    pub(crate) user_pcs: PcTable<PC_TABLE_ENTRIES>,
    pub(crate) kernel_pcs: PcTable<PC_TABLE_ENTRIES>,
    pub(crate) stacks: StackTable<STACK_TABLE_ENTRIES>,
    pub(crate) contention: ContentionTable<CONTENTION_TABLE_ENTRIES>,
    pub(crate) pairs: PairTable,
    pub(crate) trace: TraceRings<TRACE_EVENTS_PER_CPU>,
    pub(crate) thread_ops: ThreadOpsTable<THREAD_OPS_ENTRIES>,
    pub(crate) timed: SampleRings<TIMED_SAMPLES_PER_CPU>,
    pub(crate) names: ThreadNames<THREAD_NAMES>,
    pub(crate) cpu_time: CpuTime,
    pub(crate) thread_time: ThreadTimeTable<THREAD_TIME_ENTRIES>,
    pub(crate) run_delays: RunDelays,
    /// Off-CPU stacks: (phase, 0, block reason, stack) -> (wakeups,
    /// blocked cycles).
    pub(crate) offcpu: ContentionTable<OFFCPU_ENTRIES>,
}

impl Default for Measure {
    fn default() -> Self {
        Self::new()
    }
}

impl Measure {
    pub const fn new() -> Self {
        Measure {
            stopped: StopFlag(AtomicBool::new(false)),
            shards: Shards::new(),
            phases: PhaseBook::new(),
            user_pcs: PcTable::new(),
            kernel_pcs: PcTable::new(),
            stacks: StackTable::new(),
            contention: ContentionTable::new(),
            pairs: PairTable::new(),
            trace: TraceRings::new(),
            thread_ops: ThreadOpsTable::new(),
            timed: SampleRings::new(),
            names: ThreadNames::new(),
            cpu_time: CpuTime::new(),
            thread_time: ThreadTimeTable::new(),
            run_delays: RunDelays::new(),
            offcpu: ContentionTable::new(),
        }
    }

    /// Caps every sample table (user and kernel PCs, stacks, contention
    /// stacks, per-thread rows, thread names, each CPU's time-ordered
    /// samples) at `n` entries: the kernel's
    /// `measure_capacity=` word, for runs that must overflow them. Call at
    /// boot, before the first sample.
    pub fn set_capacity(&self, n: usize) {
        self.user_pcs.claims().set_limit(n);
        self.kernel_pcs.claims().set_limit(n);
        self.stacks.claims().set_limit(n);
        self.contention.claims().set_limit(n);
        self.thread_ops.claims.set_limit(n);
        self.thread_time.claims.set_limit(n);
        self.offcpu.claims().set_limit(n);
        self.names.claims.set_limit(n);
        self.timed.set_limit(n);
    }

    /// Whether probes still count (until [`Measure::stop`]).
    #[inline]
    fn live(&self) -> bool {
        !self.stopped.0.load(Ordering::Relaxed)
    }

    /// Stops measurement: from now on every probe (counters, min/max,
    /// histograms, PC and stack samples, contention stacks, trace events)
    /// and every phase mark is refused, so what [`Measure::freeze`] copies
    /// is final. Waits for a phase mark in progress to finish. A probe that
    /// another CPU began before it saw the flag may still land; the kernel
    /// waits for those before it freezes (docs/measure.md). Idempotent.
    pub fn stop(&self) {
        if self.stopped.0.swap(true, Ordering::SeqCst) {
            return;
        }
        self.phases.close();
    }

    /// Whether [`Measure::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        !self.live()
    }

    /// Adds to a `sum` counter. Owner CPU only (see `shard.rs`).
    #[inline]
    pub fn add(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        if self.live() {
            self.shards.add(cpu, counter, value);
        }
    }

    /// Folds into a `min` counter. Owner CPU only.
    #[inline]
    pub fn min(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        if self.live() {
            self.shards.min(cpu, counter, value);
        }
    }

    /// Folds into a `max` counter. Owner CPU only.
    #[inline]
    pub fn max(&self, cpu: usize, counter: impl Into<Counter>, value: u64) {
        if self.live() {
            self.shards.max(cpu, counter, value);
        }
    }

    /// Counts `value` in a log2 histogram. Owner CPU only.
    #[inline]
    pub fn hist(&self, cpu: usize, hist: impl Into<Hist>, value: u64) {
        if self.live() {
            self.shards.hist(cpu, hist, value);
        }
    }

    /// Takes a phase mark (see `phase.rs`); `Phase::Boot` records the
    /// start-up TSC and should be called once, early.
    pub fn mark(&self, phase: Phase, tsc: u64) -> Result<(), MarkError> {
        if !self.live() {
            return Err(MarkError::Stopped);
        }
        self.phases.mark(&self.shards, phase, tsc)
    }

    /// [`Measure::mark`] at the TSC `now()` reads at the instant the phase
    /// switches (so CPU-time accounting splits exactly there); returns it.
    pub fn mark_now(&self, phase: Phase, now: &dyn Fn() -> u64) -> Result<u64, MarkError> {
        if !self.live() {
            return Err(MarkError::Stopped);
        }
        self.phases.mark_with(&self.shards, phase, now)
    }

    /// The phase now running (samples are tagged with it).
    pub fn current_phase(&self) -> Phase {
        self.phases.current()
    }

    /// Records one interrupted PC with its tag, counting `samples` or
    /// `overflow` in the tag's family group (user or kernel) on `cpu`.
    pub fn sample_pc(&self, cpu: usize, tag: &SampleTag, pc: u64) {
        if !self.live() {
            return;
        }
        let (table, samples, overflow) = match tag.family() {
            Mode::User => (
                &self.user_pcs,
                catalogue::user_pc_samples::samples,
                catalogue::user_pc_samples::overflow,
            ),
            Mode::Kernel => (
                &self.kernel_pcs,
                catalogue::kernel_pc_samples::samples,
                catalogue::kernel_pc_samples::overflow,
            ),
        };
        let counter = if table.record(self.phases.current(), tag, pc) { samples } else { overflow };
        self.add(cpu, counter, 1);
    }

    /// Records one call stack with its tag (leaf first, at most 16 frames
    /// kept), and appends (`tsc`, the stack's id) to `cpu`'s time-ordered
    /// ring (`timer.sample_ring_dropped` when that is full). Owner CPU,
    /// interrupts masked (the sample interrupt).
    pub fn sample_stack(&self, cpu: usize, tag: &SampleTag, frames: &[u64], tsc: u64) {
        if !self.live() {
            return;
        }
        use catalogue::{kernel_pc_samples as k, user_pc_samples as u};
        let (stacks, overflow) = match tag.family() {
            Mode::User => (u::stacks, u::stack_overflow),
            Mode::Kernel => (k::stacks, k::stack_overflow),
        };
        let id = self.stacks.record_id(self.phases.current(), tag, frames);
        self.add(cpu, if id.is_some() { stacks } else { overflow }, 1);
        if !self.timed.push(cpu, tsc, id.unwrap_or(0)) {
            self.add(cpu, catalogue::timer::sample_ring_dropped, 1);
        }
    }

    /// `cpu` enters `state` at TSC `now` (see [`crate::cpu_time`]); returns
    /// the state it left, `None` on its first call or once stopped. Owner
    /// CPU, interrupts masked.
    #[inline]
    pub fn cpu_state(&self, cpu: usize, state: CpuState, now: u64) -> Option<CpuState> {
        if !self.live() {
            return None;
        }
        self.cpu_time.switch(&self.phases, cpu, state, now)
    }

    /// `cpu` spent `[start, end)` in `state` and is back in its state (a
    /// contended lock's spin, a shootdown's wait). Owner CPU.
    #[inline]
    pub fn cpu_slice(&self, cpu: usize, state: CpuState, start: u64, end: u64) {
        if self.live() {
            self.cpu_time.slice(&self.phases, cpu, state, start, end);
        }
    }

    /// Records the name `thread` (of process `pid`) gave itself, counting
    /// `thread_ops.names_refused` on `cpu` when the table has no room.
    /// Called by the named thread.
    pub fn thread_name(&self, cpu: usize, thread: u64, pid: u32, name: &[u8]) {
        if self.live() && !self.names.set(thread, pid, name) {
            self.add(cpu, catalogue::thread_ops::names_refused, 1);
        }
    }

    /// Records one contended lock acquisition: its call stack (leaf first,
    /// at most 16 frames kept) and its wait. `class` is a [`ContentionClass`]
    /// id (`0` scheduler lock, `lock` a `SchedLockSite` index; `1` shared
    /// kernel lock, `lock` a `SharedLock` index). Adds 1 to the stack's count
    /// and `wait_cycles` to its wait, and counts `contention_stacks` or
    /// `contention_overflow` (full table, or an unknown class or lock) in
    /// `kernel_pc_samples` on `cpu`. No allocation and no lock: safe with
    /// interrupts off. Owner CPU for the counter update, like [`Measure::add`].
    pub fn contention_stack(
        &self,
        cpu: usize,
        class: u8,
        lock: u8,
        frames: &[u64],
        wait_cycles: u64,
    ) {
        if !self.live() {
            return;
        }
        use catalogue::kernel_pc_samples as k;
        let known =
            ContentionClass::from_id(class).is_some_and(|c| (lock as usize) < c.lock_count());
        let kept = known
            && self.contention.record(self.phases.current(), class, lock, frames, wait_cycles);
        let counter = if kept { k::contention_stacks } else { k::contention_overflow };
        self.add(cpu, counter, 1);
    }

    /// Records who a contended acquisition waited for: `class` as in
    /// [`Measure::contention_stack`], `waiter` the waiting site's index in
    /// the class's dimension, `holder` the holder's (or
    /// [`crate::lock_pairs::UNKNOWN_HOLDER`]), `cross_cpu` whether the
    /// holder was seen on another CPU. Every key has a slot, so nothing is
    /// refused; an out-of-range key counts nothing. No allocation, no lock.
    pub fn lock_pair(&self, class: u8, waiter: u8, holder: u8, wait_cycles: u64, cross_cpu: bool) {
        if self.live() {
            let phase = self.phases.current();
            self.pairs.record(phase, class, waiter, holder, wait_cycles, cross_cpu);
        }
    }

    /// Counts `n` operations of `op` by thread `tref` (of process `pid`) in
    /// the current phase; a refused row counts `thread_ops.rows_refused` on
    /// `cpu` (owner CPU for that update).
    pub fn thread_op(&self, cpu: usize, tref: u64, pid: u32, op: ThreadOp, n: u64) {
        if self.live() && !self.thread_ops.record(self.phases.current(), tref, pid, op, n) {
            self.add(cpu, catalogue::thread_ops::rows_refused, 1);
        }
    }

    /// Thread `tref` (of process `pid`, its clock `clock`) enters `state`
    /// at TSC `now` (`None`: it exited and stops accounting); the cycles
    /// since its last change go to the state it left, split at phase marks,
    /// and a refused row counts `thread_ops.time_rows_refused` on `cpu`.
    /// A switch-in (`runnable` to `running`) on `cpu` also counts its
    /// run-queue delay ([`crate::run_delay`]); `cpu` must then be the CPU
    /// switching the thread in. A wakeup (`blocked` to `runnable`) adds the
    /// blocked cycles to the off-CPU entry of the reason and the stack in
    /// `clock.block` (`thread_ops.offcpu_refused` when the table is full).
    /// Returns the state left and the cycles spent in it (`None` on the
    /// thread's first change or once stopped). Under the thread's scheduler
    /// lock, on any CPU.
    pub fn thread_state(
        &self,
        cpu: usize,
        clock: &ThreadClock,
        tref: u64,
        pid: u32,
        state: Option<ThreadState>,
        now: u64,
    ) -> Option<(ThreadState, u64)> {
        if !self.live() {
            return None;
        }
        let cause = clock.cause();
        let (left, from, to) = clock.switch(state, now)?;
        if left == ThreadState::Runnable && state == Some(ThreadState::Running) {
            let phase = self.phases.current();
            self.run_delays.record(cpu, phase, cause, to - from, tref, pid, &clock.wake);
        }
        if let (ThreadState::Blocked(why), Some(ThreadState::Runnable)) = (left, state) {
            let mut frames = [0u64; crate::samples::MAX_FRAMES];
            let n = clock.block.frames(&mut frames);
            let phase = self.phases.current();
            if !self.offcpu.record(phase, 0, why as u8, &frames[..n], to - from) {
                self.add(cpu, catalogue::thread_ops::offcpu_refused, 1);
            }
        }
        let refused = self.thread_time.add_span(&self.phases, tref, pid, left, from, to);
        if refused != 0 {
            self.add(cpu, catalogue::thread_ops::time_rows_refused, refused);
        }
        Some((left, to - from))
    }

    /// Appends a trace event to `cpu`'s ring. Owner CPU, interrupts off.
    #[inline]
    pub fn trace(&self, cpu: usize, event: &TraceEvent) {
        if self.live() {
            self.trace.push(cpu, event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel holds two `Measure`s in `.bss` (the report's and the
    /// boot calibration's scratch); keep each under 24 MiB. Sized for 40 000
    /// distinct samples (10 s at 1 kHz on 4 CPUs): two PC tables of 64 Ki
    /// 48-byte slots (6.3 MB), 64 Ki 168-byte stack slots (11 MB), 16 rings
    /// of 16 Ki 12-byte entries (3.1 MB), plus shards and rings.
    #[test]
    fn static_footprint_is_bounded() {
        let size = core::mem::size_of::<Measure>();
        println!("Measure: {size} bytes; shards {} bytes", core::mem::size_of::<Shards>());
        assert!(size < 24 << 20, "Measure is {size} bytes");
    }
}
