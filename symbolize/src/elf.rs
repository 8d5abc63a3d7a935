//! One ELF file: its symbol table, DWARF lines and inlined frames, and its
//! load range. See the crate documentation for the annotation format, the
//! return-address rule and the robustness guarantees.

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use object::{
    Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionIndex, SectionKind, SymbolKind,
};

/// Why an ELF could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SymbolizeError {
    /// The file could not be read at all.
    #[error("cannot read {}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    /// The input has no bytes.
    #[error("the file is empty, not an ELF")]
    Empty,
    /// The input does not start with the ELF magic.
    #[error("not an ELF file (starts with {found})")]
    NotElf { found: String },
    /// The input starts like an ELF but its headers do not hold together.
    #[error("malformed or truncated ELF ({len} bytes): {reason}")]
    Malformed { len: usize, reason: String },
    /// An error about a file, with the file's path.
    #[error("{}: {error}", path.display())]
    InFile { path: PathBuf, error: Box<SymbolizeError> },
}

/// The ELF symbol that contains an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolHit {
    /// Demangled name without the Rust hash suffix.
    pub name: String,
    /// Start address of the symbol.
    pub start: u64,
    /// `addr - start`.
    pub offset: u64,
}

/// One source frame from DWARF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFrame {
    /// Demangled function name, when DWARF names one.
    pub function: Option<String>,
    /// Source file (as recorded in DWARF, usually absolute).
    pub file: Option<String>,
    /// 1-based line, when known.
    pub line: Option<u32>,
}

impl SourceFrame {
    fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        })
    }

    fn function_or_unknown(&self) -> &str {
        self.function.as_deref().unwrap_or("??")
    }
}

/// Everything known about one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The address that was looked up.
    pub addr: u64,
    /// The covering ELF symbol, if any.
    pub symbol: Option<SymbolHit>,
    /// DWARF frames, innermost (inlined) first; the last one is the
    /// out-of-line function. Empty without DWARF for the address.
    pub frames: Vec<SourceFrame>,
}

impl Resolved {
    /// True when neither a symbol nor DWARF covers the address.
    pub fn is_unmapped(&self) -> bool {
        self.symbol.is_none() && self.frames.is_empty()
    }

    /// The best name for the function: the symbol, else the outermost DWARF function.
    pub fn function_name(&self) -> Option<&str> {
        match &self.symbol {
            Some(sym) => Some(&sym.name),
            None => self.frames.last().and_then(|f| f.function.as_deref()),
        }
    }
}

/// The text appended to backtrace lines; see the crate documentation.
impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unmapped() {
            return f.write_str("<unmapped>");
        }
        match (&self.symbol, self.function_name()) {
            (Some(sym), _) => write!(f, "{}+{:#x}", sym.name, sym.offset)?,
            (None, Some(name)) => f.write_str(name)?,
            (None, None) => f.write_str("??")?,
        }
        if let Some(loc) = self.frames.first().and_then(SourceFrame::location) {
            write!(f, " at {loc}")?;
        }
        for pair in self.frames.windows(2) {
            let (callee, caller) = (&pair[0], &pair[1]);
            write!(
                f,
                " (inlined {} into {}",
                callee.function_or_unknown(),
                caller.function_or_unknown()
            )?;
            if let Some(loc) = caller.location() {
                write!(f, " at {loc}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A symbol kept for lookups.
#[derive(Debug)]
struct Sym {
    start: u64,
    /// Exclusive end of the range the symbol covers.
    end: u64,
    name: String,
    sized: bool,
}

type Reader = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// Symbolizes addresses against one ELF file.
pub struct Symbolizer {
    /// Sorted by `start`.
    syms: Vec<Sym>,
    /// `max_end[i]` = the largest `end` among `syms[..=i]`; bounds the backward scan.
    max_end: Vec<u64>,
    /// Address ranges of executable sections. DWARF is consulted only inside
    /// them: code the linker discarded keeps DWARF entries relocated to 0.
    text_ranges: Vec<(u64, u64)>,
    /// `[lowest PT_LOAD page, end of the highest PT_LOAD)` in link addresses.
    load_range: Option<(u64, u64)>,
    dwarf: Option<addr2line::Context<Reader>>,
    dwarf_warning: Option<String>,
}

/// One entry of an ELF's symbol table as used for lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolEntry<'a> {
    pub start: u64,
    /// Bytes the symbol covers: its ELF size, or for an unsized label the
    /// distance to the next symbol (within its section).
    pub size: u64,
    /// False for unsized labels (assembly entry stubs and the like).
    pub sized: bool,
    /// Demangled, without the Rust hash suffix.
    pub name: &'a str,
}

impl fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbolizer")
            .field("symbols", &self.syms.len())
            .field("dwarf", &self.dwarf.is_some())
            .field("dwarf_warning", &self.dwarf_warning)
            .finish()
    }
}

