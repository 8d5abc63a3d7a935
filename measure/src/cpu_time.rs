//! Where every CPU's time went: each CPU is in exactly one [`CpuState`] at
//! any instant, and the kernel tells the accountant at every change (an
//! interrupt taken or left, a system call entered or left, a context switch,
//! a contended lock's spin, a TLB shootdown's wait). The cycles since the
//! last change go to the state the CPU was in, split at phase marks by
//! their TSCs, so a phase's states add up to its length on every CPU that
//! was accounting, whatever the CPU did (`measure check`: `cpu_time_sum`).
//!
//! Per CPU: the state, the TSC of the last change and cycles per (phase,
//! state). Only the CPU itself writes its clock, with interrupts masked (or
//! from code an interrupt restores exactly, see the kernel's
//! `measure::cpu_state`), so relaxed atomics suffice; the report reads
//! after the stop.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::phase::{Phase, PhaseBook};
use crate::MAX_CPUS;

const R: Ordering = Ordering::Relaxed;

/// What a CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum CpuState {
    /// Running a thread in user mode.
    User = 0,
    /// In the kernel on behalf of a thread: system calls, ring and method
    /// processing, page faults, the scheduler, thread start and exit.
    Kernel = 1,
    /// Spinning on a contended kernel lock (the wait the lock statistics
    /// count as `wait_cycles`).
    LockSpin = 2,
    /// Interrupt and IPI handlers (ticks, reschedule and test IPIs).
    Irq = 3,
    /// TLB shootdowns: handling one, or waiting for the other CPUs' acks.
    Shootdown = 4,
    /// The idle thread (halted or about to halt).
    Idle = 5,
    /// The measurement's own work: the sample-clock interrupt.
    Measure = 6,
}

/// Number of states.
pub const STATES: usize = 7;
/// Phase slots a clock keeps: `boot` to `final_total` (after the final mark).
const SLOTS: usize = 5;

