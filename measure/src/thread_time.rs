//! Where every thread's time went: running on a CPU, runnable but waiting
//! in a run queue, or blocked for one of the kernel's [`BlockReason`]s.
//!
//! Each thread carries a [`ThreadClock`] (its state and the TSC of its last
//! change); the kernel calls [`crate::Measure::thread_state`] at every
//! change (switched in, switched out preempted or blocked, woken, exited),
//! and the cycles since the last change go to the state the thread was in,
//! split at phase marks by their TSCs like [`crate::cpu_time`]. The cycles
//! land in a bounded table keyed by (phase, thread), shared by all CPUs
//! like [`crate::thread_ops`]: a (phase, thread) that finds no slot is
//! refused and counted (`thread_ops.time_rows_refused`).
//!
//! A thread's clock is written only under the thread's scheduler lock (the
//! kernel's `sched` lock), so relaxed atomics suffice.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::phase::{Phase, PhaseBook};
use crate::run_delay::{DelayKind, StackNote};
use crate::samples::{claim, Claims};
use crate::thread_ops::{thread_key, thread_ref};

const VALID: u64 = 1 << 63;
const THREAD_MASK: u64 = (1 << 48) - 1;
const R: Ordering = Ordering::Relaxed;
/// Phase slots a row can have: `boot` to `final_total` (after the final mark).
const SLOTS: usize = 5;

/// Why a thread blocked: where in the kernel it waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum BlockReason {
    /// `cap_enter` waiting after a `Timer.sleep` it submitted.
    Sleep = 0,
    /// `cap_enter` waiting after a `ParkSpace.park` it submitted.
    Park = 1,
    /// Waiting for a thread to exit: a kernel `join`, or `cap_enter` after
    /// a `ThreadHandle.join`.
    Join = 2,
    /// `cap_enter` waiting after an endpoint call or receive it submitted.
    Ipc = 3,
    /// `cap_enter` waiting for completions of operations submitted by an
    /// earlier `cap_enter` (or none that can pend).
    CapEnter = 4,
    /// Waiting for processes to exit: `cap_enter` after a
    /// `ProcessHandle.wait`, or the kernel's manifest waiting for all.
    ExitWait = 5,
    /// Any other kernel wait (kernel tests' waits, timed kernel waits).
    Other = 6,
}

/// Number of block reasons.
pub const REASONS: usize = 7;

impl BlockReason {
    pub const ALL: [BlockReason; REASONS] = [
        BlockReason::Sleep,
        BlockReason::Park,
        BlockReason::Join,
        BlockReason::Ipc,
        BlockReason::CapEnter,
        BlockReason::ExitWait,
        BlockReason::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            BlockReason::Sleep => "sleep",
            BlockReason::Park => "park",
            BlockReason::Join => "join",
            BlockReason::Ipc => "ipc",
            BlockReason::CapEnter => "cap_enter",
            BlockReason::ExitWait => "exit_wait",
            BlockReason::Other => "other",
        }
    }

    pub fn from_id(id: u8) -> Option<BlockReason> {
        BlockReason::ALL.get(id as usize).copied()
    }

    pub fn from_name(name: &str) -> Option<BlockReason> {
        BlockReason::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ThreadState {
    /// On a CPU (user or kernel mode).
    Running,
    /// Queued (or preempted and about to be), waiting for a CPU.
    Runnable,
    Blocked(BlockReason),
}

/// Number of thread states: running, runnable and one per block reason.
pub const STATES: usize = 2 + REASONS;

impl ThreadState {
    /// Index into a row's cycles: running 0, runnable 1, blocked 2 + reason.
    pub const fn index(self) -> usize {
        match self {
            ThreadState::Running => 0,
            ThreadState::Runnable => 1,
            ThreadState::Blocked(r) => 2 + r as usize,
        }
    }

    pub fn from_index(i: usize) -> Option<ThreadState> {
        match i {
            0 => Some(ThreadState::Running),
            1 => Some(ThreadState::Runnable),
            _ => BlockReason::from_id(u8::try_from(i - 2).ok()?).map(ThreadState::Blocked),
        }
    }

    /// `thread_time` field name: `running`, `runnable`, `blocked_<reason>`.
    pub fn name(self) -> alloc::string::String {
        match self {
            ThreadState::Running => "running".into(),
            ThreadState::Runnable => "runnable".into(),
            ThreadState::Blocked(r) => alloc::format!("blocked_{}", r.name()),
        }
    }

    /// Every state, in index order.
    pub fn all() -> impl Iterator<Item = ThreadState> {
        (0..STATES).filter_map(ThreadState::from_index)
    }
}

/// One thread's accounting state, kept in the thread.
#[derive(Debug, Default)]
pub struct ThreadClock {
    /// `state index + 1`; 0 before the first change and after exit.
    state: AtomicU8,
    since: AtomicU64,
    /// Why the thread is runnable (a [`DelayKind`] id).
    cause: AtomicU8,
    /// Who woke it last (the run-queue delay's worst keeps it).
    pub wake: StackNote,
    /// Where it blocked last (its kernel stack; the off-CPU table keeps it
    /// at the wakeup, weighted by the blocked time).
    pub block: StackNote,
}

impl ThreadClock {
    pub const fn new() -> Self {
        ThreadClock {
            state: AtomicU8::new(0),
            since: AtomicU64::new(0),
            cause: AtomicU8::new(0),
            wake: StackNote::new(),
            block: StackNote::new(),
        }
    }

    /// Why the thread became runnable: preempted when it left `running`,
    /// else woken (or created).
    pub fn cause(&self) -> DelayKind {
        if self.cause.load(R) == DelayKind::Preempt as u8 {
            DelayKind::Preempt
        } else {
            DelayKind::Wake
        }
    }

    /// The state the thread is in (`None` before accounting starts).
    pub fn state(&self) -> Option<ThreadState> {
        ThreadState::from_index(self.state.load(R).checked_sub(1)? as usize)
    }

    /// Enters `state` (`None`: stops accounting, the thread exited) at
    /// `now`; returns the state left and the cycles spent in it.
    pub fn switch(&self, state: Option<ThreadState>, now: u64) -> Option<(ThreadState, u64, u64)> {
        let prev = self.state();
        let since = self.since.load(R);
        let now = now.max(since);
        if state == Some(ThreadState::Runnable) {
            let preempted = prev == Some(ThreadState::Running);
            let cause = if preempted { DelayKind::Preempt } else { DelayKind::Wake };
            self.cause.store(cause as u8, R);
            if preempted {
                self.wake.clear();
            }
        }
        self.since.store(now, R);
        self.state.store(state.map_or(0, |s| s.index() as u8 + 1), R);
        prev.map(|p| (p, since, now))
    }
}

/// One (phase, thread) row: the thread's process and its cycles by state
/// (indexed by [`ThreadState::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct ThreadTime {
    pub phase: Phase,
    /// The kernel's thread ref (as in trace events).
    pub thread: u64,
    pub pid: u32,
    pub cycles: [u64; STATES],
}

