//! What the kernel above `arch` registers for `arch` to call.
//!
//! `arch` sits at the bottom: it never names the scheduler, processes,
//! capabilities, system calls, time or tests. Traps, interrupts, system
//! calls and new threads end in these hooks instead, registered once at
//! boot (before the first interrupt) by the kernel's `arch_hooks` module.

use super::syscall::SyscallFrame;
use spin::Once;

/// The kernel's handlers for everything `arch` cannot decide itself.
pub struct Hooks {
    /// A timer tick on this CPU (interrupts masked, EOI sent): where it
    /// interrupted, and whether that was user mode.
    pub tick: fn(from_user: bool, rip: u64, rbp: u64),
    /// A sample-clock interrupt on this CPU (measure builds; interrupts
    /// masked, EOI sent), before the tick when both are due.
    #[cfg(feature = "measure")]
    pub sample: fn(from_user: bool, rip: u64, rbp: u64),
    /// A reschedule IPI arrived on this CPU.
    pub reschedule_ipi: fn(),
    /// The self-test IPI arrived on this CPU.
    pub test_ipi: fn(),
    /// An interrupt is about to return to user mode.
    pub before_user_return: fn(),
    /// An exception in user mode (`addr`: CR2 for page faults). Never returns.
    pub user_fault: fn(vector: u64, rip: u64, addr: u64, rbp: u64) -> !,
    /// A kernel exception, after its report and before the system stops
    /// (kernel tests that expect the fault recover here).
    pub kernel_fault: fn(vector: u64),
    /// A system call, with interrupts enabled.
    pub syscall: fn(&mut SyscallFrame),
    /// First code of every new thread.
    pub thread_start: fn() -> !,
    /// An application processor's life once it is online.
    pub ap_main: fn(index: u32) -> !,
    /// Something the measure subsystem counts happened in `arch`.
    #[cfg(feature = "measure")]
    pub event: fn(ArchEvent),
    /// This CPU enters a state (CPU-time accounting); returns the one left.
    #[cfg(feature = "measure")]
    pub cpu_state: fn(CpuState) -> Option<CpuState>,
    /// This CPU spent `[start, end)` TSC in a state and is back in its own.
    #[cfg(feature = "measure")]
    pub cpu_slice: fn(CpuState, u64, u64),
}

#[cfg(feature = "measure")]
pub use capos_measure::cpu_time::CpuState;

/// This CPU enters `s` (measure builds; nothing before the hooks exist).
#[cfg(feature = "measure")]
pub fn cpu_state(s: CpuState) -> Option<CpuState> {
    HOOKS.get().and_then(|h| (h.cpu_state)(s))
}

/// This CPU spent `[start, end)` in `s` and is back in its state.
#[cfg(feature = "measure")]
pub fn cpu_slice(s: CpuState, start: u64, end: u64) {
    if let Some(h) = HOOKS.get() {
        (h.cpu_slice)(s, start, end);
    }
}

/// What `arch` reports to the measure subsystem (measure builds only).
#[cfg(feature = "measure")]
#[derive(Clone, Copy, Debug)]
pub enum ArchEvent {
    /// A runtime CR3 write.
    Cr3Write,
    /// A CPU checked for a shootdown request aimed at it.
    FlushCheck,
    /// A shootdown flushed a whole address space (CR3 reload).
    FlushAll,
    /// A shootdown request was serviced on this CPU.
    FlushServiced,
    /// A shootdown of the space rooted at `pml4` went out to the other CPUs
    /// in `cpu_mask`.
    ShootdownRequest { cpu_mask: u64, pml4: u64 },
    /// One CPU was a shootdown target.
    ShootdownTarget,
    /// A shootdown IPI was sent to `cpu`; `tsc` was read just before the
    /// send (so the event is never stamped after the IPI's arrival).
    ShootdownIpi { cpu: u64, tsc: u64 },
    /// An IPI with `vector` arrived, last sent by `sender_cpu` (`u64::MAX`:
    /// unknown).
    IpiReceived { vector: u8, sender_cpu: u64 },
    /// Bytes written to COM1.
    Com1Bytes(u64),
}

/// Reports `e` to the kernel (nothing before the hooks are registered).
#[cfg(feature = "measure")]
pub fn event(e: ArchEvent) {
    if let Some(h) = HOOKS.get() {
        (h.event)(e);
    }
}

static HOOKS: Once<Hooks> = Once::new();

/// Registers the hooks (once, on the BSP, before interrupts are enabled).
pub fn install(h: Hooks) {
    HOOKS.call_once(|| h);
}

/// The hooks, if registered yet (paths that must work before boot is done).
pub fn try_hooks() -> Option<&'static Hooks> {
    HOOKS.get()
}

pub fn hooks() -> &'static Hooks {
    match HOOKS.get() {
        Some(h) => h,
        None => super::stop::stop_system("arch hooks used before the kernel registered them"),
    }
}
