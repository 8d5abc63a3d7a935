//! The guest half of the syscall and ring fuzzer (`fuzz`, `fuzz-child`).
//!
//! What runs is planned by `capos_fuzzplan` (a pure function of the seed);
//! this module turns each planned step into real, hostile traffic:
//!
//! - [`ring`]: a thread's ring page through raw atomics (its own push/pop,
//!   plus index corruption and scribbling that the runtime's ring refuses);
//! - [`arena`]: per-thread memory handed to the kernel for params and results;
//! - [`values`]: the interesting pointers, lengths, slots, methods, timeouts;
//! - [`msg`]: valid Cap'n Proto params with fuzzed fields, and malformed ones;
//! - [`worker`]: one thread's executor and completion bookkeeping, with the
//!   ops in [`ops_ring`], [`ops_sys`], [`ops_caps`] and [`threads`];
//! - [`shared`]: what the threads of one child share (slot layout, ring
//!   registry, park words).
//!
//! Fuzz children never use the runtime's TLS-based helpers (`ring::call`,
//! the typed clients, `thread::spawn`): those wait without a timeout, and a
//! fuzzed ring may legitimately never complete; FS base is fuzzed too. Every
//! wait here is bounded, so only a kernel bug can hang a child.

/// `pick!(r, a, b, ...)`: one of the values, chosen by `r`. Unlike
/// `Rng::pick(&[..])` the values may themselves draw from `r` (they are
/// all evaluated first, in order, so the stream stays deterministic).
macro_rules! pick {
    ($r:expr, $($x:expr),+ $(,)?) => {{
        let xs = [$($x),+];
        $r.pick(&xs)
    }};
}

pub mod arena;
pub mod malformed;
pub mod msg;
pub mod ops_caps;
pub mod ops_ring;
pub mod ops_sys;
pub mod ring;
pub mod shared;
pub mod threads;
pub mod values;
pub mod worker;