impl ThreadTime {
    /// Cycles in `state`.
    pub fn get(&self, state: ThreadState) -> u64 {
        self.cycles[state.index()]
    }

    /// Cycles blocked, all reasons.
    pub fn blocked(&self) -> u64 {
        self.cycles[2..].iter().fold(0u64, |a, c| a.saturating_add(*c))
    }
}

/// Rows by (phase, thread ref): how the report side keeps them.
pub type ThreadTimeRows = alloc::collections::BTreeMap<(Phase, u64), ThreadTime>;

/// Adds `t`'s cycles to `rows` under `phase`: rows for one (phase, thread)
/// add up.
pub fn add_to(rows: &mut ThreadTimeRows, phase: Phase, t: &ThreadTime) {
    let row =
        rows.entry((phase, t.thread)).or_insert(ThreadTime { phase, cycles: [0; STATES], ..*t });
    for (s, c) in row.cycles.iter_mut().zip(t.cycles) {
        *s = s.saturating_add(c);
    }
}

/// (phase, thread) -> (pid, cycles per state); `N` a power of two.
pub struct ThreadTimeTable<const N: usize> {
    keys: [AtomicU64; N],
    pids: [AtomicU32; N],
    cycles: [[AtomicU64; STATES]; N],
    pub claims: Claims,
}

impl<const N: usize> Default for ThreadTimeTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ThreadTimeTable<N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two());

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::POWER_OF_TWO;
        ThreadTimeTable {
            keys: [const { AtomicU64::new(0) }; N],
            pids: [const { AtomicU32::new(0) }; N],
            cycles: [const { [const { AtomicU64::new(0) }; STATES] }; N],
            claims: Claims::new(),
        }
    }

    /// Adds `cycles` in `state` to thread `tref` (of `pid`) in `phase`;
    /// `false` when the table has no room (or the ref is too big).
    pub fn record(
        &self,
        phase: Phase,
        tref: u64,
        pid: u32,
        state: ThreadState,
        cycles: u64,
    ) -> bool {
        let Some(thread) = thread_key(tref) else { return false };
        let key = VALID | (phase as u64) << 60 | (thread & THREAD_MASK);
        let Some((i, claimed)) = claim(&self.keys, key, &self.claims) else { return false };
        if claimed {
            self.pids[i].store(pid, R);
        }
        self.cycles[i][state.index()].fetch_add(cycles, R);
        true
    }

    /// Adds `[from, to)` in `state`, split at the phase marks inside it;
    /// returns how many pieces were refused.
    pub fn add_span(
        &self,
        phases: &PhaseBook,
        tref: u64,
        pid: u32,
        state: ThreadState,
        from: u64,
        to: u64,
    ) -> u64 {
        let mut refused = 0;
        // As the CPU clocks: a mark between reading `to` and splitting is
        // waited out, so the new phase's start is stamped when read.
        phases.settled();
        split(phases, from, to, |phase, cycles| {
            if cycles != 0 && !self.record(phase, tref, pid, state, cycles) {
                refused += 1;
            }
        });
        refused
    }

    /// Every row recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = ThreadTime> + '_ {
        (0..N).filter_map(move |i| {
            let key = self.keys[i].load(R);
            if key & VALID == 0 {
                return None;
            }
            Some(ThreadTime {
                phase: Phase::from_id(((key >> 60) & 7) as u8)?,
                thread: thread_ref(key & THREAD_MASK),
                pid: self.pids[i].load(R),
                cycles: core::array::from_fn(|s| self.cycles[i][s].load(R)),
            })
        })
    }
}

