//! The scheduler.
//!
//! Per-CPU run queues with placement on wakeup and stealing when a CPU runs
//! dry (or, with `sched=global`, one queue for every CPU: `policy.rs`); a
//! timer fast path that continues a user thread without taking any lock;
//! generation-checked `ThreadRef`s. The design, the lock rules and why it
//! scales are in docs/architecture/scheduling.md.

mod cpu;
mod dispatch;
mod global_queue;
#[cfg(feature = "ktest")]
mod global_tests;
mod lifecycle;
mod policy;
mod run_queue;
#[cfg(feature = "ktest")]
mod tests;
mod thread;

#[cfg(feature = "measure")]
pub use dispatch::close_running_stretch;
#[cfg(feature = "measure")]
pub use dispatch::try_with_current;
pub use dispatch::{block_current, current, schedule, wake, with_current};
pub use lifecycle::{exit, join, lookup, thread_count, yield_now, JoinError, Spawn};
pub use policy::{policy, set_balance, set_pick_hold, set_policy, Policy};
pub use thread::{State, Thread, ThreadRef, UserEntry};

use crate::arch::x86_64::{context, interrupts, percpu};
use crate::sync::SchedSite;
use alloc::string::String;
use capos_kcore::timer_policy::{self, TickAction, TickInput};
use core::sync::atomic::Ordering;
use thread::{Entry, KernelStack, Kind, NewThread};

/// Timer continuations allowed before a locked pass must run.
pub const FAST_PATH_SKIP_BUDGET: u32 = 4;

/// Makes the code running now the CPU's first thread and gives the CPU an
/// idle thread. On the BSP the boot context becomes the `kmain` thread and
/// a fresh idle thread is created; on an AP the boot context is the idle
/// thread.
fn adopt_boot_context(index: u32, is_bsp: bool) {
    let cs = dispatch::this();
    let name = if is_bsp { String::from("kmain") } else { alloc::format!("idle{index}") };
    let kind = if is_bsp { Kind::Kernel } else { Kind::Idle };
    let booted = Thread::new(NewThread {
        name,
        kind,
        // The BSP's boot thread stays on CPU 0: it runs the kernel tests,
        // whose fault recovery needs the runner's CPU fixed.
        affinity: Some(index),
        address_space: None,
        process: None,
        ring: None,
        stack: None,
        entry: None,
        initial_state: State::Running,
    });
    if is_bsp {
        if let Ok(r) = lifecycle::THREADS.lock().insert(booted.clone()) {
            booted.set_tref(r);
        }
    }
    let idle = if is_bsp {
        let Some(stack) = KernelStack::new() else {
            crate::panic::stop_system("no memory for the BSP idle stack")
        };
        Thread::new(NewThread {
            name: String::from("idle0"),
            kind: Kind::Idle,
            affinity: Some(0),
            address_space: None,
            process: None,
            ring: None,
            stack: Some(stack),
            entry: Some(Entry::Kernel(alloc::boxed::Box::new(|| idle_loop()))),
            initial_state: State::Ready,
        })
    } else {
        booted.clone()
    };
    booted.last_cpu.store(index, Ordering::Relaxed);
    booted.cpus_run_on.fetch_or(1 << index, Ordering::Relaxed);
    let irq = crate::sync::IrqOff::new();
    cs.current.with(&irq, |c| *c = Some(booted));
    cs.idle.with(&irq, |i| *i = Some(idle));
    cs.running_idle.store(!is_bsp, Ordering::Release);
    cs.active.store(true, Ordering::Release);
    percpu::mark_online();
}

/// Scheduler setup on the BSP; interrupts are enabled on return.
pub fn init_bsp() {
    context::enable_sse();
    crate::arch::x86_64::syscall::init_this_cpu();
    adopt_boot_context(0, true);
    interrupts::start_tick();
    x86_64::instructions::interrupts::enable();
}

/// Scheduler setup on an AP; becomes the AP's idle loop.
pub fn run_ap(index: u32) -> ! {
    context::enable_sse();
    crate::arch::x86_64::syscall::init_this_cpu();
    adopt_boot_context(index, false);
    interrupts::start_tick();
    idle_loop()
}

