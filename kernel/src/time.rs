//! Time: nanoseconds from the TSC, and timed waits.
//!
//! Timed waits sit in one deadline list checked on every BSP tick (the
//! coarse clock); an expired entry wakes its thread, posts its completion
//! or runs its callback. Every entry has an id and is removed when its wait
//! ends early (a wakeup, an unpark, the thread's exit), so the list holds
//! only waits that are still pending: bounded by the threads that exist and
//! their ring reservations. Adding an entry allocates (thread context, and
//! fallibly); expiring one never does.

use crate::arch::x86_64::{cpu, tsc};
use crate::cap::completion::Completion;
use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use core::sync::atomic::{AtomicU64, Ordering};

/// Nanoseconds since reset.
pub fn now_ns() -> u64 {
    let hz = tsc::hz().max(1);
    (cpu::rdtsc() as u128 * 1_000_000_000 / hz as u128) as u64
}

/// A TSC deadline `ns` from now; `None` for "never" (`u64::MAX`). Deadlines
/// past the end of the TSC's range saturate (they never pass), so a huge
/// timeout can never wrap into a short one.
pub fn deadline_after_ns(ns: u64) -> Option<u64> {
    if ns == u64::MAX {
        return None;
    }
    let ticks = u64::try_from(ns as u128 * tsc::hz() as u128 / 1_000_000_000).unwrap_or(u64::MAX);
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
    id: u64,
    deadline: u64,
    action: Action,
}

/// Names a pending timer entry (for `cancel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId(u64);

static TIMERS: IrqSpinLock<Vec<Entry>> =
    IrqSpinLock::shared(Vec::new(), crate::sync::SharedClass::Timers);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn add(deadline: u64, action: Action) -> Result<TimerId, Error> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut t = TIMERS.lock();
    // Grow here (thread context), never in the tick handler; a full heap is
    // an error for the caller, not a panic.
    t.try_reserve(1).map_err(|_| Error::OutOfResources)?;
    t.push(Entry { id, deadline, action });
    Ok(TimerId(id))
}

/// Removes a pending entry; `false` if it already fired (or never existed).
pub fn cancel(id: TimerId) -> bool {
    let gone = {
        let mut t = TIMERS.lock();
        let gone = t.iter().position(|e| e.id == id.0).map(|i| t.swap_remove(i));
        crate::mm::heap::trim(&mut t);
        gone
    };
    gone.is_some()
}

/// Blocks `t` (the current thread) until woken or `deadline` passes. The
/// wake entry is removed however the wait ends.
pub fn block_until(t: &Arc<Thread>, deadline: Option<u64>) -> Result<(), Error> {
    let id = deadline.map(|d| add(d, Action::Wake(t.clone()))).transpose()?;
    sched::block_current();
    if let Some(id) = id {
        cancel(id);
    }
    Ok(())
}

/// Posts `c` (result 0) once `deadline` passes.
pub fn complete_at(deadline: u64, c: Completion) -> Result<TimerId, Error> {
    add(deadline, Action::Complete(c))
}

/// Runs `f(arg)` from the tick handler once `deadline` passes (`f` must
/// not allocate).
pub fn call_at(deadline: u64, f: fn(u64), arg: u64) -> Result<TimerId, Error> {
    add(deadline, Action::Call(f, arg))
}

/// Removes the completions pending for `t` (which is exiting); returns how
/// many there were.
pub fn cancel_for(t: &Arc<Thread>) -> usize {
    let mine: Vec<Entry> = {
        let mut timers = TIMERS.lock();
        let mine = timers
            .extract_if(.., |e| match &e.action {
                Action::Complete(c) => c.is_for(t),
                Action::Wake(w) => Arc::ptr_eq(w, t),
                Action::Call(..) => false,
            })
            .collect();
        crate::mm::heap::trim(&mut timers);
        mine
    };
    mine.len()
}

/// Entries pending now.
pub fn pending() -> usize {
    TIMERS.lock().len()
}

/// Called on every BSP tick (interrupts masked): fires expired entries.
pub fn on_tick() {
    let now = cpu::rdtsc();
    loop {
        let fired = {
            let mut t = TIMERS.lock();
            // Earliest first, so waits that expire on the same tick complete
            // in deadline order.
            match t
                .iter()
                .enumerate()
                .filter(|(_, e)| e.deadline <= now)
                .min_by_key(|(_, e)| e.deadline)
            {
                Some((i, _)) => t.swap_remove(i),
                None => break,
            }
        };
        match fired.action {
            Action::Wake(th) => sched::wake(&th),
            Action::Complete(c) => crate::cap::completion::complete(c, 0, None),
            Action::Call(f, arg) => f(arg),
        }
    }
}

#[cfg(feature = "ktest")]
mod tests {
    use crate::arch::x86_64::{cpu, tsc};
    use crate::sched::{self, Spawn};
    use crate::{kassert, kassert_eq, ktest};
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    ktest!(
        fn early_woken_timed_waits_leave_no_timer_entry_behind() -> KResult {
            const WAITS: u32 = 2000;
            let before = super::pending();
            let done = Arc::new(AtomicU32::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let (d, st) = (done.clone(), stop.clone());
            let sleeper = Spawn::named("timed-waiter")
                .start(move || {
                    let me = sched::current();
                    for _ in 0..WAITS {
                        // Ten seconds: every one of these waits ends early.
                        let deadline = super::deadline_after_ns(10_000_000_000);
                        if super::block_until(&me, deadline).is_err() {
                            return 1;
                        }
                        d.fetch_add(1, Ordering::Release);
                    }
                    st.store(true, Ordering::Release);
                    0
                })
                .map_err(|e| alloc::format!("{e:?}"))?;
            let t = sched::lookup(sleeper).ok_or("sleeper gone")?;
            let end = cpu::rdtsc() + tsc::hz() * 20;
            while !stop.load(Ordering::Acquire) && cpu::rdtsc() < end {
                sched::wake(&t);
                sched::yield_now();
            }
            drop(t);
            kassert_eq!(sched::join(sleeper), Ok(0));
            kassert_eq!(done.load(Ordering::Acquire), WAITS);
            kassert_eq!(super::pending(), before);
            Ok(())
        }
    );

    ktest!(
        fn huge_timeouts_saturate_instead_of_wrapping() -> KResult {
            let now = cpu::rdtsc();
            let far =
                super::deadline_after_ns(u64::MAX - 1).ok_or("u64::MAX - 1 is not forever")?;
            kassert!(far > now + tsc::hz() * 1_000_000, "deadline {} wrapped (now {})", far, now);
            kassert!(!super::passed(far), "a saturated deadline has passed");
            kassert_eq!(super::deadline_after_ns(u64::MAX), None);
            let id = super::call_at(far, |_| {}, 0).map_err(|e| alloc::format!("{e:?}"))?;
            kassert!(super::cancel(id), "a far timer could not be cancelled");
            kassert!(!super::cancel(id), "a timer was cancelled twice");
            Ok(())
        }
    );
}