/// Calls `f(phase, cycles)` for each phase slot `[from, to)` overlaps
/// (latest first); nothing before the boot stamp.
pub fn split(phases: &PhaseBook, from: u64, to: u64, mut f: impl FnMut(Phase, u64)) {
    let mut end = to;
    let mut p = phases.current() as usize;
    while end > from {
        if p >= SLOTS {
            return;
        }
        let Some(phase) = Phase::from_id(p as u8) else { return };
        // A phase not yet stamped (a mark in progress) starts now.
        let start = phases.start_tsc(p).unwrap_or(end).min(end);
        let lo = from.max(start);
        f(phase, end - lo);
        if p == 0 || from >= start {
            return;
        }
        end = start;
        p -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shards;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    #[test]
    fn spans_split_at_marks_into_rows() {
        let (b, sh): (Box<PhaseBook>, Box<Shards>) = (Box::default(), Box::default());
        let t: Box<ThreadTimeTable<16>> = Box::default();
        b.mark(&sh, Phase::Boot, 100).unwrap();
        b.mark(&sh, Phase::SpawnReady, 1_000).unwrap();
        b.mark(&sh, Phase::Work, 2_000).unwrap();
        let sleep = ThreadState::Blocked(BlockReason::Sleep);
        // A sleep from 1 500 to 2 600 crosses the work mark.
        assert_eq!(t.add_span(&b, 5, 3, sleep, 1_500, 2_600), 0);
        assert_eq!(t.add_span(&b, 5, 3, ThreadState::Running, 2_600, 2_700), 0);
        assert_eq!(t.add_span(&b, 5, 3, ThreadState::Runnable, 2_700, 2_750), 0);
        let mut rows: Vec<ThreadTime> = t.entries().collect();
        rows.sort_by_key(|r| r.phase);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].phase, rows[0].get(sleep)), (Phase::SpawnReady, 500));
        let w = rows[1];
        assert_eq!((w.phase, w.pid, w.thread), (Phase::Work, 3, 5));
        assert_eq!(w.cycles, [100, 50, 600, 0, 0, 0, 0, 0, 0]);
        assert_eq!(w.blocked(), 600);
    }

    #[test]
    fn the_clock_charges_the_state_it_leaves() {
        let c = ThreadClock::new();
        assert_eq!(c.switch(Some(ThreadState::Runnable), 10), None);
        assert_eq!(c.switch(Some(ThreadState::Running), 25), Some((ThreadState::Runnable, 10, 25)));
        let park = ThreadState::Blocked(BlockReason::Park);
        assert_eq!(c.switch(Some(park), 20), Some((ThreadState::Running, 25, 25)), "no going back");
        assert_eq!(c.switch(None, 90), Some((park, 25, 90)));
        assert_eq!(c.state(), None);
    }

    #[test]
    fn refuses_new_rows_when_full() {
        let t: ThreadTimeTable<2> = ThreadTimeTable::new();
        let r = ThreadState::Running;
        assert!(t.record(Phase::Work, 1, 1, r, 5));
        assert!(t.record(Phase::Work, 2, 1, r, 5));
        assert!(!t.record(Phase::Work, 3, 1, r, 5));
        assert!(!t.record(Phase::Work, 1 << 20, 1, r, 5));
        assert!(t.record(Phase::Work, 1, 1, r, 5));
        assert_eq!(t.entries().map(|e| e.cycles[0]).sum::<u64>(), 15);
    }

    #[test]
    fn names_and_indices_round_trip() {
        let names: Vec<_> = ThreadState::all().map(|s| s.name()).collect();
        assert_eq!(names[..3], ["running", "runnable", "blocked_sleep"]);
        assert_eq!(names.len(), STATES);
        for (i, s) in ThreadState::all().enumerate() {
            assert_eq!(s.index(), i);
        }
        for r in BlockReason::ALL {
            assert_eq!(BlockReason::from_name(r.name()), Some(r));
        }
    }
}
