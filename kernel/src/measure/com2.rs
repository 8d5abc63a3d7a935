//! The measurement channel: defmt frames on COM2, timestamped with the TSC.
//!
//! The defmt logger takes a real lock with interrupts masked on the calling
//! CPU (acquire/release pair up on one CPU), so frames from different CPUs
//! never interleave. Each measure record travels as the byte payload of one
//! `info!` frame; the host decodes frames with `defmt-decoder` against this
//! kernel's ELF and the payloads with `capos_measure::decode`.

use crate::arch::x86_64::serial::Uart;
use capos_measure::catalogue::{serial, SerialChannel};
use core::sync::atomic::{AtomicBool, Ordering};

const COM2: u16 = 0x2f8;

static LOCKED: AtomicBool = AtomicBool::new(false);
/// The interrupt mask taken in `acquire`, given back in `release`.
static mut IRQ: Option<crate::sync::IrqOff> = None;
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();
static mut UART: Uart = Uart::new(COM2);
static INIT: spin::Once<()> = spin::Once::new();

defmt::timestamp!("{=u64}", crate::arch::x86_64::cpu::rdtsc());

fn put(bytes: &[u8]) {
    // SAFETY: only called between acquire and release, under LOCKED.
    let uart = unsafe { &mut *(&raw mut UART) };
    for &b in bytes {
        uart.put(b);
    }
    super::add(serial::bytes.at(SerialChannel::Com2), bytes.len() as u64);
}

#[defmt::global_logger]
struct Com2Logger;

// SAFETY: acquire takes a spin lock with interrupts masked and release
// gives it back, so the encoder and UART are used by one CPU at a time and
// never re-entered from an interrupt on that CPU.
unsafe impl defmt::Logger for Com2Logger {
    fn acquire() {
        let irq = crate::sync::IrqOff::new();
        while LOCKED.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        INIT.call_once(|| {
            // SAFETY: we hold the lock.
            unsafe { (*(&raw mut UART)).init() };
        });
        // SAFETY: we hold the lock.
        unsafe {
            *(&raw mut IRQ) = Some(irq);
            (*(&raw mut ENCODER)).start_frame(put);
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: the caller holds the lock (defmt pairs acquire/release).
        let irq = unsafe {
            (*(&raw mut ENCODER)).end_frame(put);
            (*(&raw mut IRQ)).take()
        };
        LOCKED.store(false, Ordering::Release);
        drop(irq);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: the caller holds the lock.
        unsafe { (*(&raw mut ENCODER)).write(bytes, put) };
    }
}

/// One measure record as one defmt frame.
pub fn send_record(payload: &[u8]) {
    defmt::info!("{=[u8]}", payload);
}
