use core::ops::{Deref, DerefMut};
use x86_64::instructions::interrupts;

pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqSpinLockGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    irqs_were_enabled: bool,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock { inner: spin::Mutex::new(value) }
    }

    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let irqs_were_enabled = interrupts::are_enabled();
        interrupts::disable();
        IrqSpinLockGuard { guard: Some(self.inner.lock()), irqs_were_enabled }
    }

    /// Tries for about `spins` iterations; `None` if the lock stayed held.
    pub fn try_lock_for_spins(&self, spins: u64) -> Option<IrqSpinLockGuard<'_, T>> {
        let irqs_were_enabled = interrupts::are_enabled();
        interrupts::disable();
        for _ in 0..spins {
            if let Some(g) = self.inner.try_lock() {
                return Some(IrqSpinLockGuard { guard: Some(g), irqs_were_enabled });
            }
            core::hint::spin_loop();
        }
        if irqs_were_enabled {
            interrupts::enable();
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
        drop(self.guard.take());
        if self.irqs_were_enabled {
            interrupts::enable();
        }
    }
}
