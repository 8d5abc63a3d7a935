//! One fuzzing thread: runs its planned steps against its own ring and
//! keeps just enough bookkeeping (handles it got, endpoint call ids it
//! received) to aim later ops at live objects.

use super::arena::Arena;
use super::ring::RawRing;
use super::{ops_caps, ops_ring, ops_sys, threads};
use alloc::vec::Vec;
use capos_abi::ring::{Cqe, Sqe};
use capos_fuzzplan::plan::{Kind, Step, ThreadPlan};
use capos_fuzzplan::rng::Rng;
use capos_rt::syscall;

/// What a completion was for, in the top byte of `user_data` (random SQEs
/// use tag 0, so their completions are never mistaken for these).
pub mod tag {
    pub const SHIFT: u32 = 56;
    pub const MASK: u64 = 0xff << SHIFT;
    pub const JUNK: u64 = 0;
    pub const THREAD_SPAWN: u64 = 1;
    pub const PROC_SPAWN: u64 = 2;
    /// Low bits: arena offset of the receive buffer.
    pub const RECEIVE: u64 = 3;

    pub const fn make(tag: u64, low: u64) -> u64 {
        tag << SHIFT | (low & !MASK)
    }
}

/// Most handles / call ids remembered (older ones are forgotten, not closed).
const KEEP: usize = 32;
/// Completions taken per `take_completions` (a scribbled CQ could loop).
const MAX_TAKE: usize = 256;

pub struct Worker {
    pub ring: RawRing,
    pub arena: Arena,
    /// Slots granted to the process (0..caps are the fixed layout).
    pub caps: u32,
    /// Thread / process handle slots this thread got back from spawns.
    pub threads: Vec<u32>,
    pub procs: Vec<u32>,
    /// Endpoint call ids this thread received and has not replied to.
    pub call_ids: Vec<u64>,
    /// Whether this thread may start threads and processes (workers do,
    /// their short-lived threads do not).
    pub may_spawn: bool,
    pub spawned: u32,
    /// Heap bytes this thread added behind the allocator's back.
    pub grown: u64,
}

impl Worker {
    pub fn new(ring: RawRing, arena_bytes: usize, caps: u32, may_spawn: bool) -> Worker {
        Worker {
            ring,
            arena: Arena::new(arena_bytes),
            caps,
            threads: Vec::new(),
            procs: Vec::new(),
            call_ids: Vec::new(),
            may_spawn,
            spawned: 0,
            grown: 0,
        }
    }

    /// Runs every step of `plan`, then leaves (pending calls complete later,
    /// after the thread is gone: the kernel must cope with that too).
    pub fn run(&mut self, plan: ThreadPlan) {
        for step in plan {
            if self.may_spawn {
                super::shared::STEPS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            self.ring.repair();
            self.step(step);
        }
        self.ring.repair();
        self.enter(0, 0);
    }

    fn step(&mut self, step: Step) {
        let mut r = Rng::new(step.seed);
        let r = &mut r;
        match step.kind {
            Kind::RingCall => ops_ring::ring_call(self, r),
            Kind::RingIndex => ops_ring::ring_index(self, r),
            Kind::Scribble => ops_ring::scribble(self, r),
            Kind::Drain => ops_ring::drain(self, r),
            Kind::Syscall => ops_sys::syscall(self, r),
            Kind::HeapFs => ops_sys::heap_fs(self, r),
            Kind::Lethal => ops_sys::lethal(self, r),
            Kind::ThreadSpawn => threads::spawn_op(self, r),
            Kind::ThreadJoin => threads::join_op(self, r),
            Kind::ProcSpawn => ops_caps::proc_spawn(self, r),
            Kind::ProcWait => ops_caps::proc_wait(self, r),
            Kind::EpCall => ops_caps::ep_call(self, r),
            Kind::EpServe => ops_caps::ep_serve(self, r),
            Kind::Park => ops_caps::park(self, r),
            Kind::Unpark => ops_caps::unpark(self, r),
            Kind::ParkStorm => ops_caps::park_storm(self, r),
            Kind::Sleep => ops_caps::sleep(self, r),
            Kind::TimerStorm => ops_caps::timer_storm(self, r),
            Kind::Measure => ops_caps::measure(self, r),
        }
    }

    /// Queues `sqe`; when the SQ is full, enters the kernel once to let it
    /// consume and tries again. False if there is still no room (the CQ is
    /// full of reservations for calls that have not completed).
    pub fn push(&mut self, sqe: &Sqe) -> bool {
        if self.ring.push(sqe) {
            return true;
        }
        self.enter(0, 0);
        self.ring.push(sqe)
    }

    /// `cap_enter(min, timeout_ns)` (callers keep the wait bounded), then
    /// takes whatever completed.
    pub fn enter(&mut self, min: u64, timeout_ns: u64) -> i64 {
        let r = syscall::cap_enter(min, timeout_ns);
        self.take_completions();
        r
    }

    pub fn take_completions(&mut self) {
        for _ in 0..MAX_TAKE {
            match self.ring.pop() {
                Some(c) => self.note(c),
                None => break,
            }
        }
    }

    fn note(&mut self, c: Cqe) {
        let low = c.user_data & !tag::MASK;
        match c.user_data >> tag::SHIFT {
            tag::THREAD_SPAWN if c.result >= 0 => remember(&mut self.threads, c.result as u32),
            tag::PROC_SPAWN if c.result >= 0 => remember(&mut self.procs, c.result as u32),
            tag::RECEIVE if c.result >= 0 && c.result_bytes > 0 => {
                let bytes = self.arena.read(low as usize, c.result_bytes as usize);
                if let Some(id) = super::msg::receive_call_id(&bytes) {
                    remember(&mut self.call_ids, id);
                }
            }
            _ => {}
        }
    }

    /// Every handle this thread knows of, for picking slots.
    pub fn handles(&self) -> Vec<u32> {
        self.threads.iter().chain(self.procs.iter()).copied().collect()
    }
}

fn remember<T>(v: &mut Vec<T>, x: T) {
    if v.len() >= KEEP {
        v.remove(0);
    }
    v.push(x);
}
