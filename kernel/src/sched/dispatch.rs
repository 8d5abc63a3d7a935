//! The scheduler core: picking, switching, queueing, blocking, waking.
//!
//! Every function here runs with interrupts masked on the calling CPU.
//! Lock order: a thread's `sched` lock, then at most one run-queue lock.
//! No path holds a run-queue lock while taking a thread lock.

use super::cpu::CpuSched;
use super::thread::{State, Thread};
use super::{global_queue, policy};
use crate::arch::x86_64::context::context_switch;
use crate::arch::x86_64::{interrupts, ipi, percpu, tlb};
use crate::mm::address_space::AddressSpace;
use crate::sync::{IrqOff, SchedSite};
use alloc::sync::Arc;
use capos_kcore::placement::{self, CpuLoad};
#[cfg(feature = "measure")]
use capos_measure::catalogue::{scheduler as msched, thread_placement as mplace};
use core::sync::atomic::Ordering;

/// The calling CPU's scheduler state.
pub(super) fn this() -> &'static CpuSched {
    &super::cpu::CPUS[percpu::current().index() as usize]
}

/// CPU `i`'s scheduler state.
pub(super) fn cpu_sched(i: usize) -> &'static CpuSched {
    &super::cpu::CPUS[i]
}

pub(super) fn cpu_count() -> usize {
    percpu::CPU_COUNT.load(Ordering::Acquire) as usize
}

/// Runs `f` on the thread running on this CPU without taking a reference
/// (`f` must not reach the scheduler's per-CPU state).
pub fn with_current<R>(f: impl FnOnce(&Thread) -> R) -> R {
    let irq = IrqOff::new();
    let r = this().current.with(&irq, |c| c.as_deref().map(f));
    r.unwrap_or_else(|| crate::panic::stop_system("scheduler used before it owns this CPU"))
}

/// [`with_current`] that answers `None` before the scheduler owns this CPU
/// (a sample may land there during boot).
#[cfg(feature = "measure")]
pub fn try_with_current<R>(f: impl FnOnce(&Thread) -> R) -> Option<R> {
    let irq = IrqOff::new();
    this().current.with(&irq, |c| c.as_deref().map(f))
}

/// The thread running on this CPU.
pub fn current() -> Arc<Thread> {
    let irq = IrqOff::new();
    let c = this().current.with(&irq, |c| c.clone());
    c.unwrap_or_else(|| crate::panic::stop_system("scheduler used before it owns this CPU"))
}

/// Makes `t` (state Ready, off every CPU) runnable on the CPU the placement
/// policy picks, and tells that CPU if it is idle; the run-queue lock is
/// attributed to `site`. Returns the CPU it was queued on (under the global
/// policy: the CPU told to take it).
pub(super) fn enqueue_at(t: Arc<Thread>, site: SchedSite) -> usize {
    if policy::global() {
        return global_queue::enqueue(t, site);
    }
    let me = percpu::cpu_index() as usize;
    let n = cpu_count();
    let target = match t.affinity {
        Some(a) => a as usize,
        None => {
            let mut loads = [CpuLoad { idle: false, queued: usize::MAX }; percpu::MAX_CPUS];
            for (i, l) in loads.iter_mut().enumerate().take(n) {
                let c = cpu_sched(i);
                if c.active.load(Ordering::Acquire) {
                    *l = CpuLoad {
                        idle: c.running_idle.load(Ordering::Acquire),
                        queued: c.queue_len.load(Ordering::Acquire),
                    };
                }
            }
            let prev = t.last_cpu.load(Ordering::Relaxed) as usize;
            if !policy::balance() && prev < n {
                // No balancing: a thread that has run goes back where it ran.
                prev
            } else {
                placement::choose(&loads[..n], me, (prev < n).then_some(prev))
            }
        }
    };
    let c = cpu_sched(target);
    let len = {
        let mut rq = c.run_queue.lock_at(site);
        rq.push_back(t);
        c.queue_len.store(rq.len(), Ordering::Release);
        QueueLen::now(target as u8, rq.len())
    };
    len.trace();
    if target == me {
        c.reschedule_pending.store(true, Ordering::Release);
    } else {
        kick(target);
    }
    target
}

