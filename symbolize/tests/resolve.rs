//! Resolves functions of this very test binary, and checks that bad input gives
//! clear errors instead of panics.

use std::hint::black_box;
use std::path::PathBuf;

use capos_symbolize::{SymbolizeError, Symbolizer};
use object::{Object, ObjectSection, ObjectSegment};

const PROBE_LINE: u32 = line!() + 3;

#[inline(never)]
fn symbolize_probe_function(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7) ^ 0x5a
}

fn own_exe() -> PathBuf {
    std::env::current_exe().expect("test binary path")
}

fn own_bytes() -> Vec<u8> {
    std::fs::read(own_exe()).expect("read test binary")
}

/// Converts a run-time address in this process to the address in the ELF file,
/// using the mapping of file offset 0 from /proc/self/maps.
fn link_address(runtime: u64) -> u64 {
    let exe = std::fs::canonicalize(own_exe()).expect("canonical exe");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let base = maps
        .lines()
        .find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 6
                || exe != std::path::Path::new(cols[5])
                || u64::from_str_radix(cols[2], 16).ok()? != 0
            {
                return None;
            }
            u64::from_str_radix(cols[0].split('-').next()?, 16).ok()
        })
        .expect("mapping of the test binary at offset 0");
    let data = own_bytes();
    let file = object::File::parse(&*data).expect("parse own ELF");
    let first_vaddr = file
        .segments()
        .find(|s| s.file_range().0 == 0)
        .map(|s| s.address())
        .expect("segment at file offset 0");
    runtime - (base - first_vaddr)
}

fn probe_address() -> u64 {
    let f: fn(u64) -> u64 = symbolize_probe_function;
    assert_ne!(black_box(f)(1), 0);
    link_address(f as usize as u64)
}

#[test]
fn resolves_a_known_function_with_file_and_line() {
    let sym = Symbolizer::from_path(own_exe()).expect("load own ELF");
    assert!(sym.has_dwarf(), "test binary should carry DWARF: {:?}", sym.dwarf_warning());
    let addr = probe_address();
    let r = sym.resolve(addr);
    let hit = r.symbol.as_ref().expect("symbol for probe function");
    assert!(hit.name.ends_with("::symbolize_probe_function"), "name: {}", hit.name);
    assert_eq!(hit.offset, 0);
    let inner = r.frames.first().expect("DWARF frame");
    let file = inner.file.as_deref().expect("file");
    assert!(file.ends_with("tests/resolve.rs"), "file: {file}");
    let line = inner.line.expect("line");
    assert!(
        (PROBE_LINE..PROBE_LINE + 3).contains(&line),
        "line {line}, function starts at {PROBE_LINE}"
    );

    let text = r.to_string();
    assert!(text.contains("::symbolize_probe_function+0x0 at "), "{text}");

    // A few bytes in: same function, non-zero offset.
    let r4 = sym.resolve(addr + 4);
    assert_eq!(r4.symbol.as_ref().map(|s| s.offset), Some(4));
}

#[test]
fn annotates_backtrace_lines_and_treats_later_frames_as_return_addresses() {
    let sym = Symbolizer::from_path(own_exe()).expect("load own ELF");
    let addr = probe_address();

    let line0 = format!("  bt #0 {addr:#018x}");
    let out0 = sym.annotate_line(&line0);
    assert!(out0.starts_with(&line0));
    assert!(out0.contains("::symbolize_probe_function+0x0 at "), "{out0}");
    assert!(out0.contains("resolve.rs:"), "{out0}");

    // Index > 0: a return address; addr + 1 resolves to addr itself.
    let line1 = format!("  bt #1 {:#018x}\r", addr + 1);
    let out1 = sym.annotate_line(&line1);
    assert!(out1.contains("::symbolize_probe_function+0x0 at "), "{out1}");
    assert!(!out1.contains('\r'));

    for unchanged in ["kernel: hello", "  bt #x 0x10", "", "ktest: a ... ok"] {
        assert_eq!(sym.annotate_line(unchanged), unchanged);
    }
}

#[test]
fn low_address_is_explicitly_unmapped() {
    let sym = Symbolizer::from_path(own_exe()).expect("load own ELF");
    let r = sym.resolve(0x10);
    assert!(r.is_unmapped(), "{r:?}");
    assert_eq!(r.to_string(), "<unmapped>");
    assert_eq!(
        sym.annotate_line("  bt #0 0x0000000000000010"),
        "  bt #0 0x0000000000000010 <unmapped>"
    );
    assert_eq!(sym.resolve(u64::MAX).to_string(), "<unmapped>");
}

