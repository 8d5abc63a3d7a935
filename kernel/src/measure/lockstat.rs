//! Lock statistics: the acquire/release side of `IrqSpinLock` in measure builds.

use crate::arch::x86_64::cpu;
use crate::sync::{LockClass, SchedSite, SharedClass};
use capos_measure::catalogue::{
    scheduler_lock as sl, scheduler_lock_site as site, shared_kernel_lock as sk, SchedLockSite,
    SharedLock,
};
use core::sync::atomic::{AtomicU64, Ordering};

/// Registers the lock statistics with `sync` (first thing at boot).
pub fn install() {
    crate::sync::lock_probe::install(crate::sync::lock_probe::LockProbe { acquired, released });
}

/// Cycles of the probe's own bookkeeping inside every hold window of a
/// scheduler lock and of a shared lock, measured at boot (`calibrate.rs`)
/// and subtracted from each hold.
static SCHED_HOLD_CORRECTION: AtomicU64 = AtomicU64::new(0);
static SHARED_HOLD_CORRECTION: AtomicU64 = AtomicU64::new(0);

/// Sets the per-hold corrections (the boot calibration, once).
pub fn set_hold_correction(sched: u64, shared: u64) {
    SCHED_HOLD_CORRECTION.store(sched, Ordering::Relaxed);
    SHARED_HOLD_CORRECTION.store(shared, Ordering::Relaxed);
}

/// A measured lock was held `hold` cycles (less the probe's own share).
fn released(class: LockClass, s: SchedSite, hold: u64) {
    let correction = match class {
        LockClass::Sched => &SCHED_HOLD_CORRECTION,
        _ => &SHARED_HOLD_CORRECTION,
    };
    let hold = hold.saturating_sub(correction.load(Ordering::Relaxed));
    match class {
        LockClass::Sched => {
            super::add(sl::hold_cycles, hold);
            super::min(sl::hold_min, hold);
            super::max(sl::hold_max, hold);
            super::hist(sl::hold, hold);
            super::add(site::hold_cycles.at(site_dim(s)), hold);
        }
        LockClass::Shared(c) => {
            let d = shared_dim(c);
            super::add(sk::hold_cycles.at(d), hold);
            super::min(sk::hold_min.at(d), hold);
            super::max(sk::hold_max.at(d), hold);
            super::hist(sk::hold.at(d), hold);
        }
        LockClass::None => {}
    }
}

fn site_dim(s: SchedSite) -> SchedLockSite {
    match s {
        SchedSite::Generic => SchedLockSite::Generic,
        SchedSite::TimerPreRing => SchedLockSite::TimerPreRing,
        SchedSite::TimerSelect => SchedLockSite::TimerSelect,
        SchedSite::Blocking => SchedLockSite::Blocking,
        SchedSite::ProcessExit => SchedLockSite::ProcessExit,
        SchedSite::ThreadExit => SchedLockSite::ThreadExit,
        SchedSite::StartIdleSelect => SchedLockSite::StartIdleSelect,
        SchedSite::WakeUnblock => SchedLockSite::WakeUnblock,
        SchedSite::Metadata => SchedLockSite::Metadata,
    }
}

fn shared_dim(c: SharedClass) -> SharedLock {
    match c {
        SharedClass::FrameAlloc => SharedLock::FrameAlloc,
        SharedClass::Heap => SharedLock::Heap,
        SharedClass::CapTable => SharedLock::CapTable,
        SharedClass::RingScratch => SharedLock::RingScratch,
        SharedClass::EndpointQueue => SharedLock::EndpointQueue,
        SharedClass::AddressSpace => SharedLock::AddressSpace,
    }
}

/// A measured lock was taken after `wait` cycles and `spins` failed tries
/// (interrupts are masked).
fn acquired(class: LockClass, s: SchedSite, wait: u64, spins: u64) {
    let contended = spins > 0;
    match class {
        LockClass::Sched => {
            super::add(sl::acquisitions, 1);
            super::add(site::acquisitions.at(site_dim(s)), 1);
            if contended {
                super::add(sl::contended, 1);
                super::add(sl::spin_loops, spins);
                super::add(sl::wait_cycles, wait);
                super::min(sl::wait_min, wait);
                super::max(sl::wait_max, wait);
                super::hist(sl::wait, wait);
                super::add(site::contended.at(site_dim(s)), 1);
                super::add(site::wait_cycles.at(site_dim(s)), wait);
            }
        }
        LockClass::Shared(c) => {
            let d = shared_dim(c);
            super::add(sk::acquisitions.at(d), 1);
            if contended {
                super::add(sk::contended.at(d), 1);
                super::add(sk::spin_loops.at(d), spins);
                super::add(sk::wait_cycles.at(d), wait);
                super::min(sk::wait_min.at(d), wait);
                super::max(sk::wait_max.at(d), wait);
                super::hist(sk::wait.at(d), wait);
            }
        }
        LockClass::None => {}
    }
    if contended {
        super::trace(capos_measure::TraceKind::LockContendedWait, wait, class_code(class, s), 0);
        contention_stack(class, s, wait);
    }
}

/// Records where a contended acquisition waited: this call's kernel stack,
/// weighted by the wait (the lock-contention flamegraph's input).
fn contention_stack(class: LockClass, s: SchedSite, wait: u64) {
    use capos_measure::ContentionClass;
    let (c, lock) = match class {
        LockClass::Sched => (ContentionClass::SchedulerLock, site_dim(s) as u8),
        LockClass::Shared(k) => (ContentionClass::SharedKernelLock, shared_dim(k) as u8),
        LockClass::None => return,
    };
    let mut frames = [0u64; 16];
    let pc: u64;
    // SAFETY: `lea` of RIP has no side effects.
    unsafe {
        core::arch::asm!("lea {}, [rip]", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    frames[0] = pc;
    let n = crate::arch::x86_64::backtrace::walk(
        cpu::frame_pointer(),
        &mut frames,
        crate::arch::x86_64::backtrace::read_kernel_frame,
    );
    super::MEASURE.contention_stack(
        crate::arch::x86_64::percpu::cpu_index() as usize,
        c as u8,
        lock,
        &frames[..n],
        wait,
    );
}

fn class_code(class: LockClass, s: SchedSite) -> u64 {
    match class {
        LockClass::Sched => s as u64,
        LockClass::Shared(c) => 0x100 + c as u64,
        LockClass::None => u64::MAX,
    }
}
