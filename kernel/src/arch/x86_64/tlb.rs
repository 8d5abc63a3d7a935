//! TLB maintenance: CR3 loads and cross-CPU shootdowns.
//!
//! A shootdown targets only the CPUs that have the address space loaded
//! (`AddressSpace::active_cpus`; a CPU that switches away flushes by loading
//! another CR3). Requests are serialized: the initiator takes `LOCK`,
//! publishes the request, flags each target, sends the IPI and waits until
//! every target has acknowledged. A CPU waiting for `LOCK` services a
//! request aimed at itself while it spins, so two initiators never
//! deadlock on each other's unanswered IPIs.

#[cfg(feature = "measure")]
use super::hooks::{event, ArchEvent};
use super::{interrupts, ipi, percpu};
use crate::sync::IrqOff;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

/// Above this many pages a shootdown reloads CR3 instead of `invlpg`s.
const FULL_FLUSH_PAGES: u64 = 32;

pub struct TlbStats {
    pub cr3_writes: AtomicU64,
    pub shootdown_requests: AtomicU64,
    pub shootdown_target_cpus: AtomicU64,
    pub shootdown_ipis: AtomicU64,
    pub shootdown_acks: AtomicU64,
}

pub static STATS: TlbStats = TlbStats {
    cr3_writes: AtomicU64::new(0),
    shootdown_requests: AtomicU64::new(0),
    shootdown_target_cpus: AtomicU64::new(0),
    shootdown_ipis: AtomicU64::new(0),
    shootdown_acks: AtomicU64::new(0),
};

static LOCK: AtomicBool = AtomicBool::new(false);
static REQ_PML4: AtomicU64 = AtomicU64::new(0);
static REQ_START: AtomicU64 = AtomicU64::new(0);
static REQ_PAGES: AtomicU64 = AtomicU64::new(0);
static PENDING_ACKS: AtomicU32 = AtomicU32::new(0);
/// Bit i: CPU i has not yet serviced the published request.
static TARGETS: AtomicU64 = AtomicU64::new(0);

/// Root of the kernel's own page tables (the upper half every address space
/// shares); set once by `mm::paging` at boot.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

pub fn set_kernel_root(pml4: u64) {
    KERNEL_ROOT.store(pml4, Ordering::Release);
}

pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Acquire)
}

/// Switches the calling CPU to the kernel page tables (no counting: boot
/// and AP bring-up).
pub fn load_kernel_root() {
    let f = PhysFrame::containing_address(PhysAddr::new(kernel_root()));
    // SAFETY: the kernel tables map the kernel image and the HHDM (where
    // all stacks live); nothing the running code relies on is lost.
    unsafe { Cr3::write(f, Cr3Flags::empty()) };
}

pub fn load_cr3(pml4: u64) {
    STATS.cr3_writes.fetch_add(1, Ordering::Relaxed);
    #[cfg(feature = "measure")]
    event(ArchEvent::Cr3Write);
    // SAFETY: callers pass the root of a complete address space that maps
    // the kernel half identically.
    unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty()) };
}

fn flush_local(pml4: u64, start: u64, pages: u64) {
    if Cr3::read().0.start_address().as_u64() != pml4 {
        return; // not loaded here: the CR3 load that replaced it flushed
    }
    if pages == 0 || pages > FULL_FLUSH_PAGES {
        #[cfg(feature = "measure")]
        event(ArchEvent::FlushAll);
        load_cr3(pml4);
    } else {
        for i in 0..pages {
            x86_64::instructions::tlb::flush(VirtAddr::new(start + i * 4096));
        }
    }
}

/// Services the published request if it targets this CPU.
fn service() {
    #[cfg(feature = "measure")]
    event(ArchEvent::FlushCheck);
    let bit = 1u64 << percpu::cpu_index();
    if TARGETS.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
        flush_local(
            REQ_PML4.load(Ordering::Acquire),
            REQ_START.load(Ordering::Acquire),
            REQ_PAGES.load(Ordering::Acquire),
        );
        STATS.shootdown_acks.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "measure")]
        event(ArchEvent::FlushServiced);
        PENDING_ACKS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Shootdown IPI handler.
pub fn handle_ipi() {
    service();
}

/// Invalidates `[start, start + pages * 4 KiB)` (`pages == 0`: everything)
/// of the address space rooted at `pml4` on every CPU in `active` (the CPUs
/// that have it loaded), and waits for them.
pub fn shootdown(pml4: u64, active: &AtomicU64, start: u64, pages: u64) {
    let _irq = IrqOff::new();
    let me = percpu::cpu_index() as usize;
    // The caller's page-table stores must be visible before we read who
    // has the space loaded: a CPU that loads it after this read walks the
    // updated tables (x86 may otherwise order this load first).
    core::sync::atomic::fence(Ordering::SeqCst);
    if active.load(Ordering::Acquire) & !(1u64 << me) == 0 {
        flush_local(pml4, start, pages); // no other CPU can cache it
        return;
    }
    STATS.shootdown_requests.fetch_add(1, Ordering::Relaxed);
    #[cfg(feature = "measure")]
    let t0 = super::cpu::rdtsc();
    while LOCK.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        service();
        core::hint::spin_loop();
    }
    let targets = active.load(Ordering::Acquire) & !(1u64 << me);
    REQ_PML4.store(pml4, Ordering::Release);
    REQ_START.store(start, Ordering::Release);
    REQ_PAGES.store(pages, Ordering::Release);
    PENDING_ACKS.store(targets.count_ones(), Ordering::Release);
    TARGETS.store(targets, Ordering::Release);
    #[cfg(feature = "measure")]
    event(ArchEvent::ShootdownRequest { cpu_mask: targets, pml4 });
    for cpu in (0..percpu::MAX_CPUS).filter(|c| targets & (1 << c) != 0) {
        STATS.shootdown_target_cpus.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "measure")]
        event(ArchEvent::ShootdownTarget);
        #[cfg(feature = "measure")]
        let tsc = super::cpu::rdtsc();
        if ipi::send(cpu, interrupts::TLB_SHOOTDOWN) {
            STATS.shootdown_ipis.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "measure")]
            event(ArchEvent::ShootdownIpi { cpu: cpu as u64, tsc });
        } else {
            // No IPI could be sent (no LAPIC): nobody else can have it.
            TARGETS.fetch_and(!(1 << cpu), Ordering::AcqRel);
            PENDING_ACKS.fetch_sub(1, Ordering::AcqRel);
        }
    }
    flush_local(pml4, start, pages);
    while PENDING_ACKS.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
    LOCK.store(false, Ordering::Release);
    // CPU-time accounting: a remote shootdown, from taking the request
    // lock to the last ack, is `shootdown` time.
    #[cfg(feature = "measure")]
    super::hooks::cpu_slice(super::hooks::CpuState::Shootdown, t0, super::cpu::rdtsc());
}
