//! The measurement channel: defmt frames on COM2, timestamped with the TSC.
//!
//! The defmt logger takes a real lock with interrupts masked on the calling
//! CPU (acquire/release pair up on one CPU), so frames from different CPUs
//! never interleave. Each measure record travels as the byte payload of one
//! `info!` frame; the host decodes frames with `defmt-decoder` against this
//! kernel's ELF and the payloads with `capos_measure::decode`.

use crate::arch::x86_64::serial::Uart;
use crate::sync::IrqOff;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

const COM2: u16 = 0x2f8;

static LOCKED: AtomicBool = AtomicBool::new(false);

/// State used only by the CPU that holds `LOCKED`.
struct UnderLock<T>(UnsafeCell<T>);

// SAFETY: every access goes through `with`, whose callers hold `LOCKED`
// (taken with interrupts masked), so one CPU at a time touches the value.
unsafe impl<T> Sync for UnderLock<T> {}

impl<T> UnderLock<T> {
    const fn new(v: T) -> Self {
        UnderLock(UnsafeCell::new(v))
    }

    /// # Safety
    /// The caller holds `LOCKED` and is not already inside `with` of the
    /// same value.
    unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: per the contract this is the only reference.
        f(unsafe { &mut *self.0.get() })
    }
}

/// The interrupt mask taken in `acquire`, given back in `release`.
static IRQ: UnderLock<Option<IrqOff>> = UnderLock::new(None);
static ENCODER: UnderLock<defmt::Encoder> = UnderLock::new(defmt::Encoder::new());
static UART: UnderLock<Uart> = UnderLock::new(Uart::new(COM2));
static INIT: spin::Once<()> = spin::Once::new();

defmt::timestamp!("{=u64}", crate::arch::x86_64::cpu::rdtsc());

fn put(bytes: &[u8]) {
    // SAFETY: only called by the encoder between acquire and release, under
    // LOCKED; the encoder never touches the UART itself.
    unsafe {
        UART.with(|uart| {
            for &b in bytes {
                uart.put(b);
            }
        })
    };
}

#[defmt::global_logger]
struct Com2Logger;

// SAFETY: acquire takes a spin lock with interrupts masked and release
// gives it back, so the encoder and UART are used by one CPU at a time and
// never re-entered from an interrupt on that CPU.
unsafe impl defmt::Logger for Com2Logger {
    fn acquire() {
        let irq = IrqOff::new();
        while LOCKED
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        INIT.call_once(|| {
            // SAFETY: we hold the lock.
            unsafe { UART.with(|u| u.init()) }
        });
        // SAFETY: we hold the lock.
        unsafe { IRQ.with(|slot| *slot = Some(irq)) };
        // SAFETY: we hold the lock; `put` reaches only the UART.
        unsafe { ENCODER.with(|e| e.start_frame(put)) };
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: the caller holds the lock (defmt pairs acquire and release
        // on one CPU); `put` reaches only the UART.
        unsafe { ENCODER.with(|e| e.end_frame(put)) };
        // SAFETY: as above.
        let irq = unsafe { IRQ.with(|slot| slot.take()) };
        LOCKED.store(false, Ordering::Release);
        drop(irq);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: the caller holds the lock.
        unsafe { ENCODER.with(|e| e.write(bytes, put)) };
    }
}

/// One measure record as one defmt frame.
pub fn send_record(payload: &[u8]) {
    defmt::info!("{=[u8]}", payload);
}
