//! ProcessSpawner and ProcessHandle: starting processes, waiting for them.

use super::messages::{self, Params};
use crate::cap::completion::complete;
use crate::cap::{CapTable, Completion, Object, Outcome, Slot};
use crate::proc::{ExitStatus, Process};
use alloc::sync::Arc;
use capos_abi::error::Error;
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
    // The handle's slot is held before the child starts, so a full table
    // is an error with nothing started.
    let slot = p.caps.lock().reserve()?;
    let proc = match Process::spawn(&binary, &args, child) {
        Ok(proc) => proc,
        Err(e) => {
            p.caps.lock().release(slot);
            return Err(Error::from(e));
        }
    };
    let handle = p
        .caps
        .lock()
        .fill(slot, Slot { object: Object::ProcessHandle(proc), rights: Rights::CALL });
    Ok(Outcome::Done(handle as i64, Some(messages::handle_slot(handle))))
}
