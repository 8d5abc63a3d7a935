//! One struct per CPU, reached through GS base.
//!
//! Slot `i` of [`PERCPU`] belongs to the CPU with index `i` (index 0 is the
//! BSP; APs follow the order of the Limine MP response). A CPU writes only
//! its own slot once it is running; GS base points at the slot and its first
//! word points at itself, so `gs:[0]` yields the struct without a lookup.

use super::gdt::CpuTables;
use crate::sync::IrqOff;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use x86_64::registers::model_specific::GsBase;
use x86_64::VirtAddr;

/// Most CPUs the kernel brings online; more are reported and left parked.
pub const MAX_CPUS: usize = 16;

/// Every field is an atomic or a cell: slots are shared with every CPU
/// (`slot(i)`) from the start, so nothing is ever written through `&mut`.
#[repr(C, align(64))]
pub struct PerCpu {
    /// Address of this struct (read through `gs:[0]`).
    self_ptr: AtomicU64,
    /// Top of the running thread's kernel stack (`syscall` entry switches to it).
    pub kernel_stack_top: AtomicU64,
    /// Scratch for the user RSP during `syscall` entry.
    pub user_rsp: AtomicU64,
    index: AtomicU32,
    lapic_id: AtomicU32,
    /// Set once the CPU has loaded its tables and entered the kernel proper.
    pub online: AtomicBool,
    /// TSC when the CPU came online.
    pub online_tsc: AtomicU64,
    pub tables: CpuTables,
}

impl PerCpu {
    const fn new() -> Self {
        PerCpu {
            self_ptr: AtomicU64::new(0),
            kernel_stack_top: AtomicU64::new(0),
            user_rsp: AtomicU64::new(0),
            index: AtomicU32::new(0),
            lapic_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            online_tsc: AtomicU64::new(0),
            tables: CpuTables::new(),
        }
    }

    pub fn index(&self) -> u32 {
        self.index.load(Ordering::Relaxed)
    }

    pub fn lapic_id(&self) -> u32 {
        self.lapic_id.load(Ordering::Relaxed)
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: PerCpu = PerCpu::new();

pub static PERCPU: [PerCpu; MAX_CPUS] = [EMPTY; MAX_CPUS];

/// Number of CPUs the boot protocol reported (online or not).
pub static CPU_COUNT: AtomicU32 = AtomicU32::new(1);

/// Claims slot `index` for the calling CPU and points GS base at it.
///
/// # Safety
/// Must be called once per CPU, by that CPU, before anything reads `current()`.
/// Also loads the CPU's GDT and TSS (they live in the slot).
pub unsafe fn install(index: usize, lapic_id: u32) {
    let pc = &PERCPU[index];
    let ptr = pc as *const PerCpu;
    pc.self_ptr.store(ptr as u64, Ordering::Relaxed);
    pc.index.store(index as u32, Ordering::Relaxed);
    pc.lapic_id.store(lapic_id, Ordering::Relaxed);
    // SAFETY: per our contract this is the owning CPU, once, before it
    // takes interrupts.
    unsafe { pc.tables.load() };
    GsBase::write(VirtAddr::from_ptr(ptr));
}

/// Sets the kernel stack used on entry from user mode (syscall and
/// interrupts through TSS.RSP0) for the thread about to run.
pub fn set_kernel_stack(irq: &IrqOff, top: u64) {
    let pc = current();
    pc.kernel_stack_top.store(top, Ordering::Relaxed);
    pc.tables.set_rsp0(irq, top);
}

/// The calling CPU's struct.
pub fn current() -> &'static PerCpu {
    let p: *const PerCpu;
    // SAFETY: GS base was set by `install` on this CPU before any caller
    // runs; gs:[0] holds the struct's own address.
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags))
    };
    // SAFETY: p points at a 'static slot that is only ever shared.
    unsafe { &*p }
}

/// Index of the calling CPU, or 0 before per-CPU state exists.
pub fn cpu_index() -> u32 {
    if GsBase::read().as_u64() == 0 {
        return 0;
    }
    current().index()
}

/// Slot `i` (for reporting on, and queueing work for, other CPUs).
pub fn slot(i: usize) -> &'static PerCpu {
    &PERCPU[i]
}

/// Marks the calling CPU online (its scheduler owns it from now on).
pub fn mark_online() {
    let pc = current();
    pc.online_tsc.store(super::cpu::rdtsc(), Ordering::Relaxed);
    pc.online.store(true, Ordering::Release);
}

pub fn online_count() -> u32 {
    (0..CPU_COUNT.load(Ordering::Acquire) as usize)
        .filter(|&i| slot(i).online.load(Ordering::Acquire))
        .count() as u32
}