#[test]
fn clear_errors_for_bad_input() {
    let err = Symbolizer::from_bytes(b"this is not an ELF at all".to_vec()).unwrap_err();
    assert!(matches!(err, SymbolizeError::NotElf { .. }), "{err}");
    assert!(err.to_string().contains("not an ELF file"), "{err}");

    let err = Symbolizer::from_bytes(Vec::new()).unwrap_err();
    assert!(matches!(err, SymbolizeError::Empty), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");

    let data = own_bytes();
    for len in [200, data.len() / 2] {
        let err = Symbolizer::from_bytes(data[..len].to_vec()).unwrap_err();
        assert!(matches!(err, SymbolizeError::Malformed { .. }), "len {len}: {err}");
        assert!(err.to_string().contains("malformed or truncated ELF"), "{err}");
    }

    let err = Symbolizer::from_path("/nonexistent/capos-kernel").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot read /nonexistent/capos-kernel"), "{msg}");

    let dir = tempdir();
    let empty = dir.join("empty.elf");
    std::fs::write(&empty, b"").expect("write empty file");
    let msg = Symbolizer::from_path(&empty).unwrap_err().to_string();
    assert!(msg.contains("empty.elf") && msg.contains("empty"), "{msg}");
}

#[test]
fn stripped_elf_loads_and_resolves_without_panicking() {
    let dir = tempdir();
    let stripped = dir.join("stripped");
    let status =
        std::process::Command::new("strip").arg("-o").arg(&stripped).arg(own_exe()).status();
    match status {
        Ok(s) if s.success() => {}
        _ => {
            // In CI (CI=true) a missing tool is a failure, not a skip.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "`strip` is not installed (CI=true: required)"
            );
            eprintln!("skipping: `strip` not available");
            return;
        }
    }
    let sym = Symbolizer::from_path(&stripped).expect("stripped ELF loads");
    assert!(!sym.has_dwarf());
    let r = sym.resolve(probe_address());
    assert!(r.frames.is_empty());
    // Either a dynamic symbol or an explicit <unmapped>; never an empty string.
    assert!(!r.to_string().is_empty());
    assert_eq!(sym.resolve(0x10).to_string(), "<unmapped>");
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Pure noise, half of it behind an ELF magic so the parser gets past the check.
    for i in 0..300 {
        let len = rng.below(2048);
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 && data.len() >= 4 {
            data[..4].copy_from_slice(b"\x7fELF");
        }
        if let Ok(sym) = Symbolizer::from_bytes(data) {
            for _ in 0..8 {
                let _ = sym.resolve(rng.next()).to_string();
            }
        }
    }

    // Mutations of a real ELF, aimed at the headers, the section table and DWARF.
    let original = own_bytes();
    let file = object::File::parse(&*original).expect("parse own ELF");
    let mut regions: Vec<(usize, usize)> = vec![(0, 4096.min(original.len()))];
    let tail = original.len().saturating_sub(8192);
    regions.push((tail, original.len()));
    for sec in file.sections() {
        let name = sec.name().unwrap_or("");
        if name.starts_with(".debug_") || name == ".symtab" || name == ".strtab" {
            if let Some((off, size)) = sec.file_range() {
                if size > 0 {
                    regions.push((off as usize, (off + size) as usize));
                }
            }
        }
    }
    let probe = probe_address();
    for _ in 0..24 {
        let mut data = original.clone();
        let (lo, hi) = regions[rng.below(regions.len())];
        for _ in 0..1 + rng.below(64) {
            let at = lo + rng.below(hi - lo);
            data[at] = rng.next() as u8;
        }
        if let Ok(sym) = Symbolizer::from_bytes(data) {
            let _ = sym.resolve(probe).to_string();
            for _ in 0..16 {
                let _ = sym.resolve(probe.wrapping_add(rng.next() % 0x10_0000)).to_string();
                let _ = sym.annotate_line(&format!("  bt #3 {:#x}", rng.next()));
            }
        }
    }
}

/// A fresh directory under the target dir (no extra dev-dependency needed).
fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "capos-symbolize-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
