//! Threads: the unit the scheduler runs.
//!
//! A thread is shared as `Arc<Thread>` by the thread table, a run queue (at
//! most one), the CPU running it, and joiners. Its scheduling state sits
//! behind its own small lock (`sched`), taken with interrupts masked and
//! always before any run-queue lock (see docs/architecture/scheduling.md).

use crate::arch::x86_64::context::FpuState;
use crate::mm::address_space::AddressSpace;
use crate::mm::{frame, phys_to_virt, PAGE_SIZE};
use crate::sync::{IrqSpinLock, SharedClass};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use capos_kcore::slab::SlotRef;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// A generation-checked name for a thread; stale refs are rejected.
pub type ThreadRef = SlotRef;

/// Kernel stack size of every thread.
pub const STACK_PAGES: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Queued, or just preempted and about to be queued.
    Ready,
    Running,
    Blocked,
    Exited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A CPU's idle thread: never queued, pinned to its CPU.
    Idle,
    Kernel,
}

pub(super) struct SchedState {
    pub state: State,
    /// The thread's registers are live on (or being saved by) some CPU.
    pub on_cpu: bool,
    /// A wakeup arrived while the thread was not blocked: its next block returns at once.
    pub wake_token: bool,
    /// Woken while still switching out (by this thread ref; 0: the timer):
    /// the switch's end queues it as a wakeup, not a preemption.
    pub woken_by: Option<u64>,
}

/// Contiguous frames for a kernel stack, freed on drop.
pub struct KernelStack {
    phys: u64,
}

impl KernelStack {
    pub fn new() -> Option<Self> {
        frame::alloc_contiguous(STACK_PAGES, 1).map(|phys| KernelStack { phys })
    }
    pub fn top(&self) -> u64 {
        phys_to_virt(self.phys) as u64 + (STACK_PAGES as u64) * PAGE_SIZE
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        frame::free_contiguous(self.phys, STACK_PAGES);
    }
}

/// Where a user thread enters user mode, and its first argument registers.
#[derive(Clone, Copy, Debug)]
pub struct UserEntry {
    pub rip: u64,
    pub rsp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
}

/// What a new thread runs first.
pub enum Entry {
    /// A kernel function; its result is the exit code.
    Kernel(Box<dyn FnOnce() -> i64 + Send>),
    /// Kernel set-up that yields the user entry. It returns before the
    /// thread drops to user mode, so its box is freed (user mode never
    /// comes back to this frame).
    User(Box<dyn FnOnce() -> UserEntry + Send>),
}

pub struct Thread {
    tref: AtomicU64,
    pub name: String,
    pub kind: Kind,
    /// CPU the thread may run on (idle threads; tests that need placement).
    pub affinity: Option<u32>,
    pub address_space: Option<Arc<AddressSpace>>,
    /// The process a user thread belongs to.
    pub process: Option<Arc<crate::proc::Process>>,
    /// The thread's capability ring (user threads).
    pub ring: Option<crate::cap::ring::Ring>,
    /// User FS base (TLS), loaded when the thread is switched in.
    pub fs_base: AtomicU64,
    /// Top of the kernel stack (0 for boot threads that keep their stack).
    pub kernel_stack_top: u64,
    /// Removed from the thread table when reaped (nobody joins it).
    pub detached: AtomicBool,
    pub(super) sched: IrqSpinLock<SchedState>,
    pub(super) ctx_rsp: UnsafeCell<u64>,
    pub(super) fpu: UnsafeCell<FpuState>,
    stack: IrqSpinLock<Option<KernelStack>>,
    pub(super) entry: IrqSpinLock<Option<Entry>>,
    pub last_cpu: AtomicU32,
    /// Bit i set once the thread has run on CPU i.
    pub cpus_run_on: AtomicU64,
    pub(super) exit_code: AtomicI64,
    /// System calls this thread made (every number but `THREAD_STAT`).
    /// Written only by the thread itself, on its own CPU.
    pub syscalls: AtomicU64,
    /// Ring SQEs the kernel consumed for this thread.
    pub ring_sqes: AtomicU64,
    /// The measured locks this thread holds with interrupts enabled
    /// (`capos_measure::held`); written only by the thread itself.
    #[cfg(feature = "measure")]
    pub held_locks: AtomicU64,
    /// Time by state (`capos_measure::thread_time`); changed only under
    /// `sched`.
    #[cfg(feature = "measure")]
    pub time_clock: capos_measure::thread_time::ThreadClock,
    /// Why the thread's next block waits (a `BlockReason` id), set by the
    /// code about to block; back to `Other` after every block.
    #[cfg(feature = "measure")]
    pub block_reason: core::sync::atomic::AtomicU8,
    /// What the last operation that went pending in this `cap_enter` waits
    /// for (a `BlockReason` id; `CapEnter` when none did).
    #[cfg(feature = "measure")]
    pub pending_reason: core::sync::atomic::AtomicU8,
    /// Set when the thread begins to exit: completions aimed at it are
    /// dropped from then on (see cap::completion).
    exiting: AtomicBool,
    /// Set once `exit_code` is final (a user thread's joiners may read it).
    exit_published: AtomicBool,
    /// Set once the thread has exited and its stack is released.
    pub(super) reaped: AtomicBool,
    pub(super) joined: AtomicBool,
    pub(super) joiner: IrqSpinLock<Option<Arc<Thread>>>,
    /// Link in a run queue; guarded by that queue's lock.
    pub(super) rq_next: UnsafeCell<*const Thread>,
}

