//! Generated Cap'n Proto code for the capOS interfaces (`capos.capnp`) and
//! boot manifests (`manifest.capnp`). Used by the kernel and user space.
#![no_std]
#![allow(clippy::all, unused_qualifications, dead_code)]

extern crate alloc;

pub mod capos_capnp {
    include!(concat!(env!("OUT_DIR"), "/capos_capnp.rs"));
}

pub mod manifest_capnp {
    include!(concat!(env!("OUT_DIR"), "/manifest_capnp.rs"));
}

/// Method ordinals, as the ring's `Sqe::method` carries them.
pub mod methods {
    pub const CONSOLE_WRITE: u16 = 0;
    pub const TIMER_NOW: u16 = 0;
    pub const TIMER_SLEEP: u16 = 1;
    pub const SPAWNER_SPAWN: u16 = 0;
    pub const PROCESS_WAIT: u16 = 0;
    pub const THREAD_SPAWN: u16 = 0;
    pub const THREAD_JOIN: u16 = 0;
    pub const PARK_PARK: u16 = 0;
    pub const PARK_UNPARK: u16 = 1;
    pub const ENDPOINT_CALL: u16 = 0;
    pub const ENDPOINT_RECEIVE: u16 = 1;
    pub const ENDPOINT_REPLY: u16 = 2;
    pub const MEASURE_MARK: u16 = 0;
    pub const MEASURE_MEMORY: u16 = 1;
}