/// Sends a reschedule IPI to `target` if it is idle (a busy CPU finds the
/// work at its next scheduling point).
pub(super) fn kick(target: usize) {
    let c = cpu_sched(target);
    c.reschedule_pending.store(true, Ordering::Release);
    crate::m_add!(msched::resched_ipi_target);
    if !c.running_idle.load(Ordering::Acquire) {
        crate::m_add!(msched::resched_ipi_skipped);
        return;
    }
    #[cfg(feature = "measure")]
    let stamp = crate::arch::x86_64::cpu::rdtsc();
    if ipi::send(target, interrupts::RESCHEDULE) {
        crate::m_add!(msched::resched_ipi_sent);
        #[cfg(feature = "measure")]
        crate::measure::trace_at(
            stamp,
            capos_measure::trace::TraceArgs::IpiSend {
                target_cpu: target as u64,
                vector: interrupts::RESCHEDULE,
            },
        );
    }
}

/// Next thread for this CPU: the local queue first (its lock attributed
/// to `site`, why the scheduler runs), then a steal.
fn pick_next(cs: &'static CpuSched, site: SchedSite) -> Option<Arc<Thread>> {
    crate::m_segment!(SchedChooseNext, { pick_next_inner(cs, site) })
}

fn pick_next_inner(cs: &'static CpuSched, site: SchedSite) -> Option<Arc<Thread>> {
    if policy::global() {
        return global_queue::pick(site);
    }
    let picked = {
        let mut rq = cs.run_queue.lock_at(site);
        policy::pad_pick_hold();
        let picked = rq.pop_front();
        if site == SchedSite::TimerSelect {
            count_slow_path_left(rq.len());
        }
        picked.map(|t| {
            cs.queue_len.store(rq.len(), Ordering::Release);
            (t, QueueLen::now(percpu::cpu_index() as u8, rq.len()))
        })
    };
    if let Some((t, len)) = picked {
        len.trace();
        crate::m_add!(msched::candidates_local);
        return Some(t);
    }
    if !policy::balance() {
        return None;
    }
    let me = percpu::cpu_index() as usize;
    let n = cpu_count();
    for k in 1..n {
        let victim = cpu_sched((me + k) % n);
        if victim.queue_len.load(Ordering::Acquire) == 0 {
            continue;
        }
        let stolen = {
            let mut rq = victim.run_queue.lock_at(SchedSite::Steal);
            rq.pop_front_if(|t| t.affinity.is_none()).map(|t| {
                victim.queue_len.store(rq.len(), Ordering::Release);
                (t, QueueLen::now(((me + k) % n) as u8, rq.len()))
            })
        };
        if let Some((t, len)) = stolen {
            len.trace();
            crate::m_add!(msched::candidates_stolen);
            return Some(t);
        }
    }
    None
}

/// What a timer slow path's pick left in the local queue.
#[cfg_attr(not(feature = "measure"), allow(unused_variables))]
pub(super) fn count_slow_path_left(queued: usize) {
    #[cfg(feature = "measure")]
    {
        use capos_measure::catalogue::timer_slow_summary as ss;
        if queued > 0 {
            crate::m_add!(ss::required);
            crate::m_add!(ss::run_queue_nonempty);
        } else {
            crate::m_add!(ss::clean);
        }
    }
}

/// Whether another CPU has queued work this CPU may take (under the
/// global policy: whether the one queue holds anything).
pub(super) fn steal_candidate() -> bool {
    if !policy::global() && !policy::balance() {
        return false;
    }
    work_queued_elsewhere()
}

/// Whether a thread waits in another CPU's queue (global policy: in the
/// one queue), stealing on or off.
pub(super) fn work_queued_elsewhere() -> bool {
    if policy::global() {
        return global_queue::queued() > 0;
    }
    let me = percpu::cpu_index() as usize;
    (0..cpu_count()).any(|i| i != me && cpu_sched(i).queue_len.load(Ordering::Acquire) > 0)
}

