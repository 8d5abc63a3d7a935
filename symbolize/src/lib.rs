//! Host-side symbolization of capOS addresses: ELF symbol tables, DWARF line
//! tables and inlined frames, demangled Rust names.
//!
//! [`Symbolizer`] loads one ELF (the kernel, the loader, or a user program) and
//! answers two questions:
//!
//! * [`Symbolizer::resolve`]: which symbol covers an address, at which offset,
//!   and which source frames (function, file, line) DWARF gives for it,
//!   innermost inlined frame first. An address that no symbol and no DWARF
//!   unit covers resolves to an explicit `<unmapped>` result.
//! * [`Symbolizer::annotate_line`]: a line of a serial log is returned
//!   unchanged unless it is a backtrace frame (`  bt #<i> 0x<hex>`, see
//!   [`capos_abi::guest::parse_backtrace_frame`]); a frame gets its resolution
//!   appended after one space.
//!
//! # Annotation format
//!
//! ```text
//!   bt #0 0xffffffff80012345 capos_kernel::mm::map+0x1c at kernel/src/mm.rs:40
//!   bt #1 0xffffffff80012abc capos_kernel::main+0x8b at kernel/src/alloc.rs:12 (inlined capos_kernel::alloc::grow into capos_kernel::main at kernel/src/main.rs:77)
//!   bt #2 0x0000000000000010 <unmapped>
//! ```
//!
//! * `<symbol>+0x<offset>` is the ELF symbol that contains the address (the
//!   real, out-of-line function). Without a covering symbol the outermost DWARF
//!   function is named instead, without an offset.
//! * `at <file>:<line>` is the innermost source location, i.e. the line the
//!   instruction was generated from, even when that line belongs to an inlined
//!   callee.
//! * When DWARF reports inlining, each inlining step follows on the same line,
//!   innermost first, as `(inlined <callee> into <caller> at <call site>)`.
//!
//! # Return addresses
//!
//! The kernel's frame-pointer backtraces record *return addresses*: frame
//! `#0` is the faulting (or current) instruction, but every frame with an
//! index above 0 points just after a `call`. [`Symbolizer::annotate_line`]
//! therefore resolves `addr - 1` for frames with index > 0, so the symbol,
//! offset and line all describe the call instruction (the call site), and a
//! call that is the last instruction of a function is not attributed to the
//! function that follows it. [`Symbolizer::resolve`] itself resolves exactly
//! the address it is given; use [`Symbolizer::resolve_return_address`] for
//! return addresses.
//!
//! # Robustness
//!
//! Missing files, empty files, non-ELF data and truncated or corrupt ELF
//! headers are [`SymbolizeError`]s with readable messages. A stripped ELF
//! loads; it simply resolves fewer addresses. DWARF is only consulted for
//! addresses inside executable sections (the linker leaves DWARF of discarded
//! code pointing at address 0), and corrupt DWARF degrades to symbol-only
//! results instead of failing.

//!
//! # Profiles
//!
//! Beyond single ELFs, [`ElfPaths`] names the kernel ELF and each user
//! program's ELF (by boot-module file name), [`Binaries`] loads them and
//! keeps every load problem as a readable message, and [`Resolver`] maps a
//! run-time address from a measure report to the right ELF using the
//! report's load maps. [`write_pc_report`] writes `user-pc-symbols.log` and
//! the guest symbol map from a [`capos_measure::report::Report`].
#![forbid(unsafe_code)]

mod address;
mod binaries;
mod elf;
mod pc_report;
mod report_input;
mod report_text;
mod symbol_map;

pub use address::{Location, Origin, Resolver, KERNEL_HALF};
pub use binaries::{Binaries, BinaryState, BinaryStatus, ElfPaths, KERNEL_BINARY};
pub use elf::{
    demangle, Resolved, SourceFrame, SymbolEntry, SymbolHit, SymbolizeError, Symbolizer,
};
pub use pc_report::{
    pc_report_text, write_pc_report, write_pc_report_resolved, PcReportError, PcReportPaths,
    PC_REPORT_FILE, SYMBOL_MAP_FILE,
};
pub use report_input::{
    parse_report_text, read_report, ContentionStack, ReportInput, ReportInputError,
    CONTENTION_FAMILY,
};
