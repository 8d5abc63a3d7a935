//! The guest symbol map: every symbol of every ELF used for a run, so a PC
//! can be re-resolved later without the build tree.
//!
//! ```text
//! # guest symbol map (capos-symbolize): address size kind name, per binary
//! binary name=thread-scale elf=boot/thread-scale status=ok symbols=180 dwarf=yes link_start=0x400000 link_end=0x40a000
//! 0x0000000000401000 0x00000000000000a0 sized thread_scale::worker_entry
//! 0x0000000000400000 0x0000000000000040 label _start
//! binary name=init elf=- status=missing
//! ```
//!
//! `kind` is `sized` for symbols with an ELF size and `label` for unsized
//! labels, whose size runs to the next symbol within their section.

use std::fmt::Write as _;

use crate::binaries::Binaries;

pub(crate) fn symbol_map_text(bins: &Binaries) -> String {
    let mut out = String::new();
    let _ =
        writeln!(out, "# guest symbol map (capos-symbolize): address size kind name, per binary");
    for status in bins.all() {
        let _ = write!(out, "binary {status}");
        let Some(sym) = status.symbolizer() else {
            let _ = writeln!(out);
            continue;
        };
        if let Some((lo, hi)) = sym.load_range() {
            let _ = write!(out, " link_start={lo:#x} link_end={hi:#x}");
        }
        let _ = writeln!(out);
        for s in sym.symbols() {
            let kind = if s.sized { "sized" } else { "label" };
            let _ = writeln!(out, "{:#018x} {:#018x} {kind} {}", s.start, s.size, s.name);
        }
    }
    out
}
