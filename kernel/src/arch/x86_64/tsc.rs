//! TSC frequency, calibrated against PIT channel 2.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
const PIT_HZ: u64 = 1_193_182;

/// A counter read together with the TSC: `tsc` is the middle of the two
/// TSC reads around the counter read, `bracket` their distance.
#[derive(Clone, Copy)]
pub(super) struct Reading<T> {
    pub tsc: u64,
    pub bracket: u64,
    pub value: T,
}

/// Reads a counter `tries` times between two TSC reads each and keeps the
/// tightest pair. A pair is exact to within its bracket however long the
/// CPU was away before or after it (under TCG, or on a busy host, a vCPU
/// may not run for milliseconds), so a rate computed from two readings
/// does not count that time against one clock only.
pub(super) fn read_with_tsc<T>(tries: u32, mut read: impl FnMut() -> T) -> Reading<T> {
    let mut one = || {
        let t0 = super::cpu::rdtsc();
        let value = read();
        let t1 = super::cpu::rdtsc();
        let bracket = t1.saturating_sub(t0);
        Reading { tsc: t0 + bracket / 2, bracket, value }
    };
    let mut best = one();
    for _ in 1..tries {
        let r = one();
        if r.bracket < best.bracket {
            best = r;
        }
    }
    best
}

const PIT_CONTROL: u16 = 0x43;
const PIT_CHANNEL2: u16 = 0x42;
const PIT_GATE: u16 = 0x61;
/// Port 0x61: channel 2 gate (bit 0), speaker (bit 1), channel 2 output (bit 5).
const GATE2: u8 = 0x01;
const SPEAKER: u8 = 0x02;
const OUT2: u8 = 0x20;
/// PIT ticks per calibration window (25 ms), below the 16-bit counter's
/// wrap (55 ms).
const WINDOW: u16 = 30_000;

/// Starts channel 2 counting down from 0xffff in mode 0 (its output goes
/// high when the count reaches 0 and stays high).
fn pit2_start() {
    // SAFETY: ports 0x42, 0x43 and 0x61 are PIT channel 2 and its gate; the
    // kernel uses channel 2 only here, on the BSP, before other CPUs run.
    unsafe {
        let mut gate = Port::<u8>::new(PIT_GATE);
        let g = gate.read();
        gate.write((g & !SPEAKER) | GATE2);
        Port::<u8>::new(PIT_CONTROL).write(0xb0); // channel 2, lo/hi byte, mode 0
        Port::<u8>::new(PIT_CHANNEL2).write(0xff);
        Port::<u8>::new(PIT_CHANNEL2).write(0xff);
    }
}

/// Channel 2's current count (latched, so both bytes are of one instant).
fn pit2_count() -> u16 {
    // SAFETY: as in `pit2_start`; a latch command only freezes the output latch.
    unsafe {
        Port::<u8>::new(PIT_CONTROL).write(0x80); // latch channel 2
        let lo = Port::<u8>::new(PIT_CHANNEL2).read();
        let hi = Port::<u8>::new(PIT_CHANNEL2).read();
        u16::from_le_bytes([lo, hi])
    }
}

/// Whether channel 2 reached 0 since `pit2_start` (the count wrapped).
fn pit2_wrapped() -> bool {
    // SAFETY: reading the gate port has no side effects.
    unsafe { Port::<u8>::new(PIT_GATE).read() & OUT2 != 0 }
}

/// One window: TSC cycles per PIT tick x PIT_HZ, or `None` when the count
/// wrapped (the CPU was away for longer than the counter's range).
fn window_rate() -> Option<u64> {
    pit2_start();
    let a = read_with_tsc(4, pit2_count);
    while a.value.wrapping_sub(pit2_count()) < WINDOW {
        if pit2_wrapped() {
            return None;
        }
        core::hint::spin_loop();
    }
    let b = read_with_tsc(4, pit2_count);
    if pit2_wrapped() || b.value >= a.value {
        return None;
    }
    let ticks = u64::from(a.value - b.value);
    Some(b.tsc.saturating_sub(a.tsc) * PIT_HZ / ticks)
}

/// Measures the TSC rate over three 25 ms PIT windows and keeps the
/// median. Each window's ends are (TSC, PIT count) pairs read together,
/// so time the CPU spends elsewhere in between counts on both clocks.
pub fn calibrate() -> u64 {
    let mut rates = [0u64; 3];
    let mut got = 0;
    for _ in 0..12 {
        if let Some(r) = window_rate() {
            rates[got] = r;
            got += 1;
            if got == rates.len() {
                break;
            }
        }
    }
    if got == 0 {
        // Every window wrapped: time one whole count instead (too high when
        // the CPU was away, but never zero).
        pit2_start();
        let t0 = super::cpu::rdtsc();
        while !pit2_wrapped() {
            core::hint::spin_loop();
        }
        rates[0] = super::cpu::rdtsc().saturating_sub(t0) * PIT_HZ / 0x1_0000;
        got = 1;
    }
    let rates = &mut rates[..got];
    rates.sort_unstable();
    let hz = rates.get(rates.len() / 2).copied().unwrap_or(0);
    TSC_HZ.store(hz, Ordering::Relaxed);
    hz
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