impl Symbolizer {
    /// Reads and loads the ELF at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, SymbolizeError> {
        let path = path.as_ref();
        let data = std::fs::read(path)
            .map_err(|error| SymbolizeError::Io { path: path.to_path_buf(), error })?;
        Self::from_bytes(data)
            .map_err(|e| SymbolizeError::InFile { path: path.to_path_buf(), error: Box::new(e) })
    }

    /// Loads an ELF image held in memory.
    ///
    /// A stripped ELF loads fine: addresses then resolve to `<unmapped>` (no
    /// symbol table) or to symbols without source lines (no DWARF). Broken
    /// DWARF does not fail the load either; see [`Symbolizer::dwarf_warning`].
    pub fn from_bytes(data: Vec<u8>) -> Result<Self, SymbolizeError> {
        if data.is_empty() {
            return Err(SymbolizeError::Empty);
        }
        if !data.starts_with(b"\x7fELF") {
            let found =
                data.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
            return Err(SymbolizeError::NotElf { found: format!("bytes {found}") });
        }
        let malformed =
            |e: object::Error| SymbolizeError::Malformed { len: data.len(), reason: e.to_string() };
        let file = object::File::parse(&*data).map_err(malformed)?;
        let syms = collect_symbols(&file);
        let mut max_end = Vec::with_capacity(syms.len());
        let mut running = 0u64;
        for s in &syms {
            running = running.max(s.end);
            max_end.push(running);
        }
        let text_ranges = file
            .sections()
            .filter(|sec| sec.kind() == SectionKind::Text && sec.size() > 0)
            .map(|sec| (sec.address(), sec.address().saturating_add(sec.size())))
            .collect();
        let load_range = load_range(&file);
        let (dwarf, dwarf_warning) = match load_dwarf(&file) {
            Ok(Some(ctx)) => (Some(ctx), None),
            Ok(None) => (None, None),
            Err(e) => (None, Some(e)),
        };
        Ok(Symbolizer { syms, max_end, text_ranges, load_range, dwarf, dwarf_warning })
    }

    /// Number of symbols usable for lookups.
    pub fn symbol_count(&self) -> usize {
        self.syms.len()
    }

    /// The symbols used for lookups, by ascending start address.
    pub fn symbols(&self) -> impl Iterator<Item = SymbolEntry<'_>> + '_ {
        self.syms.iter().map(|s| SymbolEntry {
            start: s.start,
            size: s.end.saturating_sub(s.start),
            sized: s.sized,
            name: &s.name,
        })
    }

    /// `[start, end)` of the loadable image in link addresses: `start` is the
    /// page (4 KiB) holding the lowest `PT_LOAD`, `end` the end of the highest.
    /// `None` for an ELF without loadable segments.
    pub fn load_range(&self) -> Option<(u64, u64)> {
        self.load_range
    }

    /// Whether DWARF debug information was loaded.
    pub fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// Why present DWARF could not be used, if it could not.
    pub fn dwarf_warning(&self) -> Option<&str> {
        self.dwarf_warning.as_deref()
    }

    /// Resolves exactly `addr`.
    pub fn resolve(&self, addr: u64) -> Resolved {
        Resolved { addr, symbol: self.symbol_for(addr), frames: self.frames_for(addr) }
    }

    /// Resolves a return address recorded in a backtrace: looks up `addr - 1`,
    /// the last byte of the call instruction, so the result names the call site.
    pub fn resolve_return_address(&self, addr: u64) -> Resolved {
        self.resolve(addr.saturating_sub(1))
    }

    /// Returns `line` with the resolution appended if it is a backtrace frame
    /// line, or unchanged otherwise. Frames with index > 0 are return addresses
    /// and resolve `addr - 1` (see the crate documentation). A trailing `\r`
    /// or `\n` is dropped from annotated lines.
    pub fn annotate_line(&self, line: &str) -> String {
        let Some((index, addr)) = capos_abi::guest::parse_backtrace_frame(line) else {
            return line.to_string();
        };
        let resolved =
            if index > 0 { self.resolve_return_address(addr) } else { self.resolve(addr) };
        format!("{} {}", line.trim_end_matches(['\r', '\n']), resolved)
    }

    fn symbol_for(&self, addr: u64) -> Option<SymbolHit> {
        // Candidates start at or below `addr`; walk back from the nearest
        // while some earlier symbol could still reach past `addr`.
        let upto = self.syms.partition_point(|s| s.start <= addr);
        let mut best: Option<&Sym> = None;
        for i in (0..upto).rev() {
            if self.max_end[i] <= addr {
                break;
            }
            let s = &self.syms[i];
            if best.is_some_and(|b| s.start < b.start) {
                break;
            }
            // Prefer the innermost (latest start); at one start, a sized symbol
            // over an unsized label, and the smallest sized one.
            if addr < s.end && best.is_none_or(|b| s.sized && !b.sized) {
                best = Some(s);
            }
        }
        best.map(|s| SymbolHit { name: s.name.clone(), start: s.start, offset: addr - s.start })
    }

    fn frames_for(&self, addr: u64) -> Vec<SourceFrame> {
        let Some(ctx) = &self.dwarf else { return Vec::new() };
        if !self.text_ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&addr)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let Ok(mut iter) = ctx.find_frames(addr).skip_all_loads() else { return out };
        // Corrupt DWARF ends the walk; what was found so far is still useful.
        while let Ok(Some(frame)) = iter.next() {
            let function =
                frame.function.as_ref().and_then(|n| n.demangle().ok()).map(|n| n.into_owned());
            let (file, line) = match &frame.location {
                Some(loc) => (loc.file.map(str::to_string), loc.line),
                None => (None, None),
            };
            out.push(SourceFrame { function, file, line });
            if out.len() >= 256 {
                break;
            }
        }
        out
    }
}

