//! One struct per CPU, reached through GS base.
//!
//! Slot `i` of [`PERCPU`] belongs to the CPU with index `i` (index 0 is the
//! BSP; APs follow the order of the Limine MP response). A CPU writes only
//! its own slot once it is running; GS base points at the slot and its first
//! word points at itself, so `gs:[0]` yields the struct without a lookup.

use super::gdt::CpuTables;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use x86_64::registers::model_specific::GsBase;
use x86_64::VirtAddr;

/// Most CPUs the kernel brings online; more are reported and left parked.
pub const MAX_CPUS: usize = 16;

#[repr(C, align(64))]
pub struct PerCpu {
    /// Points at this struct (read through `gs:[0]`).
    self_ptr: *const PerCpu,
    /// Top of the running thread's kernel stack (`syscall` entry switches to it).
    pub kernel_stack_top: u64,
    /// Scratch for the user RSP during `syscall` entry.
    pub user_rsp: u64,
    pub index: u32,
    pub lapic_id: u32,
    /// Set once the CPU has loaded its tables and entered the kernel proper.
    pub online: AtomicBool,
    /// TSC when the CPU came online.
    pub online_tsc: core::sync::atomic::AtomicU64,
    pub tables: CpuTables,
    pub sched: crate::sched::CpuSched,
}

pub struct Slot(UnsafeCell<PerCpu>);

// SAFETY: each slot is written only by its own CPU (and by the BSP before
// that CPU starts); fields read by other CPUs are atomics.
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot(UnsafeCell::new(PerCpu {
    self_ptr: core::ptr::null(),
    kernel_stack_top: 0,
    user_rsp: 0,
    index: 0,
    lapic_id: 0,
    online: AtomicBool::new(false),
    online_tsc: core::sync::atomic::AtomicU64::new(0),
    tables: CpuTables::new(),
    sched: crate::sched::CpuSched::new(),
}));

pub static PERCPU: [Slot; MAX_CPUS] = [EMPTY; MAX_CPUS];

/// Number of CPUs the boot protocol reported (online or not).
pub static CPU_COUNT: AtomicU32 = AtomicU32::new(1);

/// Claims slot `index` for the calling CPU and points GS base at it.
///
/// # Safety
/// Must be called once per CPU, by that CPU, before anything reads `current()`.
/// Also loads the CPU's GDT and TSS (they live in the slot).
pub unsafe fn install(index: usize, lapic_id: u32) {
    // SAFETY: per the contract, no one else holds a reference to this slot.
    let pc: &'static mut PerCpu = unsafe { &mut *PERCPU[index].0.get() };
    let ptr = pc as *const PerCpu;
    pc.self_ptr = ptr;
    pc.index = index as u32;
    pc.lapic_id = lapic_id;
    pc.tables.load();
    GsBase::write(VirtAddr::from_ptr(ptr));
}

/// Sets the kernel stack used on entry from user mode (syscall and
/// interrupts through TSS.RSP0) for the thread about to run.
pub fn set_kernel_stack(top: u64) {
    let p: *mut PerCpu;
    // SAFETY: see `current`.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    // SAFETY: only the owning CPU writes these fields, with interrupts masked
    // (called from the context switch).
    unsafe {
        (*p).kernel_stack_top = top;
        (*p).tables.set_rsp0(top);
    }
}

/// The calling CPU's struct.
pub fn current() -> &'static PerCpu {
    let p: *const PerCpu;
    // SAFETY: GS base was set by `install` on this CPU before any caller
    // runs; gs:[0] holds the struct's own address.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    // SAFETY: p points at a 'static slot; shared access only reads atomics
    // or fields fixed at install time.
    unsafe { &*p }
}

/// Index of the calling CPU, or 0 before per-CPU state exists.
pub fn cpu_index() -> u32 {
    if GsBase::read().as_u64() == 0 {
        return 0;
    }
    current().index
}

/// A shared view of slot `i` (for reporting on other CPUs).
pub fn slot(i: usize) -> &'static PerCpu {
    // SAFETY: shared reads of a 'static slot; mutation after install is
    // limited to atomics.
    unsafe { &*PERCPU[i].0.get() }
}

/// Marks the calling CPU online (its scheduler owns it from now on).
pub fn mark_online() {
    let pc = current();
    pc.online_tsc.store(super::cpu::rdtsc(), Ordering::Relaxed);
    pc.online.store(true, Ordering::Release);
}

pub fn online_count() -> u32 {
    (0..CPU_COUNT.load(Ordering::Acquire) as usize).filter(|&i| slot(i).online.load(Ordering::Acquire)).count() as u32
}
