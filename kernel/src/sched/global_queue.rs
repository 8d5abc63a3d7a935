//! The global run queue (`sched=global`): CPU 0's run queue and its lock
//! serve every CPU, so the measured `scheduler_lock` class and its site
//! counters see every access under the per-CPU design's site labels.
//!
//! Queueing pushes onto the one queue and wakes one CPU to take the work:
//! a pinned thread's own CPU, else an idle CPU that has not already been
//! kicked (the thread's previous CPU first, then scanning from the caller's
//! successor, `kcore::placement`), else the caller itself at its next
//! scheduling point. Picking takes the first queued thread this CPU may
//! run (unpinned, or pinned here). There is nothing to steal.

use super::cpu::CpuSched;
use super::dispatch::{count_slow_path_left, cpu_count, cpu_sched, kick, QueueLen, GLOBAL_QUEUE};
use super::run_queue::RunQueue;
use super::thread::Thread;
use crate::arch::x86_64::percpu;
use crate::sync::SchedSite;
use alloc::sync::Arc;
use capos_kcore::placement::{self, CpuLoad};
#[cfg(feature = "measure")]
use capos_measure::catalogue::scheduler as msched;
use core::sync::atomic::Ordering;

/// The CPU whose run queue is the global one.
const QUEUE_CPU: usize = 0;

fn queue() -> &'static CpuSched {
    cpu_sched(QUEUE_CPU)
}

/// Threads waiting in the global queue (lock-free mirror).
pub(super) fn queued() -> usize {
    queue().queue_len.load(Ordering::Acquire)
}

/// Queues `t` (state Ready, off every CPU) on the global queue and wakes
/// the CPU chosen to run it; returns that CPU.
pub(super) fn enqueue(t: Arc<Thread>, site: SchedSite) -> usize {
    let me = percpu::cpu_index() as usize;
    let target = match t.affinity {
        Some(a) => a as usize,
        None => {
            let prev = t.last_cpu.load(Ordering::Relaxed) as usize;
            kick_target(me, (prev < cpu_count()).then_some(prev))
        }
    };
    let q = queue();
    let len = {
        let mut rq = q.run_queue.lock_at(site);
        rq.push_back(t);
        q.queue_len.store(rq.len(), Ordering::Release);
        QueueLen::now(GLOBAL_QUEUE, rq.len())
    };
    len.trace();
    if target == me {
        cpu_sched(me).reschedule_pending.store(true, Ordering::Release);
    } else {
        kick(target);
    }
    target
}

/// The CPU to wake for an unpinned thread: an idle CPU not yet kicked (a
/// pending reschedule counts as one queued thread), else the least busy,
/// ties to the caller.
fn kick_target(me: usize, prev: Option<usize>) -> usize {
    let n = cpu_count();
    let mut loads = [CpuLoad { idle: false, queued: usize::MAX }; percpu::MAX_CPUS];
    for (i, l) in loads.iter_mut().enumerate().take(n) {
        let c = cpu_sched(i);
        if c.active.load(Ordering::Acquire) {
            *l = CpuLoad {
                idle: c.running_idle.load(Ordering::Acquire),
                queued: usize::from(c.reschedule_pending.load(Ordering::Acquire)),
            };
        }
    }
    placement::choose(&loads[..n], me, prev)
}

/// The first queued thread this CPU may run; the lock is attributed to `site`.
pub(super) fn pick(site: SchedSite) -> Option<Arc<Thread>> {
    let me = percpu::cpu_index() as usize;
    let q = queue();
    let picked = {
        let mut rq = q.run_queue.lock_at(site);
        super::policy::pad_pick_hold();
        let picked = pop_runnable_here(&mut rq, me);
        if site == SchedSite::TimerSelect {
            count_slow_path_left(rq.len());
        }
        picked.map(|t| {
            q.queue_len.store(rq.len(), Ordering::Release);
            (t, QueueLen::now(GLOBAL_QUEUE, rq.len()))
        })
    };
    picked.map(|(t, len)| {
        len.trace();
        crate::m_add!(msched::candidates_local);
        t
    })
}

/// Takes the first thread in `rq` that CPU `cpu` may run.
pub(super) fn pop_runnable_here(rq: &mut RunQueue, cpu: usize) -> Option<Arc<Thread>> {
    rq.pop_first_if(|t| t.affinity.is_none_or(|a| a as usize == cpu))
}
