//! Processes: an address space, a capability table, threads, an exit status.
//!
//! A process ends when its last thread exits (or when it is killed: a user
//! fault, or `exit_process`). Then its user frames are freed, its caps are
//! dropped and everyone waiting on a `ProcessHandle` gets a completion.

pub mod elf;
pub mod manifest;
pub mod modules;
pub mod usermem;

use crate::cap::ring::Ring;
use crate::cap::{CapTable, Completion};
use crate::mm::address_space::AddressSpace;
use crate::mm::{frame, PAGE_SIZE};
use crate::sched::{self, Spawn, Thread};
use crate::sync::IrqSpinLock;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::layout::{USER_MMAP_BASE, USER_STACK_BYTES, USER_STACK_TOP};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use x86_64::structures::paging::PageTableFlags as F;

/// Most processes alive at once (spawning past it fails with OutOfResources).
pub const MAX_PROCESSES: u32 = 64;
/// Most threads one process may have.
pub const MAX_THREADS_PER_PROCESS: u32 = 64;
/// Most user frames one process may own (stacks, rings, image): 64 MiB.
pub const MAX_FRAMES_PER_PROCESS: usize = 16384;

static NEXT_PID: AtomicU32 = AtomicU32::new(1);
static LIVE_PROCESSES: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i64,
    pub killed: bool,
}

pub struct Process {
    pub pid: u32,
    pub name: String,
    pub space: Arc<AddressSpace>,
    pub caps: IrqSpinLock<CapTable>,
    threads: IrqSpinLock<Vec<Arc<Thread>>>,
    live_threads: AtomicU32,
    frames: IrqSpinLock<Vec<u64>>,
    next_mmap: AtomicU64,
    heap_end: IrqSpinLock<u64>,
    killed: AtomicBool,
    kill_code: AtomicI64,
    exit: IrqSpinLock<Option<ExitStatus>>,
    waiters: IrqSpinLock<Vec<Completion>>,
    joins: IrqSpinLock<Joins>,
    fault_kill: AtomicBool,
}

/// Exit codes of sibling threads nobody joined yet, and pending joins,
/// keyed by the thread's address (the ThreadHandle keeps it alive).
#[derive(Default)]
struct Joins {
    exited: Vec<(usize, i64)>,
    waiting: Vec<(usize, Completion)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    NotFound,
    BadBinary(elf::ElfError),
    OutOfResources,
}

impl From<SpawnError> for Error {
    fn from(e: SpawnError) -> Error {
        match e {
            SpawnError::NotFound => Error::NotFound,
            SpawnError::BadBinary(_) => Error::BadParams,
            SpawnError::OutOfResources => Error::OutOfResources,
        }
    }
}

impl Process {
    /// Creates a process from boot module `binary` with `caps` and starts its
    /// main thread.
    pub fn spawn(binary: &str, args: &str, caps: CapTable) -> Result<Arc<Process>, SpawnError> {
        let elf_bytes = modules::find(binary).ok_or(SpawnError::NotFound)?;
        if LIVE_PROCESSES.fetch_add(1, Ordering::AcqRel) >= MAX_PROCESSES {
            LIVE_PROCESSES.fetch_sub(1, Ordering::AcqRel);
            return Err(SpawnError::OutOfResources);
        }
        let result = Self::build(binary, args, caps, elf_bytes);
        if result.is_err() {
            LIVE_PROCESSES.fetch_sub(1, Ordering::AcqRel);
        }
        result
    }

