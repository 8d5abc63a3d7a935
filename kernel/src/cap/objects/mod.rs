//! The kernel objects behind capabilities and their methods.

pub mod endpoint;
mod messages;
mod park;
mod process;

use super::{Completion, Object, Outcome};
use crate::sched::Thread;
use alloc::sync::Arc;
use capos_abi::error::Error;
use capos_abi::rights::Rights;
use capos_abi::ring::Sqe;
use capos_schema::methods as m;
use messages::Params;

pub use process::complete_wait;

/// The phases user space may mark, in the only order they may come.
const PHASES: [&str; 4] = ["spawn_ready", "work", "shutdown", "final_total"];
static LAST_PHASE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Accepts a phase mark only if it is a known phase later than the last
/// one (in every kernel, measured or not, so programs see one behaviour).
fn mark_in_order(phase: &str) -> Result<(), Error> {
    let idx = PHASES.iter().position(|p| *p == phase).ok_or(Error::BadParams)? + 1;
    if LAST_PHASE.fetch_max(idx, core::sync::atomic::Ordering::AcqRel) >= idx {
        return Err(Error::InvalidState);
    }
    Ok(())
}

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
    match (&slot.object, sqe.method) {
        (Object::Console, m::CONSOLE_WRITE) => {
            let text = params.console_write()?;
            crate::console::print_user(p.pid, &p.name, &text);
            Ok(Outcome::Done(0, None))
        }
        (Object::Timer, m::TIMER_NOW) => Ok(Outcome::Done(0, Some(messages::timer_now(crate::time::now_ns())))),
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
        (Object::ProcessSpawner, m::SPAWNER_SPAWN) => process::spawn(p, &params),
        (Object::ProcessHandle(child), m::PROCESS_WAIT) => {
            child.on_exit(pending(c));
            Ok(Outcome::Pending)
        }
        (Object::ThreadSpawner, m::THREAD_SPAWN) => process::spawn_thread(p, &params),
        (Object::ThreadHandle(th), m::THREAD_JOIN) => process::join_thread(p, sqe.cap, th, pending(c)),
        (Object::ParkSpace, m::PARK_PARK) => park::park(p, &params, pending(c)),
        (Object::ParkSpace, m::PARK_UNPARK) => park::unpark(p, &params),
        (Object::Endpoint(e), m::ENDPOINT_CALL) => e.call(&params, pending(c)),
        (Object::Endpoint(e), m::ENDPOINT_RECEIVE) => e.receive(pending(c)),
        (Object::Endpoint(e), m::ENDPOINT_REPLY) => e.reply(&params),
        (Object::Measure, m::MEASURE_MARK) => {
            let phase = params.measure_mark()?;
            mark_in_order(&phase)?;
            let tsc = crate::arch::x86_64::cpu::rdtsc();
            #[cfg(feature = "measure")]
            if !crate::measure::mark(&phase, tsc) {
                return Err(Error::InvalidState);
            }
            let _ = &phase;
            Ok(Outcome::Done(0, Some(messages::measure_mark(tsc))))
        }
        (Object::Measure, m::MEASURE_MEMORY) => {
            let f = crate::mm::frame::stats();
            let (heap, peak) = (crate::mm::heap::used() as u64, crate::mm::heap::peak() as u64);
            Ok(Outcome::Done(0, Some(messages::memory(heap, peak, (f.total - f.free) as u64, f.peak_used as u64))))
        }
        _ => Err(Error::BadMethod),
    }
}
