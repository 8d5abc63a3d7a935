//! The instrument measures itself at boot: which accelerator it runs under
//! (CPUID) and what each probe kind costs, in TSC cycles per event, on
//! scratch state that is never reported. The figures travel in the
//! report's `Instrument` record; the hold correction is applied by the lock
//! statistics from then on.
//!
//! Each cost is the median over [`BATCHES`] batches of a batch's cycles
//! divided by its [`BATCH_EVENTS`] events, the benchmark loop's own
//! iteration included (the lock's cost is the measured lock's minus an
//! unmeasured one's). Under QEMU TCG the TSC follows host time and these
//! are costs of translated code, not of the hardware. Runs on the BSP with interrupts masked, before the APs start, so
//! nothing else probes while the probes point at the scratch state.

use core::hint::black_box;
use core::sync::atomic::Ordering;

use super::{lockstat, probes};
use crate::arch::x86_64::cpu;
use crate::sync::{IrqOff, IrqSpinLock, LockClass, SchedSite, SharedClass};
use capos_measure::catalogue::{scheduler, scheduler_lock, shared_kernel_lock, SharedLock};
use capos_measure::trace::TraceArgs;
use capos_measure::{Accel, Counter, InstrumentInfo, ProbeCost};

/// Batches each figure is the median of.
pub const BATCHES: usize = 9;
/// Events per batch.
pub const BATCH_EVENTS: u64 = 256;

static INFO: spin::Once<InstrumentInfo> = spin::Once::new();

/// The accelerator, from the hypervisor bit (CPUID.1:ECX[31]) and the
/// vendor signature of leaf `0x4000_0000` (EBX, ECX, EDX).
pub fn accel() -> Accel {
    let hypervisor = core::arch::x86_64::__cpuid(1).ecx & (1 << 31) != 0;
    let mut signature = [0u8; 12];
    if hypervisor {
        let r = core::arch::x86_64::__cpuid(0x4000_0000);
        for (chunk, reg) in signature.chunks_exact_mut(4).zip([r.ebx, r.ecx, r.edx]) {
            chunk.copy_from_slice(&reg.to_le_bytes());
        }
    }
    Accel::from_cpuid(hypervisor, &signature)
}

/// Median cycles per call of `op` (called with the event index).
fn per_event(mut op: impl FnMut(u64)) -> u64 {
    let mut batches = [0u64; BATCHES];
    for slot in &mut batches {
        let t0 = cpu::rdtsc();
        for i in 0..BATCH_EVENTS {
            op(black_box(i));
        }
        *slot = cpu::rdtsc().saturating_sub(t0) / BATCH_EVENTS;
    }
    median(&mut batches)
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Locks the benchmark takes: measured like a run-queue lock, like a
/// shared kernel lock, and not measured.
static MEASURED: IrqSpinLock<()> = IrqSpinLock::measured((), LockClass::Sched);
static MEASURED_SHARED: IrqSpinLock<()> = IrqSpinLock::shared((), SharedClass::Heap);
static PLAIN: IrqSpinLock<()> = IrqSpinLock::measured((), LockClass::None);

/// Runs the benchmark once (BSP, before the APs start) and keeps the
/// figures for the report; later calls return the first figures.
pub fn run() -> InstrumentInfo {
    *INFO.call_once(|| {
        let _irq = IrqOff::new();
        probes::CALIBRATING.store(true, Ordering::SeqCst);
        let info = measure_probes();
        probes::CALIBRATING.store(false, Ordering::SeqCst);
        lockstat::set_hold_correction(info.hold_correction, info.shared_hold_correction);
        info
    })
}

/// The figures taken at boot, if [`run`] ran.
pub fn info() -> Option<InstrumentInfo> {
    INFO.get().copied()
}

fn measure_probes() -> InstrumentInfo {
    let counter = per_event(|_| probes::add(scheduler::candidates_local, 1));
    let hist = per_event(|i| probes::hist(scheduler_lock::wait, i));
    let plain = per_event(|_| drop(black_box(PLAIN.lock())));
    let lock = per_event(|_| drop(black_box(MEASURED.lock_at(SchedSite::TimerSelect))))
        .saturating_sub(plain);
    let trace = per_event(|i| probes::trace(TraceArgs::PhaseMark { phase: 0, mark_tsc: i }));
    let pc = run as fn() -> InstrumentInfo as usize as u64;
    let stack = per_event(|_| probes::sample(false, pc, cpu::frame_pointer()));
    InstrumentInfo {
        accel: accel(),
        cost: ProbeCost { counter, hist, lock, trace, stack },
        hold_correction: hold_window_cost(
            || MEASURED.lock_at(SchedSite::TimerSelect),
            scheduler_lock::hold_cycles.into(),
        ),
        shared_hold_correction: hold_window_cost(
            || MEASURED_SHARED.lock(),
            shared_kernel_lock::hold_cycles.at(SharedLock::Heap),
        ),
        batches: BATCHES as u64,
        batch_events: BATCH_EVENTS,
        unquiesced_cpus: 0,
        tick_hz: 0,
        sample_hz: 0,
    }
}

/// Median of the mean hold the lock statistics record (in `hold_cycles`)
/// for an empty critical section of the lock `take` takes: the part of
/// their own bookkeeping that falls between the two TSC reads of a hold
/// (no correction applied yet).
fn hold_window_cost<G>(take: impl Fn() -> G, hold_cycles: Counter) -> u64 {
    let held = || probes::SCRATCH.shards.read(hold_cycles);
    let mut batches = [0u64; BATCHES];
    for slot in &mut batches {
        let before = held();
        for _ in 0..BATCH_EVENTS {
            drop(black_box(take()));
        }
        *slot = held().saturating_sub(before) / BATCH_EVENTS;
    }
    median(&mut batches)
}
