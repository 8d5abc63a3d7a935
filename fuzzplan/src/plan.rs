//! The op plan: which kind of op each worker thread of each child runs, in
//! order, as a pure function of the run's seed.
//!
//! A step is only a [`Kind`] and a 64-bit seed; the guest draws every
//! detail of the op (slots, pointers, lengths, message bytes) from that seed
//! when it runs it. What happens at run time (errors, timing, a child killed
//! halfway) never feeds back into the plan, so the same seed always plans
//! the same ops and the [`Summary`] of a run can be computed on the host.

use crate::args::ParentArgs;
use crate::rng::{derive, mix, Rng};
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A batch of random SQEs (opcode, slot, method, params, result).
    RingCall,
    /// The ring's indices corrupted (SQ tail far ahead, CQ head backwards).
    RingIndex,
    /// Random bytes written into some thread's ring page (maybe a dead one's).
    Scribble,
    /// `cap_enter` with a bounded wait, then completions taken.
    Drain,
    /// A raw system call with random number and arguments.
    Syscall,
    /// `grow_heap` near 2^64 or small; `set_fs_base` odd values.
    HeapFs,
    /// A thread spawn: a real short-lived thread, or refused parameters.
    ThreadSpawn,
    ThreadJoin,
    /// A spawn of `exit-child` (code=N, fault, linger, threads) or a bad one.
    ProcSpawn,
    ProcWait,
    EpCall,
    /// Endpoint receive and reply.
    EpServe,
    Park,
    Unpark,
    /// Many parks with tiny timeouts at once.
    ParkStorm,
    Sleep,
    /// Many timer sleeps of a few microseconds at once.
    TimerStorm,
    Measure,
    /// Something that kills the process (fault, exit_process, a thread at a
    /// bad address) while its other threads are busy; at most one per child.
    Lethal,
}

/// Every kind, in summary order.
pub const KINDS: [Kind; 19] = [
    Kind::RingCall,
    Kind::RingIndex,
    Kind::Scribble,
    Kind::Drain,
    Kind::Syscall,
    Kind::HeapFs,
    Kind::ThreadSpawn,
    Kind::ThreadJoin,
    Kind::ProcSpawn,
    Kind::ProcWait,
    Kind::EpCall,
    Kind::EpServe,
    Kind::Park,
    Kind::Unpark,
    Kind::ParkStorm,
    Kind::Sleep,
    Kind::TimerStorm,
    Kind::Measure,
    Kind::Lethal,
];

