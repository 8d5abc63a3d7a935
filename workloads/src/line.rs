//! The result lines, defined once: guests format them, the harness parses
//! them.
//!
//! ```text
//! [thread-scale] cpus=<n> threads=<n> blocks=<b> block_bytes=64 work_rounds=<r> checksum=<hex> spawn_ready=<cycles> work=<cycles> elapsed=<cycles> shutdown=<cycles> total=<cycles> parent_wait=blocking bench_class=syscall-free-cpu hot_section_syscalls=0 verified=true accepted=false
//! [smp-process-scale] cpus=<n> workers=<n> range=<lo>..<hi> primes=<count> checksum=<hex> elapsed=<cycles> verified=true
//! [ipc-scale] cpus=<n> pairs=<n> calls=<per client> checksum=<hex> spawn_ready=<cycles> work=<cycles> elapsed=<cycles> shutdown=<cycles> verified=true
//! ```
//!
//! `elapsed` in `[thread-scale]` and `[ipc-scale]` is an alias of `work`. Optional trailing
//! `*_ns=` fields carry wall-clock nanoseconds where a baseline has them.
//! Formatting goes through `Display` (so any `core::fmt::Write`); parsing is
//! alloc-free, finds the tag anywhere in the line (consoles add prefixes),
//! requires every field exactly once, and ignores unknown `key=value`
//! fields so that new fields do not break old parsers.

mod ipc;
mod parse;
mod process;
mod thread;

pub use ipc::{IpcScaleLine, IPC_SCALE_TAG};
pub use parse::LineError;
pub use process::{ProcessScaleLine, PROCESS_SCALE_TAG};
pub use thread::{BenchClass, ParentWait, ThreadScaleLine, THREAD_SCALE_TAG};
