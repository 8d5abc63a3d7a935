//! capOS ABI: every number or text format that crosses a boundary is defined
//! here once and imported by both sides.
//!
//! * [`guest`]: what the guest tells the host harness (exit codes written to
//!   QEMU's `isa-debug-exit`, the kernel-test line protocol, backtrace lines).
//! * [`syscall`]: system call numbers and the register convention.
//! * [`ring`]: the per-thread capability ring (SQE/CQE layout, indices).
//! * [`error`]: error codes.
//! * [`rights`]: capability rights.
//! * [`layout`]: where the kernel puts things in a user address space.
//! * [`phase`]: the measurement phases user space marks.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod error;
pub mod guest;
pub mod layout;
pub mod phase;
pub mod rights;
pub mod ring;
pub mod syscall;