impl Kind {
    pub const fn name(self) -> &'static str {
        match self {
            Kind::RingCall => "ring-call",
            Kind::RingIndex => "ring-index",
            Kind::Scribble => "scribble",
            Kind::Drain => "drain",
            Kind::Syscall => "syscall",
            Kind::HeapFs => "heap-fs",
            Kind::ThreadSpawn => "thread-spawn",
            Kind::ThreadJoin => "thread-join",
            Kind::ProcSpawn => "proc-spawn",
            Kind::ProcWait => "proc-wait",
            Kind::EpCall => "ep-call",
            Kind::EpServe => "ep-serve",
            Kind::Park => "park",
            Kind::Unpark => "unpark",
            Kind::ParkStorm => "park-storm",
            Kind::Sleep => "sleep",
            Kind::TimerStorm => "timer-storm",
            Kind::Measure => "measure",
            Kind::Lethal => "lethal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The mix of a worker thread (per mille-ish; `Lethal` is placed, not drawn).
pub const WORKER_MIX: [(u32, Kind); 18] = [
    (260, Kind::RingCall),
    (30, Kind::RingIndex),
    (12, Kind::Scribble),
    (90, Kind::Drain),
    (70, Kind::Syscall),
    (35, Kind::HeapFs),
    (45, Kind::ThreadSpawn),
    (30, Kind::ThreadJoin),
    (22, Kind::ProcSpawn),
    (22, Kind::ProcWait),
    (55, Kind::EpCall),
    (50, Kind::EpServe),
    (60, Kind::Park),
    (55, Kind::Unpark),
    (18, Kind::ParkStorm),
    (50, Kind::Sleep),
    (18, Kind::TimerStorm),
    (10, Kind::Measure),
];

/// The mix of the short-lived threads a worker starts: no spawning (so the
/// thread tree stays bounded) and nothing lethal.
pub const SUB_MIX: [(u32, Kind); 11] = [
    (30, Kind::RingCall),
    (20, Kind::Drain),
    (15, Kind::Syscall),
    (15, Kind::Park),
    (15, Kind::Unpark),
    (10, Kind::Sleep),
    (10, Kind::EpCall),
    (10, Kind::EpServe),
    (5, Kind::RingIndex),
    (5, Kind::HeapFs),
    (2, Kind::Scribble),
];

/// One planned op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    /// Seeds every random choice of the op.
    pub seed: u64,
}

/// Seed of child `index` of a run.
pub const fn child_seed(run_seed: u64, index: u32) -> u64 {
    derive(run_seed, index as u64)
}

/// Part `i` of `total` split into `parts` nearly equal shares (the first
/// `total % parts` get one more); 0 when `parts` is 0.
pub const fn share(total: u32, parts: u32, i: u32) -> u32 {
    if parts == 0 || i >= parts {
        return 0;
    }
    total / parts + (i < total % parts) as u32
}

/// How long (guest ms) a child's main thread waits for its workers to
/// finish `ops_per_worker` steps before it gives up and exits "stalled".
/// Generous (under TCG at -smp 4 a step takes well under 1 ms): every wait
/// in a step is bounded (a few ms), so only a kernel that fails to end a
/// bounded wait gets anywhere near it.
pub const fn child_deadline_ms(ops_per_worker: u32) -> u64 {
    10_000 + 10 * ops_per_worker as u64
}

/// Steps of the busiest worker of a run (workers of all children run at once).
pub const fn max_ops_per_worker(args: &ParentArgs) -> u32 {
    share(share(args.ops, args.children, 0), args.threads, 0)
}

const WORKER_STREAM: u64 = 0x1000;
const LETHAL_STREAM: u64 = 0xdead;

/// The plan of one child: `threads` workers sharing `ops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildPlan {
    pub seed: u64,
    pub ops: u32,
    pub threads: u32,
    /// (worker, step index) of the child's lethal op, in about half the
    /// children, in the second half of that worker's steps.
    pub lethal: Option<(u32, u32)>,
}

impl ChildPlan {
    pub fn new(seed: u64, ops: u32, threads: u32) -> ChildPlan {
        let mut r = Rng::new(derive(seed, LETHAL_STREAM));
        let lethal = if r.chance(1, 2) && threads > 0 {
            let w = r.below(u64::from(threads)) as u32;
            let budget = share(ops, threads, w);
            // In the second half of the worker's steps: the child's other
            // threads are busy by then, and most of its plan still runs.
            let half = budget / 2;
            (budget > 0).then(|| (w, half + r.below(u64::from(budget - half)) as u32))
        } else {
            None
        };
        ChildPlan { seed, ops, threads, lethal }
    }

    /// The steps of worker `w`.
    pub fn worker(&self, w: u32) -> ThreadPlan {
        let lethal_at = self.lethal.and_then(|(lw, at)| (lw == w).then_some(at));
        ThreadPlan {
            rng: Rng::new(derive(self.seed, WORKER_STREAM + u64::from(w))),
            left: share(self.ops, self.threads, w),
            done: 0,
            lethal_at,
            mix: &WORKER_MIX,
        }
    }
}

/// The steps of one thread, in order.
#[derive(Clone, Debug)]
pub struct ThreadPlan {
    rng: Rng,
    left: u32,
    done: u32,
    lethal_at: Option<u32>,
    mix: &'static [(u32, Kind)],
}

impl ThreadPlan {
    /// The steps of a short-lived thread a worker starts with `seed`.
    pub fn sub(seed: u64, ops: u32) -> ThreadPlan {
        ThreadPlan { rng: Rng::new(seed), left: ops, done: 0, lethal_at: None, mix: &SUB_MIX }
    }
}

impl Iterator for ThreadPlan {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let kind = if self.lethal_at == Some(self.done) {
            Kind::Lethal
        } else {
            self.rng.weighted(self.mix).unwrap_or(Kind::Drain)
        };
        self.done += 1;
        Some(Step { kind, seed: self.rng.next_u64() })
    }
}

