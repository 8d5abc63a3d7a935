//! ThreadSpawner and ThreadHandle: starting sibling threads, joining them.

use super::messages::{self, Params};
use crate::cap::{Completion, Object, Outcome, Slot};
use crate::proc::Process;
use crate::sched::Thread;
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::layout::{USER_STACK_BYTES, USER_TOP};
use capos_abi::rights::Rights;

fn user_addr(a: u64) -> bool {
    a != 0 && a < USER_TOP
}

pub fn spawn(p: &Arc<Process>, params: &Params) -> Result<Outcome, Error> {
    let (entry, arg, stack_top, tls) = params.thread_spawn()?;
    if !user_addr(entry)
        || (stack_top != 0 && (!user_addr(stack_top) || stack_top % 16 != 0))
        || tls >= USER_TOP
    {
        return Err(Error::BadAddress);
    }
    // The handle's slot is held before the thread starts: with a full
    // table the spawn fails and nothing runs.
    let slot = p.caps.lock().reserve()?;
    let started = start_user_thread(p, entry, arg, stack_top, tls);
    match started {
        Ok(t) => {
            let handle = p
                .caps
                .lock()
                .fill(slot, Slot { object: Object::ThreadHandle(t), rights: Rights::CALL });
            Ok(Outcome::Done(handle as i64, Some(messages::handle_slot(handle))))
        }
        Err(e) => {
            p.caps.lock().release(slot);
            Err(e)
        }
    }
}

/// Starts a sibling thread at `entry` (with a kernel-allocated stack when
/// `stack_top` is 0, freed when the thread exits).
fn start_user_thread(
    p: &Arc<Process>,
    entry: u64,
    arg: u64,
    stack_top: u64,
    tls: u64,
) -> Result<Arc<Thread>, Error> {
    let stack = if stack_top == 0 { Some(p.alloc_stack(USER_STACK_BYTES)?) } else { None };
    let top = stack.map_or(stack_top, |(base, bytes)| base + bytes);
    let started = p.start_thread("user-thread", stack, move |ring_va| {
        crate::sched::current().fs_base.store(tls, core::sync::atomic::Ordering::Relaxed);
        crate::arch::x86_64::syscall::set_fs_base(tls);
        crate::sched::UserEntry { rip: entry, rsp: top - 8, rdi: arg, rsi: ring_va, rdx: 0 }
    });
    if started.is_err() {
        if let Some(s) = stack {
            p.free_stack(s);
        }
    }
    started
}

pub fn join(
    p: &Arc<Process>,
    slot: u32,
    th: &Arc<Thread>,
    c: Completion,
) -> Result<Outcome, Error> {
    if !th.process.as_ref().is_some_and(|tp| Arc::ptr_eq(tp, p)) {
        return Err(Error::InvalidState);
    }
    // The handle is consumed: a second join on the slot is BadSlot.
    let handle = p.caps.lock().remove(slot);
    p.join_thread(th, c);
    drop(handle);
    Ok(Outcome::Pending)
}
