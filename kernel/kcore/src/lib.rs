//! Kernel logic that touches no hardware, so it is unit-tested on the host.
//!
//! * [`slab`]: generation-checked slots; a stale reference is rejected, never
//!   mistaken for whatever reuses its slot (threads, later capabilities).
//! * [`placement`]: which CPU a newly runnable thread is queued on.
//! * [`timer_policy`]: whether a timer tick may continue the current thread
//!   without taking any scheduler lock.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod placement;
pub mod slab;
pub mod timer_policy;
