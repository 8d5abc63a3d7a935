//! ProcessSpawner, ProcessHandle, ThreadSpawner and ThreadHandle.

use super::messages::{self, Params};
use crate::cap::ring::complete;
use crate::cap::{CapTable, Completion, Object, Outcome, Slot};
use crate::proc::{ExitStatus, Process};
use crate::sched::Thread;
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::layout::{USER_STACK_BYTES, USER_TOP};
use capos_abi::rights::Rights;

/// Posts a ProcessHandle.wait completion.
pub fn complete_wait(c: Completion, st: ExitStatus) {
    let msg = messages::wait_result(st.code, st.killed);
    complete(c, 0, Some(&msg));
}

pub fn spawn(p: &Arc<Process>, params: &Params) -> Result<Outcome, Error> {
    let (binary, args, grants) = params.spawn()?;
    if args.len() > 1024 || grants.len() > crate::cap::MAX_SLOTS {
        return Err(Error::BadParams);
    }
    let mut child = CapTable::new();
    {
        let caps = p.caps.lock();
        for (slot, rights) in grants {
            let s = caps.get(slot, Rights::GRANT)?;
            child.push(Slot { object: s.object, rights: s.rights.intersect(Rights(rights)) })?;
        }
    }
    let proc = Process::spawn(&binary, &args, child).map_err(Error::from)?;
    let handle = p.caps.lock().push(Slot { object: Object::ProcessHandle(proc), rights: Rights::CALL })?;
    Ok(Outcome::Done(handle as i64, Some(messages::handle_slot(handle))))
}

fn user_addr(a: u64) -> bool {
    a != 0 && a < USER_TOP
}

pub fn spawn_thread(p: &Arc<Process>, params: &Params) -> Result<Outcome, Error> {
    let (entry, arg, stack_top, tls) = params.thread_spawn()?;
    if !user_addr(entry) || (stack_top != 0 && (!user_addr(stack_top) || stack_top % 16 != 0)) || tls >= USER_TOP {
        return Err(Error::BadAddress);
    }
    let stack_top = if stack_top == 0 { p.alloc_stack(USER_STACK_BYTES)? } else { stack_top };
    let t = p.start_thread("user-thread", move |ring_va| {
        crate::sched::current().fs_base.store(tls, core::sync::atomic::Ordering::Relaxed);
        crate::arch::x86_64::syscall::set_fs_base(tls);
        (entry, stack_top - 8, arg, ring_va, 0)
    })?;
    let handle = p.caps.lock().push(Slot { object: Object::ThreadHandle(t), rights: Rights::CALL })?;
    Ok(Outcome::Done(handle as i64, Some(messages::handle_slot(handle))))
}

pub fn join_thread(p: &Arc<Process>, slot: u32, th: &Arc<Thread>, c: Completion) -> Result<Outcome, Error> {
    if !th.process.as_ref().is_some_and(|tp| Arc::ptr_eq(tp, p)) {
        return Err(Error::InvalidState);
    }
    // The handle is consumed: a second join on the slot is BadSlot.
    p.caps.lock().remove(slot);
    p.join_thread(th, c);
    Ok(Outcome::Pending)
}
