//! System call dispatch (entry and exit are in `arch::x86_64::syscall`).

use crate::arch::x86_64::syscall::{set_fs_base, SyscallFrame};
use crate::{cap, proc, sched};
use capos_abi::error::Error;
use capos_abi::layout::USER_TOP;
use capos_abi::syscall as nr;
use core::sync::atomic::Ordering;

/// Called from `syscall_entry` with interrupts enabled.
pub fn dispatch(f: &mut SyscallFrame) {
    count_syscall(f.rax);
    let result: i64 = match f.rax {
        nr::CAP_ENTER => cap::ring::cap_enter(f.rdi, f.rsi),
        nr::EXIT_THREAD => proc::exit_current_thread(f.rdi as i64),
        nr::EXIT_PROCESS => {
            let t = sched::current();
            if let Some(p) = &t.process {
                p.kill(f.rdi as i64, false);
            }
            drop(t);
            proc::exit_current_thread(f.rdi as i64)
        }
        nr::SET_FS_BASE => {
            if f.rdi >= USER_TOP {
                Error::BadAddress.as_result()
            } else {
                sched::current().fs_base.store(f.rdi, Ordering::Relaxed);
                set_fs_base(f.rdi);
                0
            }
        }
        nr::RING_INFO => sched::current()
            .ring
            .as_ref()
            .map_or(Error::InvalidState.as_result(), |r| r.user_va as i64),
        nr::GROW_HEAP => {
            let t = sched::current();
            match &t.process {
                Some(p) => p.grow_heap(f.rdi).map_or_else(|e| e.as_result(), |old| old as i64),
                None => Error::InvalidState.as_result(),
            }
        }
        nr::YIELD => {
            sched::yield_now();
            0
        }
        nr::THREAD_STAT => sched::with_current(|t| match f.rdi {
            nr::thread_stat::SYSCALLS => t.syscalls.load(Ordering::Relaxed) as i64,
            nr::thread_stat::RING_SQES => t.ring_sqes.load(Ordering::Relaxed) as i64,
            _ => Error::BadParams.as_result(),
        }),
        nr::SET_THREAD_NAME => set_thread_name(f.rdi, f.rsi).map_or_else(|e| e.as_result(), |()| 0),
        _ => Error::BadSyscall.as_result(),
    };
    f.rax = result as u64;
    proc::exit_if_killed();
}

/// `SET_THREAD_NAME`: copies and checks the name (a bad one changes
/// nothing); the measure kernel keeps it for the report.
fn set_thread_name(ptr: u64, len: u64) -> Result<(), Error> {
    let len = usize::try_from(len).map_err(|_| Error::BadParams)?;
    if len == 0 || len > nr::THREAD_NAME_MAX {
        return Err(Error::BadParams);
    }
    let t = sched::current();
    let space = t.address_space.as_ref().ok_or(Error::InvalidState)?;
    let mut buf = [0u8; nr::THREAD_NAME_MAX];
    proc::usermem::UserSlice::new(ptr, len)?.read_into(space, &mut buf[..len])?;
    if !nr::valid_thread_name(&buf[..len]) {
        return Err(Error::BadParams);
    }
    #[cfg(feature = "measure")]
    crate::measure::thread_name(&t, &buf[..len]);
    Ok(())
}

/// Counts a system call on the calling thread (and, measuring, by number and
/// in the per-thread table). `THREAD_STAT` is counted by number only: it
/// does not count itself on the thread (so two reads around a section give
/// that section's counts), and the per-thread table agrees with those reads.
#[cfg_attr(not(feature = "measure"), allow(unused_variables))]
fn count_syscall(number: u64) {
    if number != nr::THREAD_STAT {
        sched::with_current(|t| {
            t.syscalls.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "measure")]
            crate::measure::thread_op(t, capos_measure::thread_ops::ThreadOp::Syscall, 1);
        });
    }
    #[cfg(feature = "measure")]
    {
        use capos_measure::catalogue::{syscall, SyscallNr as S};
        let which = match number {
            nr::CAP_ENTER => S::CapEnter,
            nr::EXIT_THREAD => S::ExitThread,
            nr::EXIT_PROCESS => S::ExitProcess,
            nr::SET_FS_BASE => S::SetFsBase,
            nr::RING_INFO => S::RingInfo,
            nr::YIELD => S::Yield,
            nr::GROW_HEAP => S::GrowHeap,
            nr::THREAD_STAT => S::ThreadStat,
            nr::SET_THREAD_NAME => S::SetThreadName,
            _ => S::Unknown,
        };
        crate::m_add!(syscall::calls.at(which));
    }
}
