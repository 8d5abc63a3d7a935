//! capOS ABI: every number or text format that crosses a boundary is defined
//! here once and imported by both sides.
//!
//! * [`guest`]: what the guest tells the host harness (exit codes written to
//!   QEMU's `isa-debug-exit`, the kernel-test line protocol, backtrace lines).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod guest;