/// Gives the CPU to the next runnable thread. If the current thread is still
/// Running it is preempted (requeued); if it blocked or exited it is not.
/// `why` names the reason (the local run-queue lock's site).
pub fn schedule(why: SchedSite) {
    let irq = IrqOff::new();
    let cs = this();
    cs.reschedule_pending.store(false, Ordering::Relaxed);
    cs.skips_used.store(0, Ordering::Relaxed);
    let Some(prev) = cs.current.with(&irq, |c| c.clone()) else { return };
    let prev_runnable = !prev.is_idle() && {
        let mut s = prev.sched.lock();
        if s.state == State::Running {
            s.state = State::Ready;
            true
        } else {
            false
        }
    };
    let next = match pick_next(cs, why) {
        Some(t) => t,
        None if prev_runnable => {
            prev.sched.lock().state = State::Running;
            return;
        }
        None if prev.is_idle() => return,
        None => {
            crate::m_add!(msched::candidates_idle);
            let idle = cs.idle.with(&irq, |i| i.clone());
            idle.unwrap_or_else(|| crate::panic::stop_system("no idle thread"))
        }
    };
    {
        let mut s = next.sched.lock();
        s.state = State::Running;
        s.on_cpu = true;
    }
    switch_to(cs, &irq, prev, next);
}

fn switch_to(cs: &'static CpuSched, irq: &IrqOff, prev: Arc<Thread>, next: Arc<Thread>) {
    cs.stats.switches.fetch_add(1, Ordering::Relaxed);
    cs.running_idle.store(next.is_idle(), Ordering::Release);
    let me = percpu::cpu_index();
    let last = next.last_cpu.swap(me, Ordering::Relaxed);
    let ran_here_before = next.cpus_run_on.fetch_or(1 << me, Ordering::Relaxed) & (1 << me) != 0;
    if !next.is_idle() {
        crate::m_add!(msched::outcome_runnable);
    }
    crate::m_trace!(ContextSwitch {
        prev: prev.tref().to_u64(),
        next: next.tref().to_u64(),
        prev_state: prev.sched.lock().state as u8,
    });
    if next.process.is_some() {
        crate::m_add!(mplace::selected.at(me as usize));
        if !ran_here_before {
            crate::m_add!(mplace::first_selected.at(me as usize));
        }
        if last != me && last != u32::MAX {
            crate::m_add!(mplace::migrations.at(me as usize));
        }
    }
    let _ = (last, ran_here_before);
    // One TSC for the CPU's state and both threads' clocks: the CPU is
    // idle (or in the kernel for `next`) from the instant `prev` stops
    // running, so at every instant it runs one accounted thread or idles
    // (`measure check`: `thread_time_running`).
    #[cfg(feature = "measure")]
    {
        let now = crate::arch::x86_64::cpu::rdtsc();
        account_switch(&prev, &next, now);
        crate::measure::cpu_state_at(
            if next.is_idle() {
                crate::measure::CpuState::Idle
            } else {
                crate::measure::CpuState::Kernel
            },
            now,
        );
    }
    switch_address_space(cs, irq, &next);
    if next.kernel_stack_top != 0 {
        percpu::set_kernel_stack(irq, next.kernel_stack_top);
    }
    if next.process.is_some() {
        crate::arch::x86_64::syscall::set_fs_base(next.fs_base.load(Ordering::Relaxed));
    }
    let save = prev.ctx_rsp.get();
    let fpu = prev.fpu.get();
    // SAFETY: next's context was saved by a previous switch (or prepared
    // by prepare_stack) and next is marked on_cpu for this CPU only.
    let load = unsafe { *next.ctx_rsp.get() };
    // The references move into the per-CPU cells so no Arc stays on a
    // stack that may never resume.
    cs.prev.with(irq, |p| *p = Some(prev));
    cs.current.with(irq, |c| *c = Some(next));
    // SAFETY: owner CPU, interrupts masked; prev is on this CPU (on_cpu), so
    // nobody else touches its FPU area or saved stack pointer until
    // finish_switch clears on_cpu after the switch.
    unsafe {
        (*fpu).save();
        context_switch(save, load);
    }
    after_switch();
}

/// Thread time at a switch: `prev` leaves and `next` starts running at
/// one TSC, so at every instant a CPU runs one accounted thread (or idle).
#[cfg(feature = "measure")]
fn account_switch(prev: &Thread, next: &Thread, now: u64) {
    use crate::measure::ThreadState;
    {
        let s = prev.sched.lock();
        let ready = s.state == State::Ready;
        let out = crate::measure::switched_out_state(prev, ready, s.state == State::Exited);
        if let Some(ThreadState::Blocked(_)) = out {
            // Still on `prev`'s stack: where it blocked.
            crate::measure::note_block(prev);
        }
        crate::measure::thread_state(prev, out, now);
    }
    let _s = next.sched.lock();
    crate::measure::thread_state(next, Some(ThreadState::Running), now);
}

