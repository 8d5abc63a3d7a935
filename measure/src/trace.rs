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
    /// `a` = previous thread, `b` = next thread, `flags` = previous thread's state.
    ContextSwitch = 0, "context_switch";
    /// `a` = woken thread, `b` = target CPU.
    Wakeup = 1, "wakeup";
    /// `a` = target CPU (or mask), `b` = vector.
    IpiSend = 2, "ipi_send";
    /// `a` = vector, `b` = sending CPU when known.
    IpiRecv = 3, "ipi_recv";
    /// `a` = target CPU mask, `b` = address-space id.
    Shootdown = 4, "shootdown";
    /// `a` = lock id (class/site), `b` = wait cycles.
    LockContendedWait = 5, "lock_contended_wait";
    /// `a` = phase id.
    PhaseMark = 6, "phase_mark";
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

    #[test]
    fn rings_ignore_cpus_out_of_range() {
        let rings: TraceRings<2> = TraceRings::new();
        rings.push(MAX_CPUS, &ev(1));
        rings.push(3, &ev(1));
        assert_eq!(rings.ring(3).map(|r| r.pushed()), Some(1));
        assert!(rings.ring(MAX_CPUS).is_none());
    }
}