    fn build(binary: &str, args: &str, caps: CapTable, elf_bytes: &[u8]) -> Result<Arc<Process>, SpawnError> {
        let space = AddressSpace::new().ok_or(SpawnError::OutOfResources)?;
        let mut frames = Vec::new();
        let loaded = match elf::load(&space, elf_bytes, &mut frames) {
            Ok(l) => l,
            Err(e) => {
                frames.into_iter().for_each(frame::free);
                return Err(match e {
                    elf::ElfError::OutOfMemory => SpawnError::OutOfResources,
                    other => SpawnError::BadBinary(other),
                });
            }
        };
        let cap_count = caps.len() as u64;
        let p = Arc::new(Process {
            pid: NEXT_PID.fetch_add(1, Ordering::Relaxed),
            name: String::from(binary),
            space,
            caps: IrqSpinLock::measured(caps, crate::sync::LockClass::Shared(crate::sync::SharedClass::CapTable)),
            threads: IrqSpinLock::new(Vec::new()),
            live_threads: AtomicU32::new(0),
            frames: IrqSpinLock::new(frames),
            next_mmap: AtomicU64::new(USER_MMAP_BASE),
            heap_end: IrqSpinLock::new(capos_abi::layout::USER_HEAP_BASE),
            killed: AtomicBool::new(false),
            kill_code: AtomicI64::new(0),
            exit: IrqSpinLock::new(None),
            waiters: IrqSpinLock::new(Vec::new()),
            joins: IrqSpinLock::new(Joins::default()),
            fault_kill: AtomicBool::new(false),
        });
        // Main thread: stack below USER_STACK_TOP, args copied to its top.
        let stack_base = USER_STACK_TOP - USER_STACK_BYTES;
        p.map_fresh(stack_base, USER_STACK_BYTES).map_err(|_| p.abort_build())?;
        let mut sp = USER_STACK_TOP;
        let mut args_addr = 0;
        if !args.is_empty() {
            let bytes = args.as_bytes();
            sp -= (bytes.len() as u64 + 1).div_ceil(16) * 16;
            let mut v = Vec::from(bytes);
            v.push(0);
            usermem::copy_to_user(&p.space, sp, &v).map_err(|_| p.abort_build())?;
            args_addr = sp;
        }
        let entry = loaded.entry;
        #[cfg(feature = "measure")]
        crate::measure::load_map(p.pid, binary, loaded.base);
        p.start_thread(binary, move |ring_va| (entry, sp - 8, ring_va, cap_count, args_addr)).map_err(|_| p.abort_build())?;
        Ok(p)
    }

    /// Undoes a half-built process (its frames); the caller drops it.
    fn abort_build(&self) -> SpawnError {
        self.release_memory();
        SpawnError::OutOfResources
    }

