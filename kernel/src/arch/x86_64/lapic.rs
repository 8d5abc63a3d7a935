//! Local APIC (xAPIC, MMIO through the HHDM): enable, periodic timer
//! calibrated against the PIT, EOI, IPIs.
//!
//! The normal kernel runs the timer periodically at the tick rate. The
//! measure kernel runs it one-shot for two clocks on every CPU (the
//! scheduler tick and the sample clock, [`deadline`]): each interrupt
//! re-arms it for the earlier of the two next TSC deadlines.

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
#[cfg_attr(feature = "measure", allow(dead_code))]
const TIMER_PERIODIC: u32 = 1 << 17;
const DELIVERY_PENDING: u32 = 1 << 12;

static BASE: AtomicU64 = AtomicU64::new(0);
static ENABLED: AtomicBool = AtomicBool::new(false);
/// LAPIC timer counts (divide by 16) per tick period.
static TICK_COUNT: AtomicU32 = AtomicU32::new(0);
/// LAPIC timer frequency (counts per second, divide by 16), from
/// `calibrate_timer`.
#[cfg(feature = "measure")]
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);

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
    #[cfg(feature = "measure")]
    TIMER_HZ.store(timer_hz.max(1), Ordering::Relaxed);
    timer_hz
}

/// Starts the periodic tick on the calling CPU.
#[cfg(not(feature = "measure"))]
pub fn start_timer(vector: u8) {
    write(REG_TIMER_DIVIDE, 0b0011);
    write(REG_LVT_TIMER, TIMER_PERIODIC | vector as u32);
    write(REG_TIMER_INIT, TICK_COUNT.load(Ordering::Relaxed));
}

/// Starts the tick and the sample clock on the calling CPU (one-shot
/// mode, first deadlines one period from now).
#[cfg(feature = "measure")]
pub fn start_timer(vector: u8) {
    write(REG_TIMER_DIVIDE, 0b0011);
    write(REG_LVT_TIMER, vector as u32);
    let now = cpu::rdtsc();
    let next = deadline::start(super::percpu::cpu_index() as usize, now);
    arm_at(next, now);
}

/// Arms the one-shot timer to fire at TSC `at` (`now` read just before):
/// the count is rounded up, so the interrupt never comes before `at` by
/// more than the two clocks' disagreement.
#[cfg(feature = "measure")]
fn arm_at(at: u64, now: u64) {
    let cycles = at.saturating_sub(now).max(1);
    let timer_hz = u128::from(TIMER_HZ.load(Ordering::Relaxed).max(1));
    let tsc_hz = u128::from(tsc::hz().max(1));
    let counts = (u128::from(cycles) * timer_hz).div_ceil(tsc_hz);
    write(REG_TIMER_INIT, counts.clamp(1, u128::from(u32::MAX)) as u32);
}

/// A timer interrupt on this CPU (measure kernel): which clocks were due,
/// with the timer re-armed for the next deadline.
#[cfg(feature = "measure")]
pub fn timer_fired() -> deadline::Due {
    let now = cpu::rdtsc();
    let (due, next) = deadline::fire(super::percpu::cpu_index() as usize, now);
    arm_at(next, cpu::rdtsc());
    due
}

/// The measure kernel's two clocks on each CPU: TSC deadlines of the next
/// scheduler tick and the next sample, each advanced by whole periods so
/// its phase never drifts (the tick rate stays `tick_hz` exactly, however
/// the two rates relate). A deadline the CPU was away for (a vCPU not run
/// under TCG) is dropped, as a periodic timer coalesces missed periods.
#[cfg(feature = "measure")]
pub mod deadline {
    use super::super::percpu::MAX_CPUS;
    use core::sync::atomic::{AtomicU64, Ordering};

    /// TSC cycles per tick and per sample (set once at boot).
    static TICK_PERIOD: AtomicU64 = AtomicU64::new(0);
    static SAMPLE_PERIOD: AtomicU64 = AtomicU64::new(0);
    static SAMPLE_HZ: AtomicU64 = AtomicU64::new(0);
    static TICK_HZ: AtomicU64 = AtomicU64::new(0);
    /// Per CPU: next tick and next sample deadlines (TSC). Touched only by
    /// their own CPU with interrupts masked.
    static NEXT_TICK: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
    static NEXT_SAMPLE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

    /// Which clocks an interrupt found due.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Due {
        pub tick: bool,
        pub sample: bool,
    }

    /// Sets both periods from the TSC rate (before any CPU starts its timer).
    pub fn configure(tsc_hz: u64, tick_hz: u32, sample_hz: u32) {
        TICK_PERIOD.store(period(tsc_hz, tick_hz), Ordering::Relaxed);
        SAMPLE_PERIOD.store(period(tsc_hz, sample_hz), Ordering::Relaxed);
        SAMPLE_HZ.store(u64::from(sample_hz), Ordering::Relaxed);
        TICK_HZ.store(u64::from(tick_hz), Ordering::Relaxed);
    }

    fn period(tsc_hz: u64, hz: u32) -> u64 {
        (tsc_hz / u64::from(hz.max(1))).max(1)
    }

    /// The (tick, sample) rates in use, as configured.
    pub fn rates() -> (u32, u32) {
        (TICK_HZ.load(Ordering::Relaxed) as u32, SAMPLE_HZ.load(Ordering::Relaxed) as u32)
    }

    /// First deadlines of CPU `cpu`; returns the earlier.
    pub fn start(cpu: usize, now: u64) -> u64 {
        let (t, s) = (now + TICK_PERIOD.load(Ordering::Relaxed), now + sample_period());
        NEXT_TICK[cpu % MAX_CPUS].store(t, Ordering::Relaxed);
        NEXT_SAMPLE[cpu % MAX_CPUS].store(s, Ordering::Relaxed);
        t.min(s)
    }

    fn sample_period() -> u64 {
        SAMPLE_PERIOD.load(Ordering::Relaxed).max(1)
    }

    /// An interrupt at `now` on `cpu`: what was due, and the next deadline.
    pub fn fire(cpu: usize, now: u64) -> (Due, u64) {
        let tick_slot = &NEXT_TICK[cpu % MAX_CPUS];
        let sample_slot = &NEXT_SAMPLE[cpu % MAX_CPUS];
        let (tick, t) = advance(
            tick_slot.load(Ordering::Relaxed),
            TICK_PERIOD.load(Ordering::Relaxed).max(1),
            now,
        );
        let (sample, s) = advance(sample_slot.load(Ordering::Relaxed), sample_period(), now);
        tick_slot.store(t, Ordering::Relaxed);
        sample_slot.store(s, Ordering::Relaxed);
        (Due { tick, sample }, t.min(s))
    }

    /// One clock at `now`: whether deadline `next` has passed, and the
    /// following deadline: `next` plus whole periods, the first after `now`.
    pub fn advance(next: u64, period: u64, now: u64) -> (bool, u64) {
        if now < next {
            return (false, next);
        }
        let periods = (now - next) / period + 1;
        (true, next.saturating_add(periods.saturating_mul(period)))
    }
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
