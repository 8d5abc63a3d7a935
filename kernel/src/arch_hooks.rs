//! The kernel's answers to what `arch` reports: ticks, IPIs, faults,
//! system calls, new threads and application processors. Registered once
//! at boot (`install`), so `arch` never names the modules above it.

use crate::arch::x86_64::hooks::{self, Hooks};
use crate::arch::x86_64::percpu;

/// Registers the hooks (and, in measure builds, the lock statistics);
/// called first thing on the BSP.
pub fn install() {
    #[cfg(feature = "measure")]
    crate::measure::lockstat::install();
    hooks::install(Hooks {
        tick,
        #[cfg(feature = "measure")]
        sample,
        reschedule_ipi: crate::sched::reschedule_ipi,
        test_ipi: crate::sched::test_ipi,
        before_user_return: crate::proc::exit_if_killed,
        user_fault: crate::proc::user_fault,
        kernel_fault,
        syscall: crate::syscall::dispatch,
        thread_start: crate::sched::thread_start,
        ap_main: crate::sched::run_ap,
        #[cfg(feature = "measure")]
        event: arch_event,
        #[cfg(feature = "measure")]
        cpu_state: crate::measure::cpu_state,
        #[cfg(feature = "measure")]
        cpu_slice: crate::measure::cpu_slice,
    });
}

/// Counts what `arch` reports in the measure catalogue.
#[cfg(feature = "measure")]
fn arch_event(e: crate::arch::x86_64::hooks::ArchEvent) {
    use crate::arch::x86_64::hooks::ArchEvent as E;
    use capos_measure::catalogue::{serial, tlb, SerialChannel};
    match e {
        E::Cr3Write => crate::m_add!(tlb::cr3_writes),
        E::FlushCheck => crate::m_add!(tlb::pending_flush_checks),
        E::FlushAll => crate::m_add!(tlb::pending_flush_all),
        E::FlushServiced => crate::m_add!(tlb::deferred_completion_drains),
        E::ShootdownRequest { cpu_mask, pml4 } => {
            crate::m_add!(tlb::shootdown_requests);
            crate::m_trace!(Shootdown { cpu_mask, address_space: pml4 });
        }
        E::ShootdownTarget => crate::m_add!(tlb::shootdown_target_cpus),
        E::ShootdownIpi { cpu, tsc } => {
            crate::m_add!(tlb::shootdown_ipis);
            crate::measure::trace_at(
                tsc,
                capos_measure::trace::TraceArgs::IpiSend {
                    target_cpu: cpu,
                    vector: crate::arch::x86_64::interrupts::TLB_SHOOTDOWN,
                },
            );
        }
        E::IpiReceived { vector, sender_cpu } => crate::m_trace!(IpiRecv { vector, sender_cpu }),
        E::Com1Bytes(n) => crate::m_add!(serial::bytes.at(SerialChannel::Com1), n),
    }
}

/// A timer tick: timed waits (on the BSP, the coarse clock), then the
/// scheduler. Sampling has its own clock (`sample`, measure builds).
#[allow(unused_variables)]
fn tick(from_user: bool, rip: u64, rbp: u64) {
    crate::m_add!(capos_measure::catalogue::timer::interrupts);
    crate::m_add!(if from_user {
        capos_measure::catalogue::timer::user_scheduler
    } else {
        capos_measure::catalogue::timer::kernel_only
    });
    if percpu::current().index() == 0 {
        crate::m_add!(capos_measure::catalogue::timer::bsp_tick_advances);
        crate::sched::timer_expiry(crate::time::on_tick);
    }
    crate::sched::on_tick(from_user);
}

/// A sample-clock interrupt: one PC and stack sample of the interrupted
/// context (interrupts masked).
#[cfg(feature = "measure")]
fn sample(from_user: bool, rip: u64, rbp: u64) {
    use capos_measure::catalogue::timer;
    crate::m_add!(timer::sample_interrupts);
    if !from_user && crate::sched::running_idle() {
        crate::m_add!(timer::idle_samples);
        if crate::sched::work_queued_elsewhere() {
            crate::m_add!(timer::idle_samples_work_queued);
        }
    }
    crate::measure::sample(from_user, rip, rbp);
    crate::measure::close_running_after_mark();
}

/// A kernel exception: a kernel test that expects it recovers here.
#[cfg_attr(not(feature = "ktest"), allow(unused_variables))]
fn kernel_fault(vector: u64) {
    #[cfg(feature = "ktest")]
    crate::ktest::on_fault(vector);
}
