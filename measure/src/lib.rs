//! capOS measurement core, shared by the kernel (no_std) and host tools (`std`).
//!
//! Design principles:
//!
//! 1. **One declaration per counter.** [`catalogue`] is the only list of what
//!    can be measured; shards, phases, records, text, JSON and the docs check
//!    all iterate it.
//! 2. **The hot path touches only its own CPU's cache lines.** Counters live
//!    in 64-byte-aligned per-CPU shards updated with a Relaxed load and store
//!    (no `lock` prefix); readers sum shards ([`shard`]).
//! 3. **Bounded memory.** Sample tables and trace rings have fixed sizes and
//!    count what they refuse or overwrite; nothing allocates on a probe.
//! 4. **Phases are deltas.** A mark snapshots everything; reported values are
//!    differences, and min/max restart every phase ([`phase`]).
//! 5. **The wire is versioned and checked.** Records name catalogue positions
//!    and the host refuses a stream from another catalogue ([`record`]).
//! 6. **The host prints every declared field**, zeros included, in the
//!    seed's `measure:` line shape, and can read its own output back.
//!
//! Modules: [`declare`] (macros, layout), [`catalogue`] (the declarations),
//! [`hist`], [`shard`], [`phase`], [`samples`], [`trace`], [`record`],
//! `Measure`, [`freeze`] (the final snapshot) and its report emission; with `std`: `report`, `log_text`,
//! `log_parse`, `json`, `limits`, `docs_ref`, `check` (counter identities),
//! `coverage` (which fields some reports raised).
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod catalogue;
pub mod cpu_time;
pub mod declare;
mod decode;
mod emit;
pub mod freeze;
pub mod held;
pub mod hist;
mod instrument;
pub mod instrument_info;
pub mod lock_pairs;
pub mod phase;
pub mod record;
pub mod run_delay;
pub mod samples;
pub mod shard;
pub mod thread_names;
pub mod thread_ops;
pub mod thread_time;
pub mod timed;
pub mod trace;

#[cfg(feature = "std")]
pub mod check;
#[cfg(feature = "std")]
pub mod coverage;
#[cfg(feature = "std")]
pub mod docs_ref;
#[cfg(feature = "std")]
mod json;
#[cfg(feature = "std")]
mod labels;
#[cfg(feature = "std")]
pub mod limits;
#[cfg(feature = "std")]
pub mod log_parse;
#[cfg(feature = "std")]
mod log_text;
#[cfg(feature = "std")]
pub mod report;
#[cfg(feature = "std")]
pub mod scaling;

/// CPU slots with a shard and a trace ring.
pub const MAX_CPUS: usize = 16;
/// Entries in each PC sample table (user and kernel). With
/// [`STACK_TABLE_ENTRIES`] and [`TIMED_SAMPLES_PER_CPU`] sized so a 10 s run
/// at 1 kHz on 4 CPUs (40 000 samples) loses none even if every sample is a
/// new PC and stack (`tests/capacity.rs`).
pub const PC_TABLE_ENTRIES: usize = 65536;
/// Entries in the stack sample table (both modes).
pub const STACK_TABLE_ENTRIES: usize = 65536;
/// Samples kept per CPU in time order (10 s at 1 kHz is 10 000).
pub const TIMED_SAMPLES_PER_CPU: usize = 16384;
/// Threads whose names the report keeps.
pub const THREAD_NAMES: usize = 1024;
/// Entries in the contention-stack table (both lock classes).
pub const CONTENTION_TABLE_ENTRIES: usize = 256;
/// (thread, phase) rows in the per-thread operation table.
pub const THREAD_OPS_ENTRIES: usize = 1024;
/// (thread, phase) rows in the per-thread time-by-state table.
pub const THREAD_TIME_ENTRIES: usize = 1024;
/// (phase, block reason, stack) entries in the off-CPU table.
pub const OFFCPU_ENTRIES: usize = 1024;
/// Events kept per CPU trace ring.
pub const TRACE_EVENTS_PER_CPU: usize = 1024;

pub use declare::{Counter, Field, Hist, HistField, Kind, FINGERPRINT};
pub use emit::ReportInfo;
pub use freeze::Frozen;
pub use instrument::Measure;
pub use instrument_info::{Accel, InstrumentInfo, ProbeCost};
pub use phase::{MarkError, Phase};
pub use record::{
    decode, decode_all, encode, ContentionClass, ContentionKey, DecodeError, HeldLock, Mode, PcKey,
    Record, SampleMode, SampleTag, StackKey, WIRE_VERSION,
};
pub use trace::{TraceEvent, TraceKind};
