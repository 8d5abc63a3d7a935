//! Per-CPU trace rings of fixed-size events.
//!
//! Each CPU writes only its own ring, with interrupts off (the kernel's
//! probes guarantee that), so a push is plain Relaxed stores and one store
//! of the head: no locked instruction. When full, the oldest event is
//! overwritten; `dropped` is how many were lost that way. Readers on other
//! CPUs (the final report) may see a torn event if the owner is writing at
//! that moment; the report is taken after the measured section ends.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CPUS;

const R: Ordering = Ordering::Relaxed;

macro_rules! trace_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $name:literal; )+) => {
        /// What a trace event records; `a`, `b` and `flags` per kind below.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum TraceKind { $( $(#[$doc])* $variant = $id ),+ }

        impl TraceKind {
            pub const ALL: &'static [TraceKind] = &[ $( TraceKind::$variant ),+ ];
            pub const fn name(self) -> &'static str {
                match self { $( TraceKind::$variant => $name ),+ }
            }
            pub fn from_id(id: u8) -> Option<TraceKind> {
                match id { $( $id => Some(TraceKind::$variant), )+ _ => None }
            }
            pub fn from_name(name: &str) -> Option<TraceKind> {
                match name { $( $name => Some(TraceKind::$variant), )+ _ => None }
            }
        }
    };
}

trace_kinds! {
    /// A thread left the CPU: see [`TraceArgs::ContextSwitch`].
    ContextSwitch = 0, "context_switch";
    /// A blocked thread was made runnable: see [`TraceArgs::Wakeup`].
    Wakeup = 1, "wakeup";
    /// An IPI was sent: see [`TraceArgs::IpiSend`].
    IpiSend = 2, "ipi_send";
    /// An IPI arrived: see [`TraceArgs::IpiRecv`].
    IpiRecv = 3, "ipi_recv";
    /// A TLB shootdown was requested: see [`TraceArgs::Shootdown`].
    Shootdown = 4, "shootdown";
    /// A lock was taken after waiting: see [`TraceArgs::LockContendedWait`].
    LockContendedWait = 5, "lock_contended_wait";
    /// A phase began: see [`TraceArgs::PhaseMark`].
    PhaseMark = 6, "phase_mark";
    /// A run queue's length changed: see [`TraceArgs::RunQueue`].
    RunQueue = 7, "run_queue";
}

/// The `queue` of [`TraceArgs::RunQueue`] for the one global run queue
/// (`sched=global`); per-CPU queues are named by their CPU.
pub const GLOBAL_QUEUE: u8 = u8::MAX;

/// What a trace event says, with its arguments named: the one place that
/// maps a kind's meaning onto the ring's `a`, `b` and `flags` slots. The
/// kernel builds events only through [`TraceArgs::event`] and readers only
/// through [`TraceEvent::args`], so the two cannot disagree on an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceArgs {
    /// The CPU switched from `prev` to `next` (thread refs); `prev_state` is
    /// the state `prev` left in (the kernel's `State` as a number).
    ContextSwitch { prev: u64, next: u64, prev_state: u8 },
    /// `thread` was made runnable and queued on `target_cpu`; the event's own
    /// CPU is the waker's, and `waker` is the thread that woke it (0 when an
    /// interrupt handler did).
    Wakeup { thread: u64, target_cpu: u8, waker: u64 },
    /// An IPI with `vector` was sent to `target_cpu`.
    IpiSend { target_cpu: u64, vector: u8 },
    /// An IPI with `vector` arrived from `sender_cpu` (`u64::MAX`: unknown).
    IpiRecv { vector: u8, sender_cpu: u64 },
    /// A TLB shootdown of `address_space` (its page-table root) went to the
    /// CPUs in `cpu_mask`.
    Shootdown { cpu_mask: u64, address_space: u64 },
    /// The lock `lock` (a [`LockId`]) was taken after `wait_cycles`.
    LockContendedWait { lock: LockId, wait_cycles: u64 },
    /// Run queue `queue` (a CPU's, or [`GLOBAL_QUEUE`]) now holds `len`
    /// threads: one event per enqueue, pick and steal, stamped under the
    /// queue's lock, so one queue's events are in the order of its changes
    /// (the event's own CPU is the one that changed it).
    RunQueue { queue: u8, len: u64 },
    /// Phase `phase` began at `mark_tsc` (the TSC user space passed).
    PhaseMark { phase: u8, mark_tsc: u64 },
}

