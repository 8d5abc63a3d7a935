//! How measured locks report (measure builds only).
//!
//! `sync` sits below everything, `arch` included, so it times its own
//! acquisitions (the TSC, read directly) and hands the figures to a probe
//! the measure subsystem registers at boot; before that, nothing counts.

use super::lock_class::{LockClass, SchedSite};
use spin::Once;

/// The measure subsystem's callbacks for measured locks.
pub struct LockProbe {
    /// A measured lock was taken after `wait` cycles and `spins` failed
    /// tries; `true` when the probe tracks it as held (see `released`).
    pub acquired: fn(LockClass, Option<SchedSite>, wait: u64, spins: u64) -> bool,
    /// A measured lock was held for `hold` cycles; `tracked` is what
    /// `acquired` answered for it.
    pub released: fn(LockClass, Option<SchedSite>, hold: u64, tracked: bool),
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

/// A held lock's statistics, reported when the guard goes.
pub(super) struct Held {
    class: LockClass,
    site: Option<SchedSite>,
    since: u64,
    /// The probe keeps this hold in its held-lock record.
    tracked: bool,
}

impl Held {
    pub(super) fn untracked() -> Held {
        Held { class: LockClass::None, site: None, since: 0, tracked: false }
    }

    pub(super) fn release(&self) {
        if self.class == LockClass::None {
            return;
        }
        if let Some(p) = PROBE.get() {
            (p.released)(self.class, self.site, tsc().saturating_sub(self.since), self.tracked);
        }
    }
}

/// Takes `m`, timing the wait and counting failed tries.
pub(super) fn acquire<'a, T>(
    m: &'a spin::Mutex<T>,
    class: LockClass,
    site: Option<SchedSite>,
) -> (spin::MutexGuard<'a, T>, Held) {
    if class == LockClass::None {
        return (m.lock(), Held::untracked());
    }
    let t0 = tsc();
    let mut spins = 0u64;
    let g = loop {
        if let Some(g) = m.try_lock() {
            break g;
        }
        core::hint::spin_loop();
        spins += 1;
    };
    let now = tsc();
    let tracked =
        PROBE.get().is_some_and(|p| (p.acquired)(class, site, now.saturating_sub(t0), spins));
    (g, Held { class, site, since: now, tracked })
}