/// Demangles a symbol name, dropping the Rust hash suffix.
pub fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}

fn collect_symbols(file: &object::File<'_>) -> Vec<Sym> {
    let mut raw: Vec<(u64, u64, String, Option<SectionIndex>)> = Vec::new();
    let mut push = |sym: object::Symbol<'_, '_>| {
        // Unsized untyped symbols (assembly labels: entry stubs, trampolines)
        // count too, so this is wider than `is_definition`.
        if sym.is_undefined()
            || sym.section_index().is_none()
            || !matches!(sym.kind(), SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown)
        {
            return;
        }
        let Ok(name) = sym.name() else { return };
        if name.is_empty() || name.starts_with("$") {
            return;
        }
        raw.push((sym.address(), sym.size(), demangle(name), sym.section_index()));
    };
    let mut any = false;
    for sym in file.symbols() {
        any = true;
        push(sym);
    }
    if !any {
        for sym in file.dynamic_symbols() {
            push(sym);
        }
    }
    raw.sort_by_key(|r| (r.0, std::cmp::Reverse(r.1)));
    raw.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);

    let mut syms = Vec::with_capacity(raw.len());
    for (i, (start, size, name, section)) in raw.iter().enumerate() {
        let end = if *size > 0 {
            start.saturating_add(*size)
        } else {
            // An unsized symbol (an assembly label) reaches to the next symbol,
            // but never past the end of its own section.
            let Some((sec_start, sec_end)) = section
                .and_then(|idx| file.section_by_index(idx).ok())
                .map(|sec| (sec.address(), sec.address().saturating_add(sec.size())))
            else {
                continue;
            };
            if *start < sec_start || *start >= sec_end {
                continue;
            }
            let next = raw[i + 1..].iter().map(|r| r.0).find(|&a| a > *start).unwrap_or(u64::MAX);
            next.min(sec_end)
        };
        syms.push(Sym { start: *start, end, name: name.clone(), sized: *size > 0 });
    }
    syms
}

