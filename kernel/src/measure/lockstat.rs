//! Lock statistics: the acquire/release side of `IrqSpinLock` in measure builds.

use crate::arch::x86_64::cpu;
use crate::sync::lock_probe::Acquire;
use crate::sync::{LockClass, SchedSite, SharedClass};
use capos_measure::catalogue::{
    scheduler_lock as sl, scheduler_lock_site as site, shared_kernel_lock as sk, SchedLockSite,
    SharedLock,
};
use capos_measure::trace::{LockId, TraceArgs};
use capos_measure::ContentionClass;
use core::sync::atomic::{AtomicU64, Ordering};

/// Registers the lock statistics with `sync` (first thing at boot).
pub fn install() {
    crate::sync::lock_probe::install(crate::sync::lock_probe::LockProbe {
        cpu: crate::arch::x86_64::percpu::cpu_index,
        acquired,
        released,
        walk: walk_here,
    });
}

/// The kernel stack at the caller: this PC, then the frame-pointer walk.
fn walk_here(frames: &mut [u64; crate::sync::lock_probe::STACK_FRAMES]) -> usize {
    let pc: u64;
    // SAFETY: `lea` of RIP has no side effects.
    unsafe {
        core::arch::asm!("lea {}, [rip]", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    frames[0] = pc;
    crate::arch::x86_64::backtrace::walk(
        cpu::frame_pointer(),
        frames,
        crate::arch::x86_64::backtrace::read_kernel_frame,
    )
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

/// A measured lock was held `hold` cycles (less the probe's own share);
/// a `tracked` hold leaves the thread's held-lock record.
fn released(class: LockClass, s: Option<SchedSite>, hold: u64, tracked: bool) {
    // A `SpinLock` leaves interrupts on: stay on this CPU for its shard.
    let _irq = crate::sync::IrqOff::new();
    if tracked {
        held_update(capos_measure::held::pop);
    }
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
            if let Some(s) = s {
                super::add(site::hold_cycles.at(site_dim(s)), hold);
            }
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
        SchedSite::TimerSelect => SchedLockSite::TimerSelect,
        SchedSite::Blocking => SchedLockSite::Blocking,
        SchedSite::Yield => SchedLockSite::Yield,
        SchedSite::ThreadExit => SchedLockSite::ThreadExit,
        SchedSite::ProcessExit => SchedLockSite::ProcessExit,
        SchedSite::StartIdleSelect => SchedLockSite::StartIdleSelect,
        SchedSite::Steal => SchedLockSite::Steal,
        SchedSite::PreemptRequeue => SchedLockSite::PreemptRequeue,
        SchedSite::WakeUnblock => SchedLockSite::WakeUnblock,
        SchedSite::Spawn => SchedLockSite::Spawn,
    }
}

fn shared_dim(c: SharedClass) -> SharedLock {
    use SharedClass as C;
    use SharedLock as L;
    match c {
        C::FrameAlloc => L::FrameAlloc,
        C::Heap => L::Heap,
        C::CapTable => L::CapTable,
        C::RingScratch => L::RingScratch,
        C::EndpointQueue => L::EndpointQueue,
        C::AddressSpace => L::AddressSpace,
        C::ThreadTable => L::ThreadTable,
        C::ThreadSched => L::ThreadSched,
        C::ThreadStack => L::ThreadStack,
        C::ThreadEntry => L::ThreadEntry,
        C::ThreadJoiner => L::ThreadJoiner,
        C::ParkWaiters => L::ParkWaiters,
        C::Timers => L::Timers,
        C::EndpointRegistry => L::EndpointRegistry,
        C::ExitWaits => L::ExitWaits,
        C::ExitWatcher => L::ExitWatcher,
        C::ProcessThreads => L::ProcessThreads,
        C::ProcessVa => L::ProcessVa,
        C::ProcessHeapEnd => L::ProcessHeapEnd,
        C::ProcessExit => L::ProcessExit,
        C::ProcessJoins => L::ProcessJoins,
        C::Console => L::Console,
        C::LoadMaps => L::LoadMaps,
    }
}

/// The lock as trace events and contention stacks name it.
fn lock_id(class: LockClass, s: Option<SchedSite>) -> Option<LockId> {
    match class {
        LockClass::Sched => {
            Some(LockId { class: ContentionClass::SchedulerLock, index: site_dim(s?) as u8 })
        }
        LockClass::Shared(k) => {
            Some(LockId { class: ContentionClass::SharedKernelLock, index: shared_dim(k) as u8 })
        }
        LockClass::None => None,
    }
}

/// Applies `f` to the running thread's held-lock record (interrupts
/// masked; only the thread itself writes it). Nothing before the scheduler
/// owns the CPU.
fn held_update(f: impl FnOnce(u64) -> u64) {
    crate::sched::try_with_current(|t| {
        t.held_locks.store(f(t.held_locks.load(Ordering::Relaxed)), Ordering::Relaxed)
    });
}

/// A measured lock was taken after `wait` cycles and `spins` failed tries.
/// Answers whether the hold is tracked in the thread's held-lock record
/// (the `lock=` tag of its samples): only a lock taken with interrupts
/// enabled (a `SpinLock`) is, since a sample interrupt can land only while
/// they are (an `IrqSpinLock` masks them for its whole hold).
fn acquired(class: LockClass, s: Option<SchedSite>, a: Acquire) -> bool {
    let (wait, spins) = (a.wait, a.spins);
    let unmasked = x86_64::instructions::interrupts::are_enabled();
    let _irq = crate::sync::IrqOff::new();
    let held = lock_id(class, s).and_then(|l| capos_measure::HeldLock::new(l.class, l.index));
    let tracked = unmasked && held.is_some();
    if let Some(lock) = held.filter(|_| tracked) {
        held_update(|w| capos_measure::held::push(w, lock));
    }
    let contended = spins > 0;
    // CPU-time accounting: the spin just ended was `lock_spin` time.
    let spin_end = if contended {
        let end = crate::arch::x86_64::cpu::rdtsc();
        super::cpu_slice(super::CpuState::LockSpin, end.saturating_sub(wait), end);
        end
    } else {
        0
    };
    match class {
        LockClass::Sched => {
            super::add(sl::acquisitions, 1);
            let site_of = s.map(site_dim);
            if let Some(d) = site_of {
                super::add(site::acquisitions.at(d), 1);
            }
            if a.handoff {
                super::add(sl::handoffs, 1);
                if let Some(d) = site_of {
                    super::add(site::handoffs.at(d), 1);
                }
            }
            if !contended {
                super::add(sl::take_cycles, wait);
                if let Some(d) = site_of {
                    super::add(site::take_cycles.at(d), wait);
                }
            }
            if contended {
                super::add(sl::contended, 1);
                super::add(sl::spin_loops, spins);
                super::add(sl::wait_cycles, wait);
                super::min(sl::wait_min, wait);
                super::max(sl::wait_max, wait);
                super::hist(sl::wait, wait);
                if let Some(d) = site_of {
                    super::add(site::contended.at(d), 1);
                    super::add(site::wait_cycles.at(d), wait);
                }
            }
        }
        LockClass::Shared(c) => {
            let d = shared_dim(c);
            super::add(sk::acquisitions.at(d), 1);
            if a.handoff {
                super::add(sk::handoffs.at(d), 1);
            }
            if !contended {
                super::add(sk::take_cycles.at(d), wait);
            }
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
    if let Some(lock) = lock_id(class, s).filter(|_| contended) {
        super::trace(TraceArgs::LockContendedWait { lock, wait_cycles: wait });
        super::MEASURE.contention_stack(
            crate::arch::x86_64::percpu::cpu_index() as usize,
            lock.class as u8,
            lock.index,
            a.stack.frames(),
            wait,
        );
        lock_pair(lock, class, &a);
        // The stack walk and the tables are the instrument's own work.
        let end = crate::arch::x86_64::cpu::rdtsc();
        super::cpu_slice(super::CpuState::Measure, spin_end, end);
    }
    tracked
}

/// Records who this contended acquisition waited for: the waiter is the
/// lock (shared) or its site (scheduler), the holder the one the spin saw.
fn lock_pair(waiter: LockId, class: LockClass, a: &Acquire) {
    let holder = a.holder.and_then(|h| match class {
        LockClass::Sched => Some((h.cpu, site_dim(h.site?) as u8)),
        LockClass::Shared(_) => Some((h.cpu, waiter.index)),
        LockClass::None => None,
    });
    let (index, cross_cpu) = match holder {
        Some((cpu, index)) => (index, cpu != a.cpu),
        None => (capos_measure::lock_pairs::UNKNOWN_HOLDER, false),
    };
    super::MEASURE.lock_pair(waiter.class as u8, waiter.index, index, a.wait, cross_cpu);
}