impl CpuState {
    pub const ALL: [CpuState; STATES] = [
        CpuState::User,
        CpuState::Kernel,
        CpuState::LockSpin,
        CpuState::Irq,
        CpuState::Shootdown,
        CpuState::Idle,
        CpuState::Measure,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            CpuState::User => "user",
            CpuState::Kernel => "kernel",
            CpuState::LockSpin => "lock_spin",
            CpuState::Irq => "irq",
            CpuState::Shootdown => "shootdown",
            CpuState::Idle => "idle",
            CpuState::Measure => "measure",
        }
    }

    pub fn from_id(id: u8) -> Option<CpuState> {
        CpuState::ALL.get(id as usize).copied()
    }

    pub fn from_name(name: &str) -> Option<CpuState> {
        CpuState::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One CPU's accountant.
struct CpuClock {
    /// `state + 1`; 0 until the CPU starts accounting.
    state: AtomicU8,
    since: AtomicU64,
    cycles: [[AtomicU64; STATES]; SLOTS],
}

impl CpuClock {
    const fn new() -> Self {
        CpuClock {
            state: AtomicU8::new(0),
            since: AtomicU64::new(0),
            cycles: [const { [const { AtomicU64::new(0) }; STATES] }; SLOTS],
        }
    }

    fn state(&self) -> Option<CpuState> {
        CpuState::from_id(self.state.load(R).checked_sub(1)?)
    }

    /// Adds `[from, to)` to `state`, split at the phase marks inside it.
    fn add(&self, phases: &PhaseBook, state: CpuState, from: u64, to: u64) {
        let mut end = to;
        let mut p = phases.current() as usize;
        while end > from {
            let Some(slot) = self.cycles.get(p) else { return };
            // A phase not yet stamped (a mark in progress) starts now.
            let start = phases.start_tsc(p).unwrap_or(end).min(end);
            let lo = from.max(start);
            slot[state as usize].fetch_add(end - lo, R);
            if p == 0 || from >= start {
                return; // before the boot stamp nothing is accounted
            }
            end = start;
            p -= 1;
        }
    }
}

/// Every CPU's accountant.
pub struct CpuTime {
    cpus: [CpuClock; MAX_CPUS],
}

impl Default for CpuTime {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuTime {
    pub const fn new() -> Self {
        CpuTime { cpus: [const { CpuClock::new() }; MAX_CPUS] }
    }

    /// `cpu` enters `state` at `now`; returns the state it left (`None`
    /// the first time, when accounting starts on that CPU).
    pub fn switch(
        &self,
        phases: &PhaseBook,
        cpu: usize,
        state: CpuState,
        now: u64,
    ) -> Option<CpuState> {
        let c = self.cpus.get(cpu)?;
        phases.settled();
        let prev = c.state();
        if let Some(p) = prev {
            let since = c.since.load(R);
            c.add(phases, p, since, now.max(since));
        }
        c.since.store(now.max(c.since.load(R)), R);
        c.state.store(state as u8 + 1, R);
        prev
    }

    /// `cpu` spent `[start, end)` in `state` (a lock spin, a shootdown wait)
    /// and is back in the state it was in: the time before `start` goes to
    /// that state, the slice (from the last change on, if that was later)
    /// to `state`.
    pub fn slice(&self, phases: &PhaseBook, cpu: usize, state: CpuState, start: u64, end: u64) {
        let Some(c) = self.cpus.get(cpu) else { return };
        phases.settled();
        let Some(back) = c.state() else { return };
        let since = c.since.load(R);
        let start = start.max(since);
        let end = end.max(start);
        c.add(phases, back, since, start);
        c.add(phases, state, start, end);
        c.since.store(end, R);
    }

    /// Cycles `cpu` spent in each state in phase slot `phase` (`boot` to
    /// `final_total`, the latter meaning after the final mark); `None` for a
    /// CPU that never accounted.
    pub fn cycles(&self, cpu: usize, phase: Phase) -> Option<[u64; STATES]> {
        let c = self.cpus.get(cpu)?;
        c.state()?;
        let slot = c.cycles.get(phase as usize)?;
        Some(core::array::from_fn(|s| slot[s].load(R)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shards;
    use alloc::boxed::Box;

    fn book() -> (Box<PhaseBook>, Box<Shards>) {
        (Box::default(), Box::default())
    }

    #[test]
    fn states_add_up_to_each_phase_and_split_at_marks() {
        let (b, sh) = book();
        let t: Box<CpuTime> = Box::default();
        b.mark(&sh, Phase::Boot, 100).unwrap();
        assert_eq!(t.switch(&b, 1, CpuState::Kernel, 150), None);
        t.switch(&b, 1, CpuState::User, 200);
        b.mark(&sh, Phase::SpawnReady, 1_000).unwrap();
        b.mark(&sh, Phase::Work, 2_000).unwrap();
        // One long user stretch across two marks, then a lock spin inside
        // a system call.
        t.switch(&b, 1, CpuState::Kernel, 2_500);
        t.slice(&b, 1, CpuState::LockSpin, 2_600, 2_700);
        t.switch(&b, 1, CpuState::Idle, 2_800);
        b.mark(&sh, Phase::Shutdown, 3_000).unwrap();
        t.switch(&b, 1, CpuState::Kernel, 3_100);
        let boot = t.cycles(1, Phase::Boot).unwrap();
        assert_eq!((boot[0], boot[1]), (800, 50));
        assert_eq!(t.cycles(1, Phase::SpawnReady).unwrap(), [1_000, 0, 0, 0, 0, 0, 0]);
        let work = t.cycles(1, Phase::Work).unwrap();
        assert_eq!(work, [500, 200, 100, 0, 0, 200, 0]);
        assert_eq!(work.iter().sum::<u64>(), 1_000, "the phase's length");
        assert_eq!(t.cycles(1, Phase::Shutdown).unwrap()[CpuState::Idle as usize], 100);
        assert_eq!(t.cycles(0, Phase::Work), None, "cpu 0 never accounted");
    }

    #[test]
    fn a_slice_that_began_before_the_last_change_counts_from_it() {
        let (b, sh) = book();
        let t: Box<CpuTime> = Box::default();
        b.mark(&sh, Phase::Boot, 0).unwrap();
        t.switch(&b, 0, CpuState::Kernel, 10);
        // An interrupt inside a spin: the handler's time is its own.
        let back = t.switch(&b, 0, CpuState::Irq, 40).unwrap();
        t.switch(&b, 0, back, 60);
        t.slice(&b, 0, CpuState::LockSpin, 20, 90);
        let boot = t.cycles(0, Phase::Boot).unwrap();
        assert_eq!(boot[CpuState::Kernel as usize], 30);
        assert_eq!(boot[CpuState::Irq as usize], 20);
        assert_eq!(boot[CpuState::LockSpin as usize], 30);
        assert_eq!(boot.iter().sum::<u64>(), 80);
    }

    #[test]
    fn names_round_trip() {
        for s in CpuState::ALL {
            assert_eq!(CpuState::from_name(s.name()), Some(s));
            assert_eq!(CpuState::from_id(s as u8), Some(s));
        }
    }
}