// SAFETY: the UnsafeCell fields are touched only under the protocol in
// docs/architecture/scheduling.md: ctx_rsp/fpu by the CPU switching the
// thread in or out (on_cpu), rq_next under the owning run queue's lock.
unsafe impl Sync for Thread {}
// SAFETY: as above; nothing in a Thread is tied to one CPU.
unsafe impl Send for Thread {}

pub struct NewThread {
    pub name: String,
    pub kind: Kind,
    pub affinity: Option<u32>,
    pub address_space: Option<Arc<AddressSpace>>,
    pub process: Option<Arc<crate::proc::Process>>,
    pub ring: Option<crate::cap::ring::Ring>,
    pub stack: Option<KernelStack>,
    pub entry: Option<Entry>,
    pub initial_state: State,
}

impl Thread {
    pub fn new(n: NewThread) -> Arc<Thread> {
        let kernel_stack_top = n.stack.as_ref().map_or(0, KernelStack::top);
        let rsp = match &n.stack {
            // SAFETY: the stack was just allocated for this thread alone.
            Some(s) => unsafe { crate::arch::x86_64::context::prepare_stack(s.top()) },
            None => 0,
        };
        Arc::new(Thread {
            tref: AtomicU64::new(0),
            name: n.name,
            kind: n.kind,
            affinity: n.affinity,
            address_space: n.address_space,
            process: n.process,
            ring: n.ring,
            fs_base: AtomicU64::new(0),
            kernel_stack_top,
            detached: AtomicBool::new(false),
            sched: IrqSpinLock::shared(
                SchedState {
                    state: n.initial_state,
                    on_cpu: n.initial_state == State::Running,
                    wake_token: false,
                    woken_by: None,
                },
                SharedClass::ThreadSched,
            ),
            ctx_rsp: UnsafeCell::new(rsp),
            fpu: UnsafeCell::new(FpuState::new()),
            stack: IrqSpinLock::shared(n.stack, SharedClass::ThreadStack),
            entry: IrqSpinLock::shared(n.entry, SharedClass::ThreadEntry),
            last_cpu: AtomicU32::new(u32::MAX),
            cpus_run_on: AtomicU64::new(0),
            exit_code: AtomicI64::new(0),
            syscalls: AtomicU64::new(0),
            ring_sqes: AtomicU64::new(0),
            #[cfg(feature = "measure")]
            held_locks: AtomicU64::new(0),
            #[cfg(feature = "measure")]
            time_clock: capos_measure::thread_time::ThreadClock::new(),
            #[cfg(feature = "measure")]
            block_reason: core::sync::atomic::AtomicU8::new(
                capos_measure::thread_time::BlockReason::Other as u8,
            ),
            #[cfg(feature = "measure")]
            pending_reason: core::sync::atomic::AtomicU8::new(
                capos_measure::thread_time::BlockReason::CapEnter as u8,
            ),
            exiting: AtomicBool::new(false),
            exit_published: AtomicBool::new(false),
            reaped: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            joiner: IrqSpinLock::shared(None, SharedClass::ThreadJoiner),
            rq_next: UnsafeCell::new(core::ptr::null()),
        })
    }

    pub fn tref(&self) -> ThreadRef {
        SlotRef::from_u64(self.tref.load(Ordering::Acquire))
    }

    pub(super) fn set_tref(&self, r: ThreadRef) {
        self.tref.store(r.to_u64(), Ordering::Release);
    }

    pub fn is_idle(&self) -> bool {
        self.kind == Kind::Idle
    }

    /// Frees the stack of an exited thread (called once it is off every CPU).
    pub(super) fn release_stack(&self) {
        drop(self.stack.lock().take());
        self.reaped.store(true, Ordering::Release);
    }

    /// Marks the thread as exiting (nothing may be written to it any more).
    pub fn begin_exit(&self) {
        self.exiting.store(true, Ordering::Release);
    }

    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Acquire)
    }

    /// Records the exit code for joiners.
    pub fn publish_exit(&self, code: i64) {
        self.exit_code.store(code, Ordering::Release);
        self.exit_published.store(true, Ordering::Release);
    }

    /// The exit code, once published.
    pub fn published_exit(&self) -> Option<i64> {
        self.exit_published.load(Ordering::Acquire).then(|| self.exit_code.load(Ordering::Acquire))
    }

    pub fn is_reaped(&self) -> bool {
        self.reaped.load(Ordering::Acquire)
    }
}
