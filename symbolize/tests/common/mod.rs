//! Helpers shared by the report tests: this test binary as a known ELF, a
//! scratch directory, and a seeded mutator for fuzz loops.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment};

pub fn own_exe() -> PathBuf {
    std::env::current_exe().expect("test binary path")
}

/// Converts a run-time address in this process to its ELF link address.
pub fn link_address(runtime: u64) -> u64 {
    let exe = std::fs::canonicalize(own_exe()).expect("canonical exe");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let base = maps
        .lines()
        .find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 6
                || exe != Path::new(cols[5])
                || u64::from_str_radix(cols[2], 16).ok()? != 0
            {
                return None;
            }
            u64::from_str_radix(cols[0].split('-').next()?, 16).ok()
        })
        .expect("mapping of the test binary at offset 0");
    let data = std::fs::read(own_exe()).expect("read test binary");
    let file = object::File::parse(&*data).expect("parse own ELF");
    let first = file
        .segments()
        .find(|s| s.file_range().0 == 0)
        .map(|s| s.address())
        .expect("segment at offset 0");
    runtime - (base - first)
}

/// Link address of `f`.
pub fn fn_link_address(f: fn(u64) -> u64) -> u64 {
    assert_ne!(std::hint::black_box(f)(3), 0);
    link_address(f as usize as u64)
}

/// Lowest PT_LOAD page of this ELF (its `load_range().0`).
pub fn link_start() -> u64 {
    capos_symbolize::Symbolizer::from_path(own_exe())
        .expect("own ELF")
        .load_range()
        .expect("load range")
        .0
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capos-symbolize-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A 64-byte ELF64 header with no sections or segments: a "stripped" ELF.
pub fn empty_elf() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h[6] = 1; // version
    h[16] = 2; // ET_EXEC
    h[18] = 0x3e; // x86_64
    h[20] = 1;
    h[52] = 64; // e_ehsize
    h[54] = 56; // e_phentsize
    h[58] = 64; // e_shentsize
    h
}

/// Seeded xorshift mutator: flips, inserts, deletes and truncates bytes.
pub struct Mutator(u64);

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + self.below(8) {
            let at = self.below(v.len() + 1);
            match self.below(6) {
                0 if at < v.len() => v[at] ^= 1 << self.below(8),
                1 => v.insert(at, self.next() as u8),
                2 if at < v.len() => {
                    v.remove(at);
                }
                3 => v.truncate(at),
                4 if at < v.len() => v[at] = b"=,x0 \n:-9ff"[self.below(11)],
                _ if at < v.len() => v[at] = self.next() as u8,
                _ => {}
            }
        }
        v
    }
}
