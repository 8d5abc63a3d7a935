//! TSC frequency, calibrated against PIT channel 2.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
const PIT_HZ: u64 = 1_193_182;

/// Busy-waits `ticks` PIT ticks (at most 0xffff) on channel 2.
fn pit_wait(ticks: u16) {
    // SAFETY: ports 0x42, 0x43 and 0x61 are PIT channel 2 and its gate; the
    // kernel uses channel 2 only here, on the BSP, before other CPUs run.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01);
        Port::<u8>::new(0x43).write(0xb0);
        Port::<u8>::new(0x42).write(ticks as u8);
        Port::<u8>::new(0x42).write((ticks >> 8) as u8);
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
    }
}

/// Measures the TSC rate over three 10 ms PIT windows and keeps the median.
pub fn calibrate() -> u64 {
    let ticks = (PIT_HZ / 100) as u16;
    let mut rates = [0u64; 3];
    for r in rates.iter_mut() {
        let t0 = super::cpu::rdtsc();
        pit_wait(ticks);
        let t1 = super::cpu::rdtsc();
        *r = (t1 - t0) * PIT_HZ / ticks as u64;
    }
    rates.sort_unstable();
    TSC_HZ.store(rates[1], Ordering::Relaxed);
    rates[1]
}

pub fn hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// TSC ticks -> microseconds (0 before calibration).
pub fn ticks_to_us(ticks: u64) -> u64 {
    match hz() {
        0 => 0,
        hz => (ticks as u128 * 1_000_000 / hz as u128) as u64,
    }
}