/// A measured lock as trace events name it: its family and the index of its
/// site (scheduler locks) or class (shared kernel locks) in the catalogue
/// dimension of that family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockId {
    pub class: crate::record::ContentionClass,
    pub index: u8,
}

impl LockId {
    /// Packed as `class << 8 | index`.
    pub const fn to_u64(self) -> u64 {
        (self.class as u64) << 8 | self.index as u64
    }

    pub fn from_u64(v: u64) -> Option<LockId> {
        let class = crate::record::ContentionClass::from_id(u8::try_from(v >> 8).ok()?)?;
        Some(LockId { class, index: v as u8 })
    }

    /// `scheduler_lock site=timer_select`, `shared_kernel_lock lock=heap`,
    /// or `None` for an index the catalogue does not know.
    pub fn label(self) -> Option<alloc::string::String> {
        use crate::catalogue::{SchedLockSite, SharedLock};
        use crate::declare::Dimension;
        use crate::record::ContentionClass;
        let key = match self.class {
            ContentionClass::SchedulerLock => SchedLockSite::DESC.key,
            ContentionClass::SharedKernelLock => SharedLock::DESC.key,
        };
        let name = self.class.lock_name(self.index)?;
        Some(alloc::format!("{} {key}={name}", self.class.name()))
    }
}

impl TraceArgs {
    pub const fn kind(&self) -> TraceKind {
        match self {
            TraceArgs::ContextSwitch { .. } => TraceKind::ContextSwitch,
            TraceArgs::Wakeup { .. } => TraceKind::Wakeup,
            TraceArgs::IpiSend { .. } => TraceKind::IpiSend,
            TraceArgs::IpiRecv { .. } => TraceKind::IpiRecv,
            TraceArgs::Shootdown { .. } => TraceKind::Shootdown,
            TraceArgs::LockContendedWait { .. } => TraceKind::LockContendedWait,
            TraceArgs::PhaseMark { .. } => TraceKind::PhaseMark,
            TraceArgs::RunQueue { .. } => TraceKind::RunQueue,
        }
    }

    /// The ring slots `(a, b, flags)`. `Wakeup` keeps its target CPU in
    /// `flags` (CPUs fit a byte).
    const fn slots(&self) -> (u64, u64, u8) {
        match *self {
            TraceArgs::ContextSwitch { prev, next, prev_state } => (prev, next, prev_state),
            TraceArgs::Wakeup { thread, target_cpu, waker } => (thread, waker, target_cpu),
            TraceArgs::IpiSend { target_cpu, vector } => (target_cpu, vector as u64, 0),
            TraceArgs::IpiRecv { vector, sender_cpu } => (vector as u64, sender_cpu, 0),
            TraceArgs::Shootdown { cpu_mask, address_space } => (cpu_mask, address_space, 0),
            TraceArgs::LockContendedWait { lock, wait_cycles } => (lock.to_u64(), wait_cycles, 0),
            TraceArgs::PhaseMark { phase, mark_tsc } => (phase as u64, mark_tsc, 0),
            TraceArgs::RunQueue { queue, len } => (len, 0, queue),
        }
    }

    /// The event, stamped with `tsc` on `cpu`.
    pub const fn event(&self, tsc: u64, cpu: u8) -> TraceEvent {
        let (a, b, flags) = self.slots();
        TraceEvent { tsc, kind: self.kind(), cpu, flags, a, b }
    }

