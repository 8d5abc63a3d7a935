//! A measured spin lock that leaves interrupts as they are.
//!
//! For the few locks held across work that needs other CPUs' interrupts (a
//! mapping that may shoot down TLBs): a CPU spinning on such a lock with
//! interrupts masked could never acknowledge the shootdown its holder is
//! waiting for. Everything else uses [`super::IrqSpinLock`].

use super::lock_class::{LockClass, SharedClass};
use core::ops::{Deref, DerefMut};

pub struct SpinLock<T> {
    inner: spin::Mutex<T>,
    #[cfg_attr(not(feature = "measure"), allow(dead_code))]
    class: LockClass,
    /// Who holds it and who last released it (measure builds only).
    #[cfg(feature = "measure")]
    owner: super::lock_probe::Owner,
}

pub struct SpinLockGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    #[cfg(feature = "measure")]
    stat: super::lock_probe::Held<'a>,
}

impl<T> SpinLock<T> {
    /// A lock of shared-kernel-lock class `c` (measured in measure builds).
    pub const fn shared(value: T, c: SharedClass) -> Self {
        SpinLock {
            inner: spin::Mutex::new(value),
            class: LockClass::Shared(c),
            #[cfg(feature = "measure")]
            owner: super::lock_probe::Owner::new(),
        }
    }

    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        #[cfg(feature = "measure")]
        {
            let (guard, stat) =
                super::lock_probe::acquire(&self.inner, &self.owner, self.class, None);
            SpinLockGuard { guard: Some(guard), stat }
        }
        #[cfg(not(feature = "measure"))]
        SpinLockGuard { guard: Some(self.inner.lock()) }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(feature = "measure")]
        self.stat.releasing();
        drop(self.guard.take());
        #[cfg(feature = "measure")]
        self.stat.release();
    }
}
