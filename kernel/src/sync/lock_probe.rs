//! How measured locks report (measure builds only).
//!
//! `sync` sits below everything, `arch` included, so it times its own
//! acquisitions (the TSC, read directly) and hands the figures to a probe
//! the measure subsystem registers at boot; before that, nothing counts.
//!
//! Each measured lock also remembers who holds it ([`Owner`]): the CPU and
//! the site that took it, and the CPU that last released it. A waiter reads
//! the holder when its spin starts (the holder that made it wait), and every
//! acquisition compares the last release's CPU with its own (a handoff).

use super::lock_class::{LockClass, SchedSite};
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Once;

/// Who held a lock when a waiter's spin started.
#[derive(Clone, Copy, Debug)]
pub struct Holder {
    pub cpu: u32,
    /// The holder's scheduler-lock site (run-queue locks only).
    pub site: Option<SchedSite>,
}

/// Most frames of a contended acquisition's call stack.
pub const STACK_FRAMES: usize = 16;

/// The call stack of a contended acquisition, taken while it spun.
#[derive(Clone, Copy, Debug)]
pub struct SpinStack {
    pub frames: [u64; STACK_FRAMES],
    pub len: usize,
}

impl SpinStack {
    const EMPTY: SpinStack = SpinStack { frames: [0; STACK_FRAMES], len: 0 };

    pub fn frames(&self) -> &[u64] {
        &self.frames[..self.len.min(STACK_FRAMES)]
    }
}

/// One measured acquisition, as the probe sees it.
#[derive(Clone, Copy, Debug)]
pub struct Acquire {
    /// Cycles spent waiting (0 when the first try took the lock).
    pub wait: u64,
    /// Failed tries; `> 0` means contended.
    pub spins: u64,
    /// The holder seen at the first failed try; `None` when uncontended,
    /// or when the holder had already released (or took the lock without
    /// statistics) by the time the waiter looked.
    pub holder: Option<Holder>,
    /// The lock was last released on another CPU than this one.
    pub handoff: bool,
    /// This CPU.
    pub cpu: u32,
    /// Where it waited (empty when uncontended): walked at the first
    /// failed try, so the walk costs the spin, not the critical section.
    pub stack: SpinStack,
}

/// The measure subsystem's callbacks for measured locks.
pub struct LockProbe {
    /// The calling CPU's index (interrupts are masked, or a `SpinLock`
    /// holder, which the kernel never preempts).
    pub cpu: fn() -> u32,
    /// A measured lock was taken; `true` when the probe tracks it as held
    /// (see `released`).
    pub acquired: fn(LockClass, Option<SchedSite>, Acquire) -> bool,
    /// A measured lock was held for `hold` cycles; `tracked` is what
    /// `acquired` answered for it.
    pub released: fn(LockClass, Option<SchedSite>, hold: u64, tracked: bool),
    /// Walks the calling kernel stack into `frames` (leaf first); returns
    /// the frames written.
    pub walk: fn(&mut [u64; STACK_FRAMES]) -> usize,
}

static PROBE: Once<LockProbe> = Once::new();

/// Registers the probe (once, at boot).
pub fn install(p: LockProbe) {
    PROBE.call_once(|| p);
}

pub(super) fn tsc() -> u64 {
    // SAFETY: `rdtsc` only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

// The owner word: holder CPU + 1 (0: not held by a measured acquisition),
// holder site code (SchedSite + 1, 0: none), last releasing CPU + 1 (0:
// never released).
const HOLDER_CPU: u32 = 0;
const HOLDER_SITE: u32 = 8;
const RELEASED_CPU: u32 = 16;
const BYTE: u32 = 0xff;

/// A measured lock's holder and last releaser, one word written only by
/// the CPU that holds the lock (after taking it, and before unlocking), so
/// plain relaxed stores suffice; waiters only read it.
pub(super) struct Owner(AtomicU32);

impl Owner {
    pub(super) const fn new() -> Self {
        Owner(AtomicU32::new(0))
    }

    fn holder(&self) -> Option<Holder> {
        let w = self.0.load(Ordering::Relaxed);
        let cpu = (w >> HOLDER_CPU) & BYTE;
        let site = (w >> HOLDER_SITE) & BYTE;
        (cpu != 0).then(|| Holder {
            cpu: cpu - 1,
            site: site.checked_sub(1).and_then(|c| SchedSite::from_code(c as u8)),
        })
    }

    /// Marks the lock held by `cpu` at `site`; answers whether it was last
    /// released on another CPU.
    fn take(&self, cpu: u32, site: Option<SchedSite>) -> bool {
        let w = self.0.load(Ordering::Relaxed);
        let released = (w >> RELEASED_CPU) & BYTE;
        let code = site.map_or(0, |s| s.code() as u32 + 1);
        let me = (cpu + 1) & BYTE;
        self.0.store(
            me << HOLDER_CPU | code << HOLDER_SITE | released << RELEASED_CPU,
            Ordering::Relaxed,
        );
        released != 0 && released != me
    }

    /// Marks the lock free, last released by `cpu` (before it unlocks).
    fn give(&self, cpu: u32) {
        self.0.store(((cpu + 1) & BYTE) << RELEASED_CPU, Ordering::Relaxed);
    }
}

/// A held lock's statistics, reported when the guard goes.
pub(super) struct Held<'a> {
    class: LockClass,
    site: Option<SchedSite>,
    since: u64,
    /// The probe keeps this hold in its held-lock record.
    tracked: bool,
    /// The lock's owner word, when this acquisition wrote it.
    owner: Option<&'a Owner>,
}

impl Held<'_> {
    pub(super) fn untracked() -> Self {
        Held { class: LockClass::None, site: None, since: 0, tracked: false, owner: None }
    }

    /// Clears the holder; call while still holding the lock.
    pub(super) fn releasing(&self) {
        if let (Some(o), Some(p)) = (self.owner, PROBE.get()) {
            o.give((p.cpu)());
        }
    }

    /// Reports the hold; call after unlocking.
    pub(super) fn release(&self) {
        if self.class == LockClass::None {
            return;
        }
        if let Some(p) = PROBE.get() {
            (p.released)(self.class, self.site, tsc().saturating_sub(self.since), self.tracked);
        }
    }
}

/// Takes `m`, timing the wait, counting failed tries, reading the holder
/// that made it wait and marking itself the holder.
pub(super) fn acquire<'a, T>(
    m: &'a spin::Mutex<T>,
    owner: &'a Owner,
    class: LockClass,
    site: Option<SchedSite>,
) -> (spin::MutexGuard<'a, T>, Held<'a>) {
    let probe = PROBE.get();
    let Some(p) = probe.filter(|_| class != LockClass::None) else {
        return (m.lock(), Held::untracked());
    };
    let t0 = tsc();
    let mut spins = 0u64;
    let mut holder = None;
    let mut stack = SpinStack::EMPTY;
    let g = loop {
        if let Some(g) = m.try_lock() {
            break g;
        }
        if spins == 0 {
            holder = owner.holder();
            stack.len = (p.walk)(&mut stack.frames);
        }
        core::hint::spin_loop();
        spins += 1;
    };
    let now = tsc();
    let cpu = (p.cpu)();
    let handoff = owner.take(cpu, site);
    let a = Acquire { wait: now.saturating_sub(t0), spins, holder, handoff, cpu, stack };
    let tracked = (p.acquired)(class, site, a);
    // The hold starts after the probe's bookkeeping (for a contended take
    // that includes a stack walk): the instrument's work is not the
    // critical section's.
    (g, Held { class, site, since: tsc(), tracked, owner: Some(owner) })
}