/// Every idle thread runs this: halt until there is work, then schedule.
///
/// The loop never spins with interrupts masked: when work is visible but
/// `schedule` cannot take it (a queued thread pinned to its CPU, a lock
/// held elsewhere), it halts with interrupts enabled until the next tick or
/// IPI instead of polling. A CPU that polled with interrupts masked would
/// never acknowledge a TLB shootdown, and its initiator would wait forever
/// (the fuzzer found exactly that: an idle CPU spinning on a pinned thread
/// queued behind the initiator).
fn idle_loop() -> ! {
    // CPU-time accounting starts here on every CPU (and the idle thread's
    // later turns come through `switch_to`).
    #[cfg(feature = "measure")]
    crate::measure::cpu_state(crate::measure::CpuState::Idle);
    let cs = dispatch::this();
    loop {
        x86_64::instructions::interrupts::disable();
        if cs.queue_len.load(Ordering::Acquire) > 0
            || cs.reschedule_pending.load(Ordering::Acquire)
            || dispatch::steal_candidate()
        {
            let switches = cs.stats.switches.load(Ordering::Relaxed);
            schedule(SchedSite::StartIdleSelect);
            if cs.stats.switches.load(Ordering::Relaxed) != switches {
                continue; // ran something; look again at once
            }
        }
        cs.halted.store(true, Ordering::Release);
        // `sti; hlt` is atomic with respect to interrupts: none is lost.
        x86_64::instructions::interrupts::enable_and_hlt();
        cs.halted.store(false, Ordering::Release);
    }
}

/// Runs `f` (the timer interrupt's expiry of timed waits) so that the
/// wakeups it makes name no waking thread.
pub fn timer_expiry(f: impl FnOnce()) {
    let cs = dispatch::this();
    cs.in_timer_expiry.store(true, Ordering::Relaxed);
    f();
    cs.in_timer_expiry.store(false, Ordering::Relaxed);
}

/// A reschedule IPI arrived on this CPU: run the scheduler at the next
/// opportunity.
pub fn reschedule_ipi() {
    let cs = dispatch::this();
    cs.reschedule_pending.store(true, Ordering::Release);
}

/// The self-test IPI arrived on this CPU (kernel tests count them).
pub fn test_ipi() {
    dispatch::this().stats.test_ipis_received.fetch_add(1, Ordering::Relaxed);
}

/// Scheduler statistics of CPU `i`.
pub fn cpu_stats(i: usize) -> &'static cpu::CpuStats {
    &dispatch::cpu_sched(i).stats
}

/// First code of every new thread (reached from `thread_entry_trampoline`).
pub fn thread_start() -> ! {
    dispatch::after_switch();
    let entry = current().entry.lock().take();
    x86_64::instructions::interrupts::enable();
    match entry {
        Some(Entry::Kernel(f)) => exit(f()),
        Some(Entry::User(f)) => {
            let e = f();
            crate::arch::x86_64::syscall::enter_user(e.rip, e.rsp, e.rdi, e.rsi, e.rdx)
        }
        None => exit(0),
    }
}

/// Whether this CPU is running its idle thread.
#[cfg(feature = "measure")]
pub fn running_idle() -> bool {
    dispatch::this().running_idle.load(Ordering::Acquire)
}

/// Whether a thread waits in a run queue this CPU does not own (under the
/// global policy: in the one queue), whatever the stealing setting: an
/// idle CPU that sees this is idle beside waiting work.
#[cfg(feature = "measure")]
pub fn work_queued_elsewhere() -> bool {
    dispatch::work_queued_elsewhere()
}

/// Timer tick on this CPU (interrupts masked, EOI already sent).
pub fn on_tick(from_user: bool) {
    let cs = dispatch::this();
    cs.stats.ticks.fetch_add(1, Ordering::Relaxed);
    if !cs.active.load(Ordering::Acquire) {
        return;
    }
    let input = TickInput {
        from_user,
        reschedule_pending: cs.reschedule_pending.load(Ordering::Acquire),
        local_queue_len: if policy::global() {
            global_queue::queued()
        } else {
            cs.queue_len.load(Ordering::Acquire)
        },
        skips_used: cs.skips_used.load(Ordering::Relaxed),
        skip_budget: FAST_PATH_SKIP_BUDGET,
    };
    match timer_policy::decide(input) {
        TickAction::KernelOnly => {}
        TickAction::Continue => {
            cs.skips_used.fetch_add(1, Ordering::Relaxed);
            crate::m_add!(capos_measure::catalogue::timer_fast_path::attempts);
            crate::m_add!(capos_measure::catalogue::timer_fast_path::continues);
        }
        TickAction::Schedule(reason) => {
            count_slow_path(reason);
            schedule(SchedSite::TimerSelect);
        }
    }
}

/// Counts why a user-mode tick took the locked path (what it left behind
/// is counted at its pick, `dispatch::pick_next`).
#[cfg_attr(not(feature = "measure"), allow(unused_variables))]
fn count_slow_path(reason: timer_policy::SlowReason) {
    #[cfg(feature = "measure")]
    {
        use capos_measure::catalogue::timer_fast_path as fp;
        use timer_policy::SlowReason as R;
        crate::m_add!(fp::attempts);
        crate::m_add!(match reason {
            R::BudgetExhausted => fp::fallback_budget_exhausted,
            R::ReschedulePending => fp::fallback_reschedule_pending,
            R::QueueNonEmpty => fp::fallback_queue_nonempty,
        });
    }
}