/// How many ops of each kind a run plans, and a digest of every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub ops: u64,
    pub counts: [u32; KINDS.len()],
    pub digest: u64,
}

impl Summary {
    pub fn of_run(args: &ParentArgs) -> Summary {
        let mut s = Summary { ops: 0, counts: [0; KINDS.len()], digest: 0 };
        for i in 0..args.children {
            let c = args.child(i);
            let plan = ChildPlan::new(c.seed, c.ops, c.threads);
            for w in 0..c.threads {
                for step in plan.worker(w) {
                    s.ops += 1;
                    s.counts[step.kind.index()] += 1;
                    s.digest = mix(s.digest ^ step.seed ^ (step.kind.index() as u64) << 56);
                }
            }
        }
        s
    }

    pub fn count(&self, k: Kind) -> u32 {
        self.counts[k.index()]
    }
}

/// `ops=N ring-call=A ring-index=B ... lethal=L digest=0x...` (kinds in
/// [`KINDS`] order): the guest prints it, the harness recomputes it.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ops={}", self.ops)?;
        for k in KINDS {
            write!(f, " {}={}", k.name(), self.count(k))?;
        }
        write!(f, " digest={:#018x}", self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(seed: u64, ops: u32, children: u32) -> ParentArgs {
        ParentArgs { seed, ops, children, threads: crate::args::DEFAULT_THREADS }
    }

    #[test]
    fn kinds_are_listed_in_declaration_order() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
        assert!(WORKER_MIX.iter().all(|&(_, k)| k != Kind::Lethal));
        assert!(SUB_MIX
            .iter()
            .all(|&(_, k)| !matches!(k, Kind::Lethal | Kind::ThreadSpawn | Kind::ProcSpawn)));
    }

    #[test]
    fn same_seed_same_plan_different_seed_different_plan() {
        let a = Summary::of_run(&args(11, 5000, 4));
        assert_eq!(a, Summary::of_run(&args(11, 5000, 4)));
        assert_ne!(a.digest, Summary::of_run(&args(12, 5000, 4)).digest);
        assert_eq!(a.ops, 5000);
        assert_eq!(a.counts.iter().map(|&c| u64::from(c)).sum::<u64>(), 5000);
        assert!(a.count(Kind::RingCall) > a.count(Kind::Measure));
        assert!(a.count(Kind::Lethal) <= 4);
    }

    #[test]
    fn every_op_is_planned_once() {
        let p = ChildPlan::new(99, 103, 4);
        let per_worker: Vec<usize> = (0..4).map(|w| p.worker(w).count()).collect();
        assert_eq!(per_worker, vec![26, 26, 26, 25]);
        let lethal: usize =
            (0..4).map(|w| p.worker(w).filter(|s| s.kind == Kind::Lethal).count()).sum();
        assert_eq!(lethal, usize::from(p.lethal.is_some()));
        assert_eq!(ThreadPlan::sub(5, 7).count(), 7);
        assert_eq!(ChildPlan::new(1, 0, 4).lethal, None);
        for seed in 0..200 {
            if let Some((w, at)) = ChildPlan::new(seed, 103, 4).lethal {
                assert!((13..26).contains(&at) || (w == 3 && (12..25).contains(&at)), "{w} {at}");
            }
        }
    }

    #[test]
    fn about_half_the_children_get_a_lethal_op() {
        let n = (0..1000u64).filter(|&s| ChildPlan::new(s, 100, 4).lethal.is_some()).count();
        assert!((400..600).contains(&n), "{n}");
    }

    #[test]
    fn deadlines_grow_with_the_busiest_worker() {
        let a = args(1, 1000, 3);
        assert_eq!(max_ops_per_worker(&a), 84); // 334 ops over 4 workers
        assert!(child_deadline_ms(84) > child_deadline_ms(0));
    }

    #[test]
    fn summary_line_shape() {
        let line = Summary::of_run(&args(1, 10, 1)).to_string();
        assert!(line.starts_with("ops=10 ring-call="), "{line}");
        assert!(line.contains(" lethal="), "{line}");
        let digest = line.rsplit_once(" digest=0x").unwrap().1;
        assert_eq!(digest.len(), 16, "{line}");
    }
}
