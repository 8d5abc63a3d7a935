//! Time: nanoseconds from the TSC, and timed waits.
//!
//! Timed waits sit in one deadline list checked on every BSP tick (the
//! coarse clock); an expired entry wakes its thread or posts its completion.
//! Adding an entry allocates (thread context); expiring one never does.

use crate::arch::x86_64::{cpu, tsc};
use crate::cap::Completion;
use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Nanoseconds since reset.
pub fn now_ns() -> u64 {
    let hz = tsc::hz().max(1);
    (cpu::rdtsc() as u128 * 1_000_000_000 / hz as u128) as u64
}

/// A TSC deadline `ns` from now; `None` for "never" (`u64::MAX`).
pub fn deadline_after_ns(ns: u64) -> Option<u64> {
    if ns == u64::MAX {
        return None;
    }
    let ticks = (ns as u128 * tsc::hz() as u128 / 1_000_000_000) as u64;
    Some(cpu::rdtsc().saturating_add(ticks))
}

pub fn passed(deadline: u64) -> bool {
    cpu::rdtsc() >= deadline
}

enum Action {
    Wake(Arc<Thread>),
    Complete(Completion),
    Call(fn(u64), u64),
}

struct Entry {
    deadline: u64,
    action: Action,
}

static TIMERS: IrqSpinLock<Vec<Entry>> = IrqSpinLock::new(Vec::new());

fn add(deadline: u64, action: Action) {
    let mut t = TIMERS.lock();
    // Reserve outside the lock would race; timers are few, so grow here
    // (thread context) and never in the tick handler.
    t.push(Entry { deadline, action });
}

/// Blocks `t` (the current thread) until woken or `deadline` passes.
pub fn block_until(t: &Arc<Thread>, deadline: Option<u64>) {
    if let Some(d) = deadline {
        add(d, Action::Wake(t.clone()));
    }
    sched::block_current();
}

/// Posts `c` (result 0) once `deadline` passes.
pub fn complete_at(deadline: u64, c: Completion) {
    add(deadline, Action::Complete(c));
}

/// Runs `f(arg)` from the tick handler once `deadline` passes (`f` must
/// not allocate).
pub fn call_at(deadline: u64, f: fn(u64), arg: u64) {
    add(deadline, Action::Call(f, arg));
}

/// Called on every BSP tick (interrupts masked): fires expired entries.
pub fn on_tick() {
    let now = cpu::rdtsc();
    loop {
        let fired = {
            let mut t = TIMERS.lock();
            // Earliest first, so waits that expire on the same tick complete
            // in deadline order.
            match t.iter().enumerate().filter(|(_, e)| e.deadline <= now).min_by_key(|(_, e)| e.deadline) {
                Some((i, _)) => t.swap_remove(i),
                None => break,
            }
        };
        match fired.action {
            Action::Wake(th) => sched::wake(&th),
            Action::Complete(c) => crate::cap::ring::complete(c, 0, None),
            Action::Call(f, arg) => f(arg),
        }
    }
}
