//! Interrupt vectors and the handlers behind them.
//!
//! | vector | source |
//! |---|---|
//! | 0x20-0x2f | legacy PIC (IRQ 0 = PIT tick in the fallback mode; otherwise masked) |
//! | 0x30 | LAPIC timer: the tick (measure kernel: the tick and the sample clock) |
//! | 0xf0 | reschedule IPI |
//! | 0xf1 | TLB shootdown IPI |
//! | 0xf2 | test IPI (counts deliveries) |
//! | 0xff | LAPIC spurious |
//!
//! Handlers never allocate and never take a lock that thread context may
//! hold with interrupts enabled.

use super::trap::TrapFrame;
use super::{lapic, percpu, pic};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const PIC_BASE: u8 = 0x20;
pub const PIT_TICK: u8 = PIC_BASE;
pub const LAPIC_TICK: u8 = 0x30;
pub const RESCHEDULE: u8 = 0xf0;
pub const TLB_SHOOTDOWN: u8 = 0xf1;
pub const TEST_IPI: u8 = 0xf2;
pub const SPURIOUS: u8 = 0xff;

/// Ticks counted on the BSP: the kernel's coarse clock.
pub static GLOBAL_TICKS: AtomicU64 = AtomicU64::new(0);
/// Set by `noapic` or a CPU without a LAPIC: the PIT drives the tick.
static PIT_MODE: AtomicBool = AtomicBool::new(false);

/// Sets up the tick source on the BSP: the LAPIC timer unless `force_pit`
/// or no LAPIC; then the PIT through the PIC.
pub fn init_bsp(hz: u32, force_pit: bool) -> &'static str {
    pic::remap_and_mask(PIC_BASE);
    if lapic::present() && !force_pit {
        lapic::init_this_cpu(SPURIOUS);
        lapic::calibrate_timer(hz);
        "lapic"
    } else {
        PIT_MODE.store(true, Ordering::Release);
        pic::start_pit(hz);
        pic::unmask_timer();
        "pit"
    }
}

/// Sets the measure kernel's sample clock (before any CPU starts its
/// timer) and returns its rate: `sample_hz`, or with the PIT (one clock,
/// the BSP only) `tick_hz`, a sample on every tick.
#[cfg(feature = "measure")]
pub fn configure_sample_clock(tick_hz: u32, sample_hz: u32) -> u32 {
    let hz = if pit_mode() { tick_hz } else { sample_hz };
    lapic::deadline::configure(super::tsc::hz(), tick_hz, hz);
    hz
}

/// Per-AP interrupt setup (LAPIC mode only: the PIT ticks the BSP alone).
pub fn init_ap() {
    if !PIT_MODE.load(Ordering::Acquire) {
        lapic::init_this_cpu(SPURIOUS);
    }
}

/// Starts this CPU's tick.
pub fn start_tick() {
    if !PIT_MODE.load(Ordering::Acquire) {
        lapic::start_timer(LAPIC_TICK);
    }
}

pub fn pit_mode() -> bool {
    PIT_MODE.load(Ordering::Acquire)
}

#[cfg(feature = "measure")]
use super::hooks::CpuState;

/// Dispatches vectors 32..=255.
pub fn handle(frame: &mut TrapFrame) {
    let v = frame.vector as u8;
    // CPU-time accounting: the handler's time is `irq` (the sample clock's
    // `measure`, a shootdown's `shootdown`); back to the state it
    // interrupted at the end. A context switch inside (a tick's preemption)
    // sets the next thread's state; this thread's frame restores its own
    // when it resumes here.
    #[cfg(feature = "measure")]
    let back = super::hooks::cpu_state(if v == TLB_SHOOTDOWN {
        CpuState::Shootdown
    } else {
        CpuState::Irq
    });
    match v {
        #[cfg(not(feature = "measure"))]
        LAPIC_TICK => {
            lapic::eoi();
            tick(frame);
        }
        #[cfg(feature = "measure")]
        LAPIC_TICK => {
            lapic::eoi();
            let due = lapic::timer_fired();
            if due.sample {
                super::hooks::cpu_state(CpuState::Measure);
                sample(frame);
            }
            if due.tick {
                super::hooks::cpu_state(CpuState::Irq);
                tick(frame);
            }
        }
        PIT_TICK if pit_mode() => {
            pic::eoi();
            #[cfg(feature = "measure")]
            sample(frame);
            tick(frame);
        }
        RESCHEDULE => {
            lapic::eoi();
            ipi_received(RESCHEDULE);
            (super::hooks::hooks().reschedule_ipi)();
        }
        TLB_SHOOTDOWN => {
            ipi_received(TLB_SHOOTDOWN);
            super::tlb::handle_ipi();
            lapic::eoi();
        }
        TEST_IPI => {
            ipi_received(TEST_IPI);
            (super::hooks::hooks().test_ipi)();
            lapic::eoi();
        }
        SPURIOUS => {}
        0x21..=0x2f => {} // a masked PIC line can still raise a spurious IRQ 7/15
        _ => super::exceptions::unexpected_vector(frame),
    }
    if frame.cs & 3 == 3 {
        (super::hooks::hooks().before_user_return)();
    }
    #[cfg(feature = "measure")]
    if let Some(state) = if frame.cs & 3 == 3 { Some(CpuState::User) } else { back } {
        super::hooks::cpu_state(state);
    }
}

fn tick(frame: &TrapFrame) {
    if percpu::current().index() == 0 {
        GLOBAL_TICKS.fetch_add(1, Ordering::Relaxed);
    }
    (super::hooks::hooks().tick)(frame.cs & 3 == 3, frame.rip, frame.rbp);
}

/// A sample-clock interrupt (measure kernel; with the PIT, every tick).
#[cfg(feature = "measure")]
fn sample(frame: &TrapFrame) {
    (super::hooks::hooks().sample)(frame.cs & 3 == 3, frame.rip, frame.rbp);
}

/// Reports an arriving IPI and its sender to the measure subsystem.
#[cfg_attr(not(feature = "measure"), allow(unused_variables))]
fn ipi_received(vector: u8) {
    #[cfg(feature = "measure")]
    super::hooks::event(super::hooks::ArchEvent::IpiReceived {
        vector,
        sender_cpu: super::ipi::last_sender(vector),
    });
}