/// Closes the running thread's stretch of thread time at this TSC (it
/// goes on running): see `measure::close_running_after_mark`. Interrupts
/// masked (the sample interrupt).
#[cfg(feature = "measure")]
pub fn close_running_stretch() {
    let irq = IrqOff::new();
    // The per-CPU cell keeps the thread alive: this clone is never the last.
    let Some(t) = this().current.with(&irq, |c| c.clone()) else { return };
    if t.is_idle() {
        return;
    }
    let _s = t.sched.lock();
    let now = crate::arch::x86_64::cpu::rdtsc();
    crate::measure::thread_state(&t, Some(crate::measure::ThreadState::Running), now);
}

/// Runs in the thread that just got the CPU: restore its FPU state and
/// settle the thread that left.
pub(super) fn after_switch() {
    let cs = this();
    let irq = IrqOff::new();
    cs.current.with(&irq, |cur| {
        if let Some(cur) = cur {
            // SAFETY: the current thread runs on this CPU only; its FPU area
            // was saved when it last left a CPU.
            unsafe { (*cur.fpu.get()).restore() };
        }
    });
    finish_switch(cs, &irq);
}

fn finish_switch(cs: &'static CpuSched, irq: &IrqOff) {
    let Some(prev) = cs.prev.with(irq, |p| p.take()) else { return };
    let (state, woken_by) = {
        let mut s = prev.sched.lock();
        s.on_cpu = false;
        (s.state, core::mem::take(&mut s.woken_by))
    };
    match state {
        // Woken while still switching out: the wakeup's queueing happens here.
        State::Ready if woken_by.is_some() => {
            let stamp = wake_stamp();
            let target = enqueue_at(prev.clone(), SchedSite::WakeUnblock);
            trace_wakeup(stamp, &prev, target, woken_by.unwrap_or(0));
        }
        State::Ready if !prev.is_idle() => {
            crate::m_segment!(ScheduleSaveRequeue, { enqueue_at(prev, SchedSite::PreemptRequeue) });
        }
        State::Exited => {
            // Deferred stack release: only now is nobody running on it.
            prev.release_stack();
            let joiner = prev.joiner.lock().take();
            if let Some(j) = joiner {
                wake(&j);
            }
            if prev.detached.load(Ordering::Acquire) {
                super::lifecycle::reap_detached(&prev);
            }
        }
        _ => {}
    }
}

fn switch_address_space(cs: &'static CpuSched, irq: &IrqOff, next: &Arc<Thread>) {
    // The replaced space's reference is dropped after the cell is left.
    let _old = cs.loaded_space.with(irq, |loaded| load_space(loaded, next));
}

/// Loads `next`'s address space if it is not the one in `loaded`; returns
/// the reference to the space this CPU no longer has loaded.
fn load_space(
    loaded: &mut Option<Arc<AddressSpace>>,
    next: &Arc<Thread>,
) -> Option<Arc<AddressSpace>> {
    let same = match (&*loaded, &next.address_space) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    };
    if same {
        return None;
    }
    let me = percpu::cpu_index();
    let old = loaded.take();
    if let Some(old) = &old {
        old.active_cpus.fetch_and(!(1 << me), Ordering::AcqRel);
    }
    match &next.address_space {
        Some(space) => {
            space.active_cpus.fetch_or(1 << me, Ordering::AcqRel);
            tlb::load_cr3(space.pml4());
            *loaded = Some(space.clone());
        }
        None => tlb::load_cr3(crate::mm::paging::kernel_pml4()),
    }
    old
}

