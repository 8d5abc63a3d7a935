//! `capos-workloads`: the deterministic CPU-bound workloads behind capOS's
//! scaling benchmarks, shared unchanged by the capOS user programs
//! (`x86_64-unknown-none`) and the Linux baselines (native and guest).
//!
//! Design principles:
//! 1. One source of truth: the workload code, its default sizes, the known
//!    checksums for those defaults, and the shape of every result line live
//!    here; the harness parses with the same module that the guests format with.
//! 2. `no_std`, no `alloc`: the hot loops touch only their inputs and locals,
//!    make no calls out of the crate and allocate nothing, so a benchmark's
//!    timed section can be syscall-free by construction.
//! 3. Verifiable: every run ends in a root value compared against a
//!    single-threaded reference (or a pinned constant), and the combining step
//!    notices missing, duplicated and reordered partial results.
//!
//! Modules:
//! - [`mix`]: the integer mixing functions both workloads use.
//! - [`thread_scale`]: fixed-size block hashing split into contiguous chunks.
//! - [`process_scale`]: trial-division prime counting over cost-balanced ranges.
//! - [`ipc_scale`]: request/reply values and checksums of the IPC pairs.
//! - [`line`]: `[thread-scale]` / `[smp-process-scale]` / `[ipc-scale]` result lines
//!   (formatting into `core::fmt::Write`, alloc-free parsing with typed errors).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod ipc_scale;
pub mod line;
pub mod mix;
pub mod process_scale;
pub mod thread_scale;
