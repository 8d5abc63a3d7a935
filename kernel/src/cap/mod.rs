//! Capabilities: per-process tables of kernel objects with rights, invoked
//! through each thread's ring.
//!
//! A slot holds an [`Object`] and [`Rights`]. An empty or out-of-range slot
//! is `BadSlot`; an object that was revoked (an endpoint whose owner is
//! gone, a handle already consumed) is `StaleCap`; a method the slot's
//! rights do not allow is `NoRights`. Every method takes a Cap'n Proto
//! parameter message and may write a result message.

pub mod completion;
pub mod objects;
pub mod ring;

pub use completion::Completion;

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

/// One entry of a table.
#[derive(Clone)]
enum Entry {
    Empty,
    /// Held for an object still being created (a thread or process whose
    /// handle must have a slot before it starts).
    Reserved,
    Full(Slot),
}

#[derive(Default)]
pub struct CapTable {
    slots: Vec<Entry>,
}

/// A slot held for an object being created: `fill` it, or `release` it.
#[must_use]
pub struct Reservation(u32);

impl CapTable {
    pub const fn new() -> Self {
        CapTable { slots: Vec::new() }
    }

    /// Holds a free slot (`OutOfResources` if the table is full).
    pub fn reserve(&mut self) -> Result<Reservation, Error> {
        if let Some(i) = self.slots.iter().position(|e| matches!(e, Entry::Empty)) {
            self.slots[i] = Entry::Reserved;
            return Ok(Reservation(i as u32));
        }
        if self.slots.len() >= MAX_SLOTS {
            return Err(Error::OutOfResources);
        }
        self.slots.try_reserve(1).map_err(|_| Error::OutOfResources)?;
        self.slots.push(Entry::Reserved);
        Ok(Reservation(self.slots.len() as u32 - 1))
    }

    /// Puts `s` in the reserved slot; returns its index.
    pub fn fill(&mut self, r: Reservation, s: Slot) -> u32 {
        // The table may have been cleared meanwhile (its process exited):
        // then the object is simply dropped with the reservation.
        if let Some(e @ Entry::Reserved) = self.slots.get_mut(r.0 as usize) {
            *e = Entry::Full(s);
        }
        r.0
    }

    /// Gives a reserved slot back unused.
    pub fn release(&mut self, r: Reservation) {
        if let Some(e @ Entry::Reserved) = self.slots.get_mut(r.0 as usize) {
            *e = Entry::Empty;
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Puts `s` in the first free slot; returns its index.
    pub fn push(&mut self, s: Slot) -> Result<u32, Error> {
        let r = self.reserve()?;
        Ok(self.fill(r, s))
    }

    /// The slot `i` if it can be used with `needed` rights.
    pub fn get(&self, i: u32, needed: Rights) -> Result<Slot, Error> {
        let Some(Entry::Full(s)) = self.slots.get(i as usize) else { return Err(Error::BadSlot) };
        if s.object.revoked() {
            return Err(Error::StaleCap);
        }
        if !s.rights.contains(needed) {
            return Err(Error::NoRights);
        }
        Ok(s.clone())
    }

    /// Empties slot `i` (a consumed handle); returns what it held, to be
    /// dropped by the caller outside the table's lock.
    pub fn remove(&mut self, i: u32) -> Option<Slot> {
        match self.slots.get_mut(i as usize) {
            Some(e @ Entry::Full(_)) => match core::mem::replace(e, Entry::Empty) {
                Entry::Full(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
}

/// What a method did with its SQE.
pub enum Outcome {
    /// Completed now: CQE result and an optional result message.
    Done(i64, Option<Vec<u8>>),
    /// The object keeps the completion and posts it later.
    Pending,
}
