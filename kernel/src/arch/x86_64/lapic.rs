//! Local APIC (xAPIC, MMIO through the HHDM): enable, periodic timer
//! calibrated against the PIT, EOI, IPIs.

use super::hhdm::phys_to_virt;
use super::{cpu, tsc};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const REG_TPR: u64 = 0x80;
const REG_EOI: u64 = 0xb0;
const REG_SVR: u64 = 0xf0;
const REG_ESR: u64 = 0x280;
const REG_ICR_LOW: u64 = 0x300;
const REG_ICR_HIGH: u64 = 0x310;
const REG_LVT_TIMER: u64 = 0x320;
const REG_LVT_LINT0: u64 = 0x350;
const REG_LVT_LINT1: u64 = 0x360;
const REG_LVT_ERROR: u64 = 0x370;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_CURRENT: u64 = 0x390;
const REG_TIMER_DIVIDE: u64 = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const TIMER_PERIODIC: u32 = 1 << 17;
const DELIVERY_PENDING: u32 = 1 << 12;

static BASE: AtomicU64 = AtomicU64::new(0);
static ENABLED: AtomicBool = AtomicBool::new(false);
/// LAPIC timer counts (divide by 16) per tick period.
static TICK_COUNT: AtomicU32 = AtomicU32::new(0);

/// Whether the CPU has a local APIC (CPUID.1:EDX bit 9).
pub fn present() -> bool {
    let r = core::arch::x86_64::__cpuid(1);
    r.edx & (1 << 9) != 0
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

fn reg(offset: u64) -> *mut u32 {
    (BASE.load(Ordering::Relaxed) + offset) as *mut u32
}

fn read(offset: u64) -> u32 {
    // SAFETY: BASE is the HHDM address of this CPU's LAPIC page; `offset`
    // is an architectural register.
    unsafe { reg(offset).read_volatile() }
}

fn write(offset: u64, v: u32) {
    // SAFETY: as in `read`.
    unsafe { reg(offset).write_volatile(v) }
}

/// Enables the LAPIC of the calling CPU (first call records the MMIO base).
pub fn init_this_cpu(spurious_vector: u8) {
    // SAFETY: IA32_APIC_BASE exists when `present()`; reading it has no effects.
    let msr = unsafe { Msr::new(IA32_APIC_BASE).read() };
    let phys = msr & 0x000f_ffff_ffff_f000;
    BASE.store(phys_to_virt(phys) as u64, Ordering::Relaxed);
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_ESR, 0);
    write(REG_SVR, 0x100 | spurious_vector as u32);
    ENABLED.store(true, Ordering::Release);
}

pub fn eoi() {
    write(REG_EOI, 0);
}

/// Measures the LAPIC timer rate against the TSC (already PIT-calibrated)
/// over 20 ms and stores the count for a `hz` tick. Both ends of the window
/// are (TSC, timer count) pairs read together, so time the CPU spends
/// elsewhere counts on both clocks. Returns the timer's frequency.
pub fn calibrate_timer(hz: u32) -> u64 {
    write(REG_TIMER_DIVIDE, 0b0011); // divide by 16
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_TIMER_INIT, u32::MAX);
    let a = tsc::read_with_tsc(4, || read(REG_TIMER_CURRENT));
    let window = tsc::hz() / 50; // 20 ms
    while cpu::rdtsc().saturating_sub(a.tsc) < window {
        core::hint::spin_loop();
    }
    let b = tsc::read_with_tsc(4, || read(REG_TIMER_CURRENT));
    write(REG_TIMER_INIT, 0);
    let counts = u64::from(a.value.saturating_sub(b.value));
    let cycles = b.tsc.saturating_sub(a.tsc).max(1);
    let timer_hz = (u128::from(counts) * u128::from(tsc::hz()) / u128::from(cycles)) as u64;
    TICK_COUNT
        .store((timer_hz / hz as u64).clamp(1, u64::from(u32::MAX)) as u32, Ordering::Relaxed);
    timer_hz
}

/// Starts the periodic tick on the calling CPU.
pub fn start_timer(vector: u8) {
    write(REG_TIMER_DIVIDE, 0b0011);
    write(REG_LVT_TIMER, TIMER_PERIODIC | vector as u32);
    write(REG_TIMER_INIT, TICK_COUNT.load(Ordering::Relaxed));
}

/// ICR delivery modes used by the kernel.
#[derive(Clone, Copy)]
pub enum Delivery {
    Fixed(u8),
    Nmi,
}

/// Destinations: one LAPIC or everyone but the sender.
#[derive(Clone, Copy)]
pub enum Dest {
    Apic(u32),
    AllButSelf,
}

/// Writes the ICR and waits for the send to be accepted. The caller keeps
/// interrupts masked so no handler on this CPU interleaves ICR writes.
pub fn send_ipi(dest: Dest, mode: Delivery) -> bool {
    let low = match mode {
        Delivery::Fixed(v) => v as u32 | (1 << 14),
        Delivery::Nmi => (0b100 << 8) | (1 << 14),
    };
    let (high, shorthand) = match dest {
        Dest::Apic(id) => (id << 24, 0),
        Dest::AllButSelf => (0, 0b11 << 18),
    };
    write(REG_ICR_HIGH, high);
    write(REG_ICR_LOW, low | shorthand);
    for _ in 0..1_000_000 {
        if read(REG_ICR_LOW) & DELIVERY_PENDING == 0 {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}
