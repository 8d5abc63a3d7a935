//! Capabilities: per-process tables of kernel objects with rights, invoked
//! through each thread's ring.
//!
//! A slot holds an [`Object`] and [`Rights`]. An empty or out-of-range slot
//! is `BadSlot`; an object that was revoked (an endpoint whose owner is
//! gone, a handle already consumed) is `StaleCap`; a method the slot's
//! rights do not allow is `NoRights`. Every method takes a Cap'n Proto
//! parameter message and may write a result message.

pub mod objects;
pub mod ring;

use crate::proc::Process;
use crate::sched::Thread;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::rights::Rights;

/// Most slots one table holds.
pub const MAX_SLOTS: usize = 256;

/// What a slot can name.
#[derive(Clone)]
pub enum Object {
    Console,
    Timer,
    ProcessSpawner,
    ProcessHandle(Arc<Process>),
    ThreadSpawner,
    ThreadHandle(Arc<Thread>),
    ParkSpace,
    Endpoint(Arc<objects::endpoint::Endpoint>),
    Measure,
}

impl Object {
    #[allow(dead_code)] // used by the measure report of cap calls
    pub fn kind_name(&self) -> &'static str {
        match self {
            Object::Console => "Console",
            Object::Timer => "Timer",
            Object::ProcessSpawner => "ProcessSpawner",
            Object::ProcessHandle(_) => "ProcessHandle",
            Object::ThreadSpawner => "ThreadSpawner",
            Object::ThreadHandle(_) => "ThreadHandle",
            Object::ParkSpace => "ParkSpace",
            Object::Endpoint(_) => "Endpoint",
            Object::Measure => "Measure",
        }
    }

    /// A revoked object fails every call with `StaleCap`.
    fn revoked(&self) -> bool {
        match self {
            Object::Endpoint(e) => e.is_revoked(),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Slot {
    pub object: Object,
    pub rights: Rights,
}

pub struct CapTable {
    slots: Vec<Option<Slot>>,
}

impl CapTable {
    pub const fn new() -> Self {
        CapTable { slots: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Appends a slot; returns its index.
    pub fn push(&mut self, s: Slot) -> Result<u32, Error> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(s);
            return Ok(i as u32);
        }
        if self.slots.len() >= MAX_SLOTS {
            return Err(Error::OutOfResources);
        }
        self.slots.push(Some(s));
        Ok(self.slots.len() as u32 - 1)
    }

    /// The slot `i` if it can be used with `needed` rights.
    pub fn get(&self, i: u32, needed: Rights) -> Result<Slot, Error> {
        let s = self.slots.get(i as usize).and_then(Option::as_ref).ok_or(Error::BadSlot)?;
        if s.object.revoked() {
            return Err(Error::StaleCap);
        }
        if !s.rights.contains(needed) {
            return Err(Error::NoRights);
        }
        Ok(s.clone())
    }

    /// Empties slot `i` (a consumed handle).
    pub fn remove(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize) {
            *s = None;
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
    }
}

/// Where a method's completion goes: the ring of the thread that asked.
pub struct Completion {
    pub thread: Arc<Thread>,
    pub user_data: u64,
    /// User buffer for the result message (0 = none) and its capacity.
    pub result_addr: u64,
    pub result_cap: u32,
}

/// What a method did with its SQE.
pub enum Outcome {
    /// Completed now: CQE result and an optional result message.
    Done(i64, Option<Vec<u8>>),
    /// The object keeps the completion and posts it later.
    Pending,
}
