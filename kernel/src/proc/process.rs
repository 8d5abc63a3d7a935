//! The process object: its address space, capability table, user memory
//! and exit status. Threads and exits are in `threads.rs`.

use super::elf;
use super::user_va::UserVa;
use super::usermem::UserSlice;
use super::{
    modules, ExitStatus, SpawnError, MAX_FRAMES_PER_PROCESS, MAX_PROCESSES, MAX_THREADS_PER_PROCESS,
};
use crate::cap::CapTable;
use crate::mm::address_space::{AddressSpace, MapError};
use crate::mm::PAGE_SIZE;
use crate::sched::{self, Thread, ThreadRef};
use crate::sync::{IrqSpinLock, SharedClass, SpinLock};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::layout::{USER_HEAP_BASE, USER_HEAP_MAX, USER_STACK_BYTES, USER_STACK_TOP};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use x86_64::structures::paging::PageTableFlags as F;

static NEXT_PID: AtomicU32 = AtomicU32::new(1);
pub(super) static LIVE_PROCESSES: AtomicU32 = AtomicU32::new(0);

/// What the process keeps about each of its live threads: the user
/// ranges the kernel placed for it, released when it exits.
pub(super) struct UserThread {
    pub thread: Arc<Thread>,
    pub ring_va: u64,
    /// A stack the kernel allocated for the thread: (base, bytes).
    pub stack: Option<(u64, u64)>,
}

pub struct Process {
    pub pid: u32,
    pub name: String,
    pub space: Arc<AddressSpace>,
    pub caps: IrqSpinLock<CapTable>,
    pub(super) threads: IrqSpinLock<Vec<UserThread>>,
    pub(super) live_threads: AtomicU32,
    pub(super) va: IrqSpinLock<UserVa>,
    /// Taken in thread context only and never with interrupts masked:
    /// mapping may shoot down TLBs, which needs other CPUs' interrupts.
    heap_end: SpinLock<u64>,
    killed: AtomicBool,
    kill_code: AtomicI64,
    fault_kill: AtomicBool,
    pub(super) exit: IrqSpinLock<Option<ExitStatus>>,
    /// Pending joins: (the joined sibling, the joiner's completion).
    pub(super) joins: IrqSpinLock<Vec<(ThreadRef, crate::cap::Completion)>>,
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

    fn build(
        binary: &str,
        args: &str,
        caps: CapTable,
        elf_bytes: &[u8],
    ) -> Result<Arc<Process>, SpawnError> {
        crate::mm::heap::admit(16 * 1024).map_err(|_| SpawnError::OutOfResources)?;
        // Dropping `space` on any error below frees everything it owns.
        let space = AddressSpace::new(MAX_FRAMES_PER_PROCESS).ok_or(SpawnError::OutOfResources)?;
        let loaded = elf::load(&space, elf_bytes).map_err(|e| match e {
            elf::ElfError::OutOfMemory => SpawnError::OutOfResources,
            other => SpawnError::BadBinary(other),
        })?;
        let cap_count = caps.len() as u64;
        let p = Arc::new(Process {
            pid: NEXT_PID.fetch_add(1, Ordering::Relaxed),
            name: String::from(binary),
            space,
            caps: IrqSpinLock::shared(caps, SharedClass::CapTable),
            threads: IrqSpinLock::shared(
                Vec::with_capacity(MAX_THREADS_PER_PROCESS as usize),
                SharedClass::ProcessThreads,
            ),
            live_threads: AtomicU32::new(0),
            va: IrqSpinLock::shared(
                UserVa::new(2 * MAX_THREADS_PER_PROCESS as usize),
                SharedClass::ProcessVa,
            ),
            heap_end: SpinLock::shared(USER_HEAP_BASE, SharedClass::ProcessHeapEnd),
            killed: AtomicBool::new(false),
            kill_code: AtomicI64::new(0),
            fault_kill: AtomicBool::new(false),
            exit: IrqSpinLock::shared(None, SharedClass::ProcessExit),
            joins: IrqSpinLock::shared(Vec::new(), SharedClass::ProcessJoins),
        });
        // Main thread: stack below USER_STACK_TOP, args copied to its top.
        let stack_base = USER_STACK_TOP - USER_STACK_BYTES;
        p.map_fresh(stack_base, USER_STACK_BYTES).map_err(|_| SpawnError::OutOfResources)?;
        let mut sp = USER_STACK_TOP;
        let mut args_addr = 0;
        if !args.is_empty() {
            let bytes = args.as_bytes();
            sp -= (bytes.len() as u64 + 1).div_ceil(16) * 16;
            let mut v = Vec::from(bytes);
            v.push(0);
            UserSlice::new(sp, v.len())
                .and_then(|s| s.write(&p.space, &v))
                .map_err(|_| SpawnError::OutOfResources)?;
            args_addr = sp;
        }
        let entry = loaded.entry;
        #[cfg(feature = "measure")]
        crate::measure::load_map(p.pid, binary, loaded.base);
        p.start_thread(binary, None, move |ring_va| sched::UserEntry {
            rip: entry,
            rsp: sp - 8,
            rdi: ring_va,
            rsi: cap_count,
            rdx: args_addr,
        })
        .map_err(|_| SpawnError::OutOfResources)?;
        Ok(p)
    }

