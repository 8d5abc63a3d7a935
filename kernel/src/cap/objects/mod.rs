//! The kernel objects behind capabilities and their methods.

pub mod endpoint;
mod measure_cap;
mod messages;
mod park;
mod process_spawner;
mod thread_spawner;

use super::{Completion, Object, Outcome};
use crate::sched::Thread;
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::rights::Rights;
use capos_abi::ring::Sqe;
use capos_schema::methods as m;
use messages::Params;

pub use process_spawner::complete_wait;

pub fn join_message(code: i64) -> alloc::vec::Vec<u8> {
    messages::join_result(code)
}

/// Releases what kernel objects keep for a process that has exited.
pub fn process_gone(pid: u32, space: u64) {
    park::forget_space(space);
    endpoint::server_exited(pid);
}

/// Drops the park waits and endpoint calls/receives pending for `t`
/// (which is exiting); returns how many there were.
pub fn cancel_for(t: &Arc<Thread>) -> usize {
    park::cancel_for(t) + endpoint::cancel_for(t)
}

/// Runs method `sqe.method` of the object in slot `sqe.cap` for thread `t`.
pub fn invoke(t: &Arc<Thread>, sqe: &Sqe, c: &Completion) -> Result<Outcome, Error> {
    let p = t.process.as_ref().ok_or(Error::InvalidState)?;
    let slot = p.caps.lock().get(sqe.cap, Rights::NONE)?;
    let needed = match (&slot.object, sqe.method) {
        (Object::Endpoint(_), m::ENDPOINT_RECEIVE | m::ENDPOINT_REPLY) => Rights::RECEIVE,
        _ => Rights::CALL,
    };
    if !slot.rights.contains(needed) {
        return Err(Error::NoRights);
    }
    let params = Params::read(&p.space, sqe)?;
    let pending = |c: &Completion| c.clone();
    let out = match (&slot.object, sqe.method) {
        (Object::Console, m::CONSOLE_WRITE) => {
            let text = params.console_write()?;
            crate::console::print_user(p.pid, &p.name, &text);
            Ok(Outcome::Done(0, None))
        }
        (Object::Timer, m::TIMER_NOW) => {
            Ok(Outcome::Done(0, Some(messages::timer_now(crate::time::now_ns()))))
        }
        (Object::Timer, m::TIMER_SLEEP) => {
            let ns = params.timer_sleep()?;
            match crate::time::deadline_after_ns(ns) {
                Some(d) => {
                    crate::time::complete_at(d, pending(c))?;
                    Ok(Outcome::Pending)
                }
                None => Err(Error::BadParams),
            }
        }
        (Object::ProcessSpawner, m::SPAWNER_SPAWN) => process_spawner::spawn(p, &params),
        (Object::ProcessHandle(child), m::PROCESS_WAIT) => {
            child.on_exit(pending(c));
            Ok(Outcome::Pending)
        }
        (Object::ThreadSpawner, m::THREAD_SPAWN) => thread_spawner::spawn(p, &params),
        (Object::ThreadHandle(th), m::THREAD_JOIN) => {
            thread_spawner::join(p, sqe.cap, th, pending(c))
        }
        (Object::ParkSpace, m::PARK_PARK) => park::park(p, &params, pending(c)),
        (Object::ParkSpace, m::PARK_UNPARK) => park::unpark(p, &params),
        (Object::Endpoint(e), m::ENDPOINT_CALL) => e.call(&params, pending(c)),
        (Object::Endpoint(e), m::ENDPOINT_RECEIVE) => e.receive(pending(c)),
        (Object::Endpoint(e), m::ENDPOINT_REPLY) => e.reply(&params),
        (Object::Measure, m::MEASURE_MARK) => measure_cap::mark(&params),
        (Object::Measure, m::MEASURE_MEMORY) => measure_cap::memory(),
        _ => Err(Error::BadMethod),
    };
    #[cfg(feature = "measure")]
    if let Ok(Outcome::Pending) = &out {
        crate::measure::note_pending(t, pending_reason(&slot.object));
    }
    out
}

/// What a thread waiting on an operation pending on `object` waits for.
#[cfg(feature = "measure")]
fn pending_reason(object: &Object) -> capos_measure::thread_time::BlockReason {
    use capos_measure::thread_time::BlockReason as R;
    match object {
        Object::Timer => R::Sleep,
        Object::ParkSpace => R::Park,
        Object::ThreadHandle(_) => R::Join,
        Object::ProcessHandle(_) => R::ExitWait,
        Object::Endpoint(_) => R::Ipc,
        _ => R::CapEnter,
    }
}
