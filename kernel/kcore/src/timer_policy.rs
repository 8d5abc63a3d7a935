//! The timer continuation fast path.
//!
//! A tick that interrupts user mode may keep the current thread running
//! without taking any scheduler lock when nothing else needs the CPU: the
//! local run queue is empty, no reschedule was requested, and the per-CPU
//! skip budget is not spent (so the locked path still runs regularly for
//! accounting and fairness). Hard timer work (timed waits, sleepers) never
//! gates it: that lives in the time module, fired by the BSP's tick
//! whichever path the tick takes.
//! Kernel-mode ticks never enter the scheduler: they only advance time.

/// What one tick should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickAction {
    /// Kernel mode: advance time, EOI, return.
    KernelOnly,
    /// User mode, fast path: continue the current thread.
    Continue,
    /// User mode, slow path: run the scheduler, for the given reason.
    Schedule(SlowReason),
}

/// Why a user-mode tick takes the slow path (each is counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlowReason {
    /// The continuation budget is spent; run the locked path once.
    BudgetExhausted,
    /// A reschedule IPI or request is pending on this CPU.
    ReschedulePending,
    /// Threads wait in the local run queue.
    QueueNonEmpty,
}

/// The state a tick decision reads (all lock-free per-CPU values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickInput {
    pub from_user: bool,
    pub reschedule_pending: bool,
    pub local_queue_len: usize,
    pub skips_used: u32,
    pub skip_budget: u32,
}

pub fn decide(i: TickInput) -> TickAction {
    if !i.from_user {
        return TickAction::KernelOnly;
    }
    // A user-mode tick always interrupts a user thread: the idle thread
    // runs in kernel mode, so there is no idle case here.
    let reason = if i.reschedule_pending {
        SlowReason::ReschedulePending
    } else if i.local_queue_len > 0 {
        SlowReason::QueueNonEmpty
    } else if i.skips_used >= i.skip_budget {
        SlowReason::BudgetExhausted
    } else {
        return TickAction::Continue;
    };
    TickAction::Schedule(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TickInput {
        TickInput {
            from_user: true,
            reschedule_pending: false,
            local_queue_len: 0,
            skips_used: 0,
            skip_budget: 4,
        }
    }

    #[test]
    fn kernel_ticks_never_schedule() {
        assert_eq!(
            decide(TickInput { from_user: false, local_queue_len: 9, ..base() }),
            TickAction::KernelOnly
        );
    }

    #[test]
    fn clean_user_tick_continues_until_budget_spent() {
        assert_eq!(decide(base()), TickAction::Continue);
        assert_eq!(decide(TickInput { skips_used: 3, ..base() }), TickAction::Continue);
        assert_eq!(
            decide(TickInput { skips_used: 4, ..base() }),
            TickAction::Schedule(SlowReason::BudgetExhausted)
        );
    }

    #[test]
    fn each_reason_forces_the_slow_path() {
        assert_eq!(
            decide(TickInput { reschedule_pending: true, ..base() }),
            TickAction::Schedule(SlowReason::ReschedulePending)
        );
        assert_eq!(
            decide(TickInput { local_queue_len: 1, ..base() }),
            TickAction::Schedule(SlowReason::QueueNonEmpty)
        );
    }
}