    /// Maps `bytes` of fresh zeroed user memory at `va` (read/write, NX),
    /// all or nothing: on failure whatever was mapped is released again.
    pub fn map_fresh(&self, va: u64, bytes: u64) -> Result<(), Error> {
        let pages = bytes.div_ceil(PAGE_SIZE);
        for i in 0..pages {
            if let Err(e) = self.space.map_owned(
                va + i * PAGE_SIZE,
                F::USER_ACCESSIBLE | F::WRITABLE | F::NO_EXECUTE,
                |_| {},
            ) {
                self.space.release(va, i);
                if matches!(e, MapError::OutOfMemory | MapError::Limit) {
                    crate::m_add!(capos_measure::catalogue::memory::frame_refusals);
                }
                return Err(match e {
                    MapError::Dead => Error::InvalidState,
                    _ => Error::OutOfResources,
                });
            }
        }
        Ok(())
    }

    /// `grow_heap`: extends the heap by `bytes` (all or nothing); returns
    /// the old end.
    pub fn grow_heap(&self, bytes: u64) -> Result<u64, Error> {
        let bytes = bytes.checked_next_multiple_of(PAGE_SIZE).ok_or(Error::OutOfResources)?;
        let mut end = self.heap_end.lock();
        let old = *end;
        let new_len = (old - USER_HEAP_BASE).checked_add(bytes).ok_or(Error::OutOfResources)?;
        if new_len > USER_HEAP_MAX {
            return Err(Error::OutOfResources);
        }
        self.map_fresh(old, bytes)?;
        *end = old + bytes;
        Ok(old)
    }

    /// Allocates and maps a user stack of `bytes`; returns (base, bytes).
    pub fn alloc_stack(&self, bytes: u64) -> Result<(u64, u64), Error> {
        let bytes = bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let base = self.va.lock().alloc(bytes)?;
        if let Err(e) = self.map_fresh(base, bytes) {
            self.va.lock().free(base, bytes);
            return Err(e);
        }
        Ok((base, bytes))
    }

    /// Unmaps and frees a stack from `alloc_stack` and reuses its range.
    pub fn free_stack(&self, (base, bytes): (u64, u64)) {
        self.space.release(base, bytes / PAGE_SIZE);
        self.va.lock().free(base, bytes);
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
        let threads: Vec<Arc<Thread>> =
            self.threads.lock().iter().map(|u| u.thread.clone()).collect();
        for t in threads {
            sched::wake(&t);
        }
    }

    pub(super) fn exit_status(&self, last_code: i64) -> ExitStatus {
        let killed = self.killed.load(Ordering::Acquire);
        let fault = killed && self.fault_kill.load(Ordering::Acquire);
        ExitStatus {
            code: if killed { self.kill_code.load(Ordering::Acquire) } else { last_code },
            killed: fault,
        }
    }

    pub fn status(&self) -> Option<ExitStatus> {
        *self.exit.lock()
    }
}