    /// The inverse of [`TraceArgs::named`]: `values` in `named()` order
    /// (`None` if a count or a value does not fit the kind).
    pub fn from_values(kind: TraceKind, values: &[u64]) -> Option<TraceArgs> {
        let byte = |v: u64| u8::try_from(v).ok();
        Some(match (kind, values) {
            (TraceKind::ContextSwitch, &[prev, next, state]) => {
                TraceArgs::ContextSwitch { prev, next, prev_state: byte(state)? }
            }
            (TraceKind::Wakeup, &[thread, cpu, waker]) => {
                TraceArgs::Wakeup { thread, target_cpu: byte(cpu)?, waker }
            }
            (TraceKind::IpiSend, &[target_cpu, vector]) => {
                TraceArgs::IpiSend { target_cpu, vector: byte(vector)? }
            }
            (TraceKind::IpiRecv, &[vector, sender_cpu]) => {
                TraceArgs::IpiRecv { vector: byte(vector)?, sender_cpu }
            }
            (TraceKind::Shootdown, &[cpu_mask, address_space]) => {
                TraceArgs::Shootdown { cpu_mask, address_space }
            }
            (TraceKind::LockContendedWait, &[lock, wait_cycles]) => {
                TraceArgs::LockContendedWait { lock: LockId::from_u64(lock)?, wait_cycles }
            }
            (TraceKind::PhaseMark, &[phase, mark_tsc]) => {
                TraceArgs::PhaseMark { phase: byte(phase)?, mark_tsc }
            }
            (TraceKind::RunQueue, &[queue, len]) => {
                TraceArgs::RunQueue { queue: byte(queue)?, len }
            }
            _ => return None,
        })
    }

    /// A kind's argument names, in `named()` order.
    pub fn names(kind: TraceKind) -> alloc::vec::Vec<&'static str> {
        let zero = match kind {
            TraceKind::ContextSwitch => {
                TraceArgs::ContextSwitch { prev: 0, next: 0, prev_state: 0 }
            }
            TraceKind::Wakeup => TraceArgs::Wakeup { thread: 0, target_cpu: 0, waker: 0 },
            TraceKind::IpiSend => TraceArgs::IpiSend { target_cpu: 0, vector: 0 },
            TraceKind::IpiRecv => TraceArgs::IpiRecv { vector: 0, sender_cpu: 0 },
            TraceKind::Shootdown => TraceArgs::Shootdown { cpu_mask: 0, address_space: 0 },
            TraceKind::LockContendedWait => TraceArgs::LockContendedWait {
                lock: LockId { class: crate::record::ContentionClass::SchedulerLock, index: 0 },
                wait_cycles: 0,
            },
            TraceKind::PhaseMark => TraceArgs::PhaseMark { phase: 0, mark_tsc: 0 },
            TraceKind::RunQueue => TraceArgs::RunQueue { queue: 0, len: 0 },
        };
        zero.named().into_iter().map(|(n, _)| n).collect()
    }

    /// The arguments by name, in declaration order (for text and JSON).
    pub fn named(&self) -> alloc::vec::Vec<(&'static str, u64)> {
        match *self {
            TraceArgs::ContextSwitch { prev, next, prev_state } => {
                alloc::vec![("prev", prev), ("next", next), ("prev_state", prev_state as u64)]
            }
            TraceArgs::Wakeup { thread, target_cpu, waker } => {
                alloc::vec![("thread", thread), ("target_cpu", target_cpu as u64), ("waker", waker)]
            }
            TraceArgs::IpiSend { target_cpu, vector } => {
                alloc::vec![("target_cpu", target_cpu), ("vector", vector as u64)]
            }
            TraceArgs::IpiRecv { vector, sender_cpu } => {
                alloc::vec![("vector", vector as u64), ("sender_cpu", sender_cpu)]
            }
            TraceArgs::Shootdown { cpu_mask, address_space } => {
                alloc::vec![("cpu_mask", cpu_mask), ("address_space", address_space)]
            }
            TraceArgs::LockContendedWait { lock, wait_cycles } => {
                alloc::vec![("lock", lock.to_u64()), ("wait_cycles", wait_cycles)]
            }
            TraceArgs::PhaseMark { phase, mark_tsc } => {
                alloc::vec![("phase", phase as u64), ("mark_tsc", mark_tsc)]
            }
            TraceArgs::RunQueue { queue, len } => {
                alloc::vec![("queue", queue as u64), ("len", len)]
            }
        }
    }
}

/// One trace event (32 bytes in the ring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub tsc: u64,
    pub kind: TraceKind,
    pub cpu: u8,
    pub flags: u8,
    pub a: u64,
    pub b: u64,
}