    /// Maps `bytes` of fresh zeroed user memory at `va` (read/write, NX).
    pub fn map_fresh(&self, va: u64, bytes: u64) -> Result<(), Error> {
        let mut page = va;
        while page < va + bytes {
            if self.frames.lock().len() >= MAX_FRAMES_PER_PROCESS {
                return Err(Error::OutOfResources);
            }
            let f = frame::alloc_zeroed().ok_or(Error::OutOfResources)?;
            self.frames.lock().push(f);
            self.space
                .map(page, f, F::USER_ACCESSIBLE | F::WRITABLE | F::NO_EXECUTE)
                .map_err(|_| Error::OutOfResources)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Reserves `bytes` of user address space above USER_MMAP_BASE.
    fn reserve_va(&self, bytes: u64) -> u64 {
        self.next_mmap.fetch_add(bytes + PAGE_SIZE, Ordering::Relaxed) // one guard page
    }

    /// Starts a user thread: `regs(ring_va)` gives (rip, rsp, rdi, rsi, rdx).
    pub fn start_thread(
        self: &Arc<Self>,
        name: &str,
        regs: impl FnOnce(u64) -> (u64, u64, u64, u64, u64) + Send + 'static,
    ) -> Result<Arc<Thread>, Error> {
        if self.killed.load(Ordering::Acquire) || self.exit.lock().is_some() {
            return Err(Error::InvalidState);
        }
        if self.live_threads.fetch_add(1, Ordering::AcqRel) >= MAX_THREADS_PER_PROCESS {
            self.live_threads.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::OutOfResources);
        }
        let ring_va = self.reserve_va(PAGE_SIZE);
        let ring = match Ring::new(&self.space, ring_va) {
            Some(r) => r,
            None => {
                self.live_threads.fetch_sub(1, Ordering::AcqRel);
                return Err(Error::OutOfResources);
            }
        };
        let spawn = Spawn::named(name).user(self.clone(), ring);
        // Hold the list while starting so the thread is in it before it can
        // exit (its exit removes it; a late push would leak a cycle).
        let mut threads = self.threads.lock();
        let t = spawn.start_thread(move || {
            let (rip, rsp, rdi, rsi, rdx) = regs(ring_va);
            crate::arch::x86_64::syscall::enter_user(rip, rsp, rdi, rsi, rdx)
        });
        match t {
            Ok(t) => {
                threads.push(t.clone());
                Ok(t)
            }
            Err(_) => {
                self.live_threads.fetch_sub(1, Ordering::AcqRel);
                Err(Error::OutOfResources)
            }
        }
    }

    /// `grow_heap`: extends the heap by `bytes`; returns the old end.
    pub fn grow_heap(&self, bytes: u64) -> Result<u64, Error> {
        use capos_abi::layout::{USER_HEAP_BASE, USER_HEAP_MAX};
        let bytes = bytes.checked_next_multiple_of(PAGE_SIZE).ok_or(Error::OutOfResources)?;
        let mut end = self.heap_end.lock();
        let old = *end;
        if old - USER_HEAP_BASE + bytes > USER_HEAP_MAX {
            return Err(Error::OutOfResources);
        }
        self.map_fresh(old, bytes)?;
        *end = old + bytes;
        Ok(old)
    }

    /// Allocates a user stack of `bytes` for a new thread; returns its top.
    pub fn alloc_stack(&self, bytes: u64) -> Result<u64, Error> {
        let bytes = bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let base = self.reserve_va(bytes);
        self.map_fresh(base, bytes)?;
        Ok(base + bytes)
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Marks the process killed with `code` (`fault`: by a user fault, not
    /// `exit_process`) and wakes its blocked threads so they notice; each
    /// thread exits at its next kernel boundary.
    pub fn kill(&self, code: i64, fault: bool) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            self.kill_code.store(code, Ordering::Release);
            self.fault_kill.store(fault, Ordering::Release);
        }
        let threads: Vec<Arc<Thread>> = self.threads.lock().clone();
        for t in threads {
            sched::wake(&t);
        }
    }

    pub fn status(&self) -> Option<ExitStatus> {
        *self.exit.lock()
    }

    /// Registers a completion for when the process exits; completes at once
    /// if it already has.
    pub fn on_exit(&self, c: Completion) {
        let mut w = self.waiters.lock();
        match *self.exit.lock() {
            Some(st) => {
                drop(w);
                crate::cap::objects::complete_wait(c, st);
            }
            None => w.push(c),
        }
    }

    fn release_memory(&self) {
        let frames = core::mem::take(&mut *self.frames.lock());
        for (i, f) in frames.iter().enumerate() {
            // Unmapping is not needed: the address space is dropped with the
            // process and nothing runs in it any more.
            let _ = i;
            frame::free(*f);
        }
    }

    /// Completes `c` with `t`'s exit code once `t` (a sibling) has exited.
    pub fn join_thread(&self, t: &Arc<Thread>, c: Completion) {
        let key = Arc::as_ptr(t) as usize;
        let code = {
            let mut j = self.joins.lock();
            match j.exited.iter().position(|(k, _)| *k == key) {
                Some(i) => Some(j.exited.swap_remove(i).1),
                None => {
                    j.waiting.push((key, c));
                    return;
                }
            }
        };
        if let Some(code) = code {
            let msg = crate::cap::objects::join_message(code);
            crate::cap::ring::complete(c, 0, Some(&msg));
        }
    }

    /// Called by every exiting user thread of this process.
    pub fn thread_exited(self: &Arc<Self>, t: &Arc<Thread>, code: i64) {
        crate::m_segment!(ThreadExitJoinCleanup, { self.thread_exited_inner(t, code) })
    }

    fn thread_exited_inner(self: &Arc<Self>, t: &Arc<Thread>, code: i64) {
        self.threads.lock().retain(|x| !Arc::ptr_eq(x, t));
        let key = Arc::as_ptr(t) as usize;
        let joiners: Vec<Completion> = {
            let mut j = self.joins.lock();
            let (mine, rest): (Vec<_>, Vec<_>) = core::mem::take(&mut j.waiting).into_iter().partition(|(k, _)| *k == key);
            j.waiting = rest;
            if mine.is_empty() {
                j.exited.push((key, code));
            }
            mine.into_iter().map(|(_, c)| c).collect()
        };
        for c in joiners {
            let msg = crate::cap::objects::join_message(code);
            crate::cap::ring::complete(c, 0, Some(&msg));
        }
        if self.live_threads.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // Last thread: the process is done.
        let killed = self.killed.load(Ordering::Acquire);
        let fault = killed && self.fault_kill.load(Ordering::Acquire);
        let st = ExitStatus { code: if killed { self.kill_code.load(Ordering::Acquire) } else { code }, killed: fault };
        let waiters = {
            let mut w = self.waiters.lock();
            *self.exit.lock() = Some(st);
            core::mem::take(&mut *w)
        };
        crate::m_segment!(ProcessExitDrop, {
            self.caps.lock().clear();
            self.joins.lock().exited.clear();
            crate::cap::objects::process_gone(self.pid, self.space.pml4());
            self.release_memory();
        });
        LIVE_PROCESSES.fetch_sub(1, Ordering::AcqRel);
        crate::switch_log!("kernel: process {} ({}) exited: code {}{}", self.pid, self.name, st.code, if st.killed { " (killed by a fault)" } else { "" });
        for c in waiters {
            crate::cap::objects::complete_wait(c, st);
        }
        EXITED.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = EXIT_WATCHER.lock().as_ref() {
            sched::wake(w);
        }
    }
}

/// Processes that have exited (boot-manifest processes and children).
pub static EXITED: AtomicU32 = AtomicU32::new(0);
/// A kernel thread to wake whenever a process exits (kmain waits on it).
pub static EXIT_WATCHER: IrqSpinLock<Option<Arc<Thread>>> = IrqSpinLock::new(None);

/// Ends the calling user thread (and with the last one, its process).
pub fn exit_current_thread(code: i64) -> ! {
    let t = sched::current();
    if let Some(p) = t.process.clone() {
        p.thread_exited(&t, code);
    }
    drop(t);
    sched::exit(code)
}

/// A user-mode fault: report it (with the user stack, as `bt` lines the
/// harness symbolizes against the binary named in the report), kill the
/// process, end this thread.
pub fn user_fault(vector: u64, rip: u64, addr: u64, rbp: u64) -> ! {
    let t = sched::current();
    if let Some(p) = &t.process {
        crate::kprintln!(
            "kernel: user fault in process {} ({}) thread {}: {} at rip={:#x} addr={:#x} binary={}; killing the process",
            p.pid,
            p.name,
            t.name,
            crate::arch::x86_64::exceptions::name(vector),
            rip,
            addr,
            p.name
        );
        let mut frames = [0u64; 16];
        frames[0] = rip;
        let n = crate::arch::x86_64::backtrace::walk(rbp, &mut frames, |fp| usermem::read_frame(&p.space, fp));
        for (i, pc) in frames[..n].iter().enumerate() {
            crate::kprintln!("{}{i} {pc:#018x}", capos_abi::guest::BACKTRACE_FRAME);
        }
        p.kill(-(vector as i64) - 1000, true);
    }
    drop(t);
    exit_current_thread(-1)
}

/// If the current thread's process was killed, end the thread.
pub fn exit_if_killed() {
    let t = sched::current();
    let killed = t.process.as_ref().is_some_and(|p| p.is_killed());
    drop(t);
    if killed {
        exit_current_thread(-1);
    }
}