/// Wakes `t` if it is blocked; otherwise leaves it a wake token.
pub fn wake(t: &Arc<Thread>) {
    let _irq = IrqOff::new();
    let waker = waker_ref();
    let mut s = t.sched.lock();
    match s.state {
        State::Blocked => {
            s.state = State::Ready;
            #[cfg(feature = "measure")]
            {
                let now = crate::arch::x86_64::cpu::rdtsc();
                crate::measure::thread_state(t, Some(crate::measure::ThreadState::Runnable), now);
                crate::measure::note_waker(t, waker);
            }
            if s.on_cpu {
                // Still switching out: finish_switch queues it.
                s.woken_by = Some(waker);
            } else {
                drop(s);
                let stamp = wake_stamp();
                let target = enqueue_at(t.clone(), SchedSite::WakeUnblock);
                trace_wakeup(stamp, t, target, waker);
            }
        }
        State::Running | State::Ready => s.wake_token = true,
        State::Exited => {}
    }
}

/// Who is waking a thread on this CPU: the running thread's ref, or 0 when
/// the timer interrupt's expiry processing is (`sched::in_timer_expiry`).
#[cfg(feature = "measure")]
fn waker_ref() -> u64 {
    let irq = IrqOff::new();
    let cs = this();
    if cs.in_timer_expiry.load(Ordering::Relaxed) {
        return 0;
    }
    cs.current.with(&irq, |c| c.as_ref().map_or(0, |t| t.tref().to_u64()))
}

/// Without measurement nothing reads the waker.
#[cfg(not(feature = "measure"))]
fn waker_ref() -> u64 {
    0
}

/// The stamp of a `wakeup` event: read before the thread is queued (and its
/// CPU kicked), so the event precedes the IPI it causes and the thread's run.
#[cfg(feature = "measure")]
fn wake_stamp() -> u64 {
    crate::arch::x86_64::cpu::rdtsc()
}

#[cfg(not(feature = "measure"))]
fn wake_stamp() -> u64 {
    0
}

#[cfg_attr(not(feature = "measure"), allow(unused_variables))]
fn trace_wakeup(stamp: u64, t: &Thread, target: usize, waker: u64) {
    #[cfg(feature = "measure")]
    crate::measure::trace_at(
        stamp,
        capos_measure::trace::TraceArgs::Wakeup {
            thread: t.tref().to_u64(),
            target_cpu: target as u8,
            waker,
        },
    );
}

/// Blocks the current thread until woken (returns at once if a wake token
/// is pending). Callers re-check their condition in a loop.
pub fn block_current() {
    let _irq = IrqOff::new();
    let me = current();
    {
        let mut s = me.sched.lock();
        if s.wake_token {
            s.wake_token = false;
            return;
        }
        s.state = State::Blocked;
    }
    #[cfg(feature = "measure")]
    let waiter = me.clone();
    drop(me);
    schedule(SchedSite::Blocking);
    // The next block's reason is set by the code about to block, if any.
    #[cfg(feature = "measure")]
    crate::measure::block_reason(&waiter, crate::measure::BlockReason::Other);
}

/// The `queue` of the global run queue's `run_queue` events.
pub(super) const GLOBAL_QUEUE: u8 = u8::MAX;
#[cfg(feature = "measure")]
const _: () = assert!(GLOBAL_QUEUE == capos_measure::trace::GLOBAL_QUEUE);

/// A run queue's new length with the TSC of the change, read while its lock
/// is still held (so one queue's `run_queue` events are ordered as its
/// changes) and traced once the lock is dropped (so the trace probe does not
/// lengthen the measured hold): [`QueueLen::trace`].
#[must_use]
pub(super) struct QueueLen {
    queue: u8,
    len: usize,
    #[cfg(feature = "measure")]
    stamp: u64,
}

impl QueueLen {
    /// The length `len` of queue `queue` (a CPU index, or
    /// `capos_measure::trace::GLOBAL_QUEUE`), now.
    pub(super) fn now(queue: u8, len: usize) -> QueueLen {
        QueueLen {
            queue,
            len,
            #[cfg(feature = "measure")]
            stamp: crate::arch::x86_64::cpu::rdtsc(),
        }
    }

    /// Records the `run_queue` trace event (measure builds).
    pub(super) fn trace(self) {
        #[cfg(feature = "measure")]
        crate::measure::trace_at(
            self.stamp,
            capos_measure::trace::TraceArgs::RunQueue { queue: self.queue, len: self.len as u64 },
        );
        let _ = (self.queue, self.len);
    }
}