impl TraceEvent {
    /// The event's arguments by name; `None` when a slot holds a value its
    /// kind cannot carry (a torn or foreign event).
    pub fn args(&self) -> Option<TraceArgs> {
        let (a, b, flags) = (self.a, self.b, self.flags);
        let byte = |v: u64| u8::try_from(v).ok();
        Some(match self.kind {
            TraceKind::ContextSwitch => {
                TraceArgs::ContextSwitch { prev: a, next: b, prev_state: flags }
            }
            TraceKind::Wakeup => TraceArgs::Wakeup { thread: a, target_cpu: flags, waker: b },
            TraceKind::IpiSend => TraceArgs::IpiSend { target_cpu: a, vector: byte(b)? },
            TraceKind::IpiRecv => TraceArgs::IpiRecv { vector: byte(a)?, sender_cpu: b },
            TraceKind::Shootdown => TraceArgs::Shootdown { cpu_mask: a, address_space: b },
            TraceKind::LockContendedWait => {
                TraceArgs::LockContendedWait { lock: LockId::from_u64(a)?, wait_cycles: b }
            }
            TraceKind::PhaseMark => TraceArgs::PhaseMark { phase: byte(a)?, mark_tsc: b },
            TraceKind::RunQueue if b == 0 => TraceArgs::RunQueue { queue: flags, len: a },
            TraceKind::RunQueue => return None,
        })
    }
}

/// One CPU's ring of `N` events.
pub struct TraceRing<const N: usize> {
    head: AtomicU64,
    events: [[AtomicU64; 4]; N],
}

impl<const N: usize> Default for TraceRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TraceRing<N> {
    pub const fn new() -> Self {
        TraceRing {
            head: AtomicU64::new(0),
            events: [const { [const { AtomicU64::new(0) }; 4] }; N],
        }
    }

    /// Appends an event, overwriting the oldest when full. Owner CPU only,
    /// interrupts off.
    pub fn push(&self, e: &TraceEvent) {
        if N == 0 {
            return;
        }
        let head = self.head.load(R);
        let cell = &self.events[(head % N as u64) as usize];
        cell[0].store(e.tsc, R);
        cell[1].store(e.kind as u64 | (e.cpu as u64) << 8 | (e.flags as u64) << 16, R);
        cell[2].store(e.a, R);
        cell[3].store(e.b, R);
        self.head.store(head + 1, Ordering::Release);
    }

    /// Events lost to overwriting.
    pub fn dropped(&self) -> u64 {
        self.head.load(Ordering::Acquire).saturating_sub(N as u64)
    }

    /// Events ever pushed.
    pub fn pushed(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// The retained events, oldest first.
    pub fn events(&self) -> impl Iterator<Item = TraceEvent> + '_ {
        let head = self.head.load(Ordering::Acquire);
        let first = head.saturating_sub(N as u64);
        (first..head).filter_map(move |i| {
            let cell = &self.events[(i % N as u64) as usize];
            let packed = cell[1].load(R);
            Some(TraceEvent {
                tsc: cell[0].load(R),
                kind: TraceKind::from_id(packed as u8)?,
                cpu: (packed >> 8) as u8,
                flags: (packed >> 16) as u8,
                a: cell[2].load(R),
                b: cell[3].load(R),
            })
        })
    }
}

/// One ring per CPU.
pub struct TraceRings<const N: usize> {
    rings: [TraceRing<N>; MAX_CPUS],
}

impl<const N: usize> Default for TraceRings<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TraceRings<N> {
    pub const fn new() -> Self {
        TraceRings { rings: [const { TraceRing::new() }; MAX_CPUS] }
    }

    /// Pushes `event` on `cpu`'s ring (ignored for CPUs out of range).
    pub fn push(&self, cpu: usize, event: &TraceEvent) {
        if let Some(ring) = self.rings.get(cpu) {
            ring.push(event);
        }
    }

