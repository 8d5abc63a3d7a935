//! `capos-fuzzplan`: everything about a fuzz run that must come out the same
//! on every machine for a given seed, shared by the guest programs (`fuzz`,
//! `fuzz-child` in userspace/smokes) and the host harness (`fuzz`).
//!
//! - [`rng`]: a small seeded PRNG (SplitMix64) and seed derivation.
//! - [`args`]: the `seed=S ops=N children=K` argument strings of the parent
//!   and its children (formatting and strict parsing).
//! - [`plan`]: which kind of op every worker thread of every child runs, in
//!   order, and the summary line both sides can compute for a seed.
//! - [`outcome`]: what a child's exit code tells the parent.
//!
//! Why a crate of its own: the guest crates are bare-metal `no_std` binaries
//! without host tests, and the harness wants to check that a run did what
//! the seed says (the guest prints the plan summary, the harness computes
//! it independently). No `alloc`, no `unsafe`: it builds for both targets.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod args;
pub mod outcome;
pub mod plan;
pub mod rng;