fn load_range(file: &object::File<'_>) -> Option<(u64, u64)> {
    let mut range: Option<(u64, u64)> = None;
    for seg in file.segments().filter(|s| s.size() > 0) {
        let (lo, hi) = (seg.address() & !0xfff, seg.address().saturating_add(seg.size()));
        range = Some(match range {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
    range
}

/// Loads DWARF into an addr2line context. `Ok(None)` when the file has no
/// `.debug_info`; `Err` with a readable reason when DWARF exists but is unusable.
fn load_dwarf(file: &object::File<'_>) -> Result<Option<addr2line::Context<Reader>>, String> {
    if file.section_by_name(".debug_info").is_none() {
        return Ok(None);
    }
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Reader, String> {
        let bytes: Rc<[u8]> = match file.section_by_name(id.name()) {
            Some(sec) => {
                let data =
                    sec.uncompressed_data().map_err(|e| format!("section {}: {e}", id.name()))?;
                Rc::from(&*data)
            }
            None => Rc::from(&[][..]),
        };
        Ok(gimli::EndianRcSlice::new(bytes, endian))
    };
    let dwarf = gimli::Dwarf::load(load)?;
    addr2line::Context::from_dwarf(dwarf).map(Some).map_err(|e| format!("DWARF unusable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: u32) -> SourceFrame {
        SourceFrame { function: Some(function.into()), file: Some(file.into()), line: Some(line) }
    }

    #[test]
    fn display_plain_inlined_and_unmapped() {
        let sym = Some(SymbolHit { name: "k::main".into(), start: 0x1000, offset: 0x1c });
        let plain = Resolved {
            addr: 0x101c,
            symbol: sym.clone(),
            frames: vec![frame("k::main", "src/main.rs", 7)],
        };
        assert_eq!(plain.to_string(), "k::main+0x1c at src/main.rs:7");

        let inlined = Resolved {
            addr: 0x101c,
            symbol: sym.clone(),
            frames: vec![frame("k::a::grow", "src/a.rs", 12), frame("k::main", "src/main.rs", 77)],
        };
        assert_eq!(
            inlined.to_string(),
            "k::main+0x1c at src/a.rs:12 (inlined k::a::grow into k::main at src/main.rs:77)"
        );

        let symbol_only = Resolved { addr: 0x101c, symbol: sym, frames: vec![] };
        assert_eq!(symbol_only.to_string(), "k::main+0x1c");

        let unmapped = Resolved { addr: 0x10, symbol: None, frames: vec![] };
        assert!(unmapped.is_unmapped());
        assert_eq!(unmapped.to_string(), "<unmapped>");
    }

    #[test]
    fn demangles_without_hash() {
        assert_eq!(
            demangle("_ZN12capos_kernel4arch6x86_643idt10page_fault17h0123456789abcdefE"),
            "capos_kernel::arch::x86_64::idt::page_fault"
        );
        assert_eq!(demangle("plain_c_name"), "plain_c_name");
    }
}