    pub fn ring(&self, cpu: usize) -> Option<&TraceRing<N>> {
        self.rings.get(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(tsc: u64) -> TraceEvent {
        TraceEvent { tsc, kind: TraceKind::ContextSwitch, cpu: 1, flags: 3, a: tsc * 2, b: tsc * 3 }
    }

    #[test]
    fn ring_keeps_order_until_full() {
        let r: TraceRing<4> = TraceRing::new();
        for t in 0..3 {
            r.push(&ev(t));
        }
        assert_eq!(r.events().collect::<Vec<_>>(), vec![ev(0), ev(1), ev(2)]);
        assert_eq!(r.dropped(), 0);
    }

    #[test]
    fn ring_overwrites_oldest_and_counts_dropped() {
        let r: TraceRing<4> = TraceRing::new();
        for t in 0..10 {
            r.push(&ev(t));
        }
        assert_eq!(r.events().map(|e| e.tsc).collect::<Vec<_>>(), vec![6, 7, 8, 9]);
        assert_eq!(r.dropped(), 6);
        assert_eq!(r.pushed(), 10);
    }

    #[test]
    fn kinds_round_trip() {
        for k in TraceKind::ALL {
            assert_eq!(TraceKind::from_id(*k as u8), Some(*k));
            assert_eq!(TraceKind::from_name(k.name()), Some(*k));
        }
        assert_eq!(TraceKind::from_id(200), None);
    }

    fn every_kind() -> Vec<TraceArgs> {
        use crate::record::ContentionClass;
        vec![
            TraceArgs::ContextSwitch { prev: 1 << 40 | 3, next: 7, prev_state: 2 },
            TraceArgs::Wakeup { thread: 5 << 32 | 9, target_cpu: 3, waker: 2 << 32 | 1 },
            TraceArgs::IpiSend { target_cpu: 2, vector: 0xf0 },
            TraceArgs::IpiRecv { vector: 0xf0, sender_cpu: 1 },
            TraceArgs::Shootdown { cpu_mask: 0b1010, address_space: 0x1234_5000 },
            TraceArgs::LockContendedWait {
                lock: LockId { class: ContentionClass::SharedKernelLock, index: 1 },
                wait_cycles: 98_765,
            },
            TraceArgs::PhaseMark { phase: 2, mark_tsc: 1 << 50 },
            TraceArgs::RunQueue { queue: GLOBAL_QUEUE, len: 3 },
        ]
    }

    #[test]
    fn named_arguments_round_trip_through_the_ring_slots() {
        let args = every_kind();
        assert_eq!(args.len(), TraceKind::ALL.len(), "a kind without a round-trip case");
        for a in args {
            let e = a.event(77, 3);
            assert_eq!((e.kind, e.tsc, e.cpu), (a.kind(), 77, 3));
            assert_eq!(e.args(), Some(a), "{a:?}");
            let values: Vec<u64> = a.named().into_iter().map(|(_, v)| v).collect();
            assert_eq!(TraceArgs::from_values(a.kind(), &values), Some(a));
            let names: Vec<&str> = a.named().into_iter().map(|(n, _)| n).collect();
            assert_eq!(TraceArgs::names(a.kind()), names);
        }
    }

    #[test]
    fn arguments_land_in_the_slots_the_docs_name() {
        let e = TraceArgs::IpiRecv { vector: 0xf0, sender_cpu: 1 }.event(0, 2);
        assert_eq!((e.a, e.b), (0xf0, 1));
        let site = crate::catalogue::SchedLockSite::TimerSelect as u8;
        let lock = LockId { class: crate::record::ContentionClass::SchedulerLock, index: site };
        let e = TraceArgs::LockContendedWait { lock, wait_cycles: 500 }.event(0, 0);
        assert_eq!((e.a, e.b), (site as u64, 500));
        assert_eq!(lock.label().as_deref(), Some("scheduler_lock site=timer_select"));
        let e = TraceArgs::Wakeup { thread: 9, target_cpu: 1, waker: 4 }.event(0, 0);
        assert_eq!((e.a, e.b, e.flags), (9, 4, 1));
    }

    #[test]
    fn impossible_slot_values_decode_to_none() {
        let mut e = TraceArgs::IpiRecv { vector: 1, sender_cpu: 0 }.event(0, 0);
        e.a = 0x1_00;
        assert_eq!(e.args(), None);
        let mut e = TraceArgs::LockContendedWait {
            lock: LockId { class: crate::record::ContentionClass::SchedulerLock, index: 0 },
            wait_cycles: 1,
        }
        .event(0, 0);
        e.a = 9 << 8;
        assert_eq!(e.args(), None);
    }

    #[test]
    fn rings_ignore_cpus_out_of_range() {
        let rings: TraceRings<2> = TraceRings::new();
        rings.push(MAX_CPUS, &ev(1));
        rings.push(3, &ev(1));
        assert_eq!(rings.ring(3).map(|r| r.pushed()), Some(1));
        assert!(rings.ring(MAX_CPUS).is_none());
    }
}
