use super::lock_class::{LockClass, SchedSite, SharedClass};
use super::IrqOff;
use core::ops::{Deref, DerefMut};

pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
    #[cfg_attr(not(feature = "measure"), allow(dead_code))]
    class: LockClass,
    /// Who holds it and who last released it (measure builds only).
    #[cfg(feature = "measure")]
    owner: super::lock_probe::Owner,
}

pub struct IrqSpinLockGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    /// Dropped after the lock is released (field order), restoring interrupts.
    irq: Option<IrqOff>,
    #[cfg(feature = "measure")]
    stat: super::lock_probe::Held<'a>,
}

impl<T> IrqSpinLock<T> {
    /// A lock whose acquisitions are counted under `class` in measure builds.
    /// There is no unclassed constructor: every kernel lock is measured.
    pub const fn measured(value: T, class: LockClass) -> Self {
        IrqSpinLock {
            inner: spin::Mutex::new(value),
            class,
            #[cfg(feature = "measure")]
            owner: super::lock_probe::Owner::new(),
        }
    }

    /// A measured lock of shared-kernel-lock class `c`.
    pub const fn shared(value: T, c: SharedClass) -> Self {
        Self::measured(value, LockClass::Shared(c))
    }

    /// Takes the lock. Run-queue locks are taken with [`Self::lock_at`]
    /// instead: a run-queue acquisition without a site counts in the
    /// `scheduler_lock` totals only, which `measure check` reports as a
    /// site-sum mismatch.
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        self.lock_with(None)
    }

    /// Takes the lock, attributing it to `site` (for a scheduler lock).
    pub fn lock_at(&self, site: SchedSite) -> IrqSpinLockGuard<'_, T> {
        self.lock_with(Some(site))
    }

    #[cfg_attr(not(feature = "measure"), allow(unused_variables))]
    fn lock_with(&self, site: Option<SchedSite>) -> IrqSpinLockGuard<'_, T> {
        let irq = Some(IrqOff::new());
        #[cfg(feature = "measure")]
        {
            let (guard, stat) =
                super::lock_probe::acquire(&self.inner, &self.owner, self.class, site);
            IrqSpinLockGuard { guard: Some(guard), irq, stat }
        }
        #[cfg(not(feature = "measure"))]
        IrqSpinLockGuard { guard: Some(self.inner.lock()), irq }
    }

    /// Tries for about `spins` iterations; `None` if the lock stayed held.
    pub fn try_lock_for_spins(&self, spins: u64) -> Option<IrqSpinLockGuard<'_, T>> {
        let irq = IrqOff::new();
        for _ in 0..spins {
            if let Some(g) = self.inner.try_lock() {
                return Some(IrqSpinLockGuard {
                    guard: Some(g),
                    irq: Some(irq),
                    #[cfg(feature = "measure")]
                    stat: super::lock_probe::Held::untracked(),
                });
            }
            core::hint::spin_loop();
        }
        None
    }
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T> Drop for IrqSpinLockGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(feature = "measure")]
        self.stat.releasing();
        drop(self.guard.take());
        #[cfg(feature = "measure")]
        self.stat.release();
        drop(self.irq.take());
    }
}
