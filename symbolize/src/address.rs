//! Run-time addresses from a measure report -> the ELF that holds them.
//!
//! Kernel-half addresses (at or above [`KERNEL_HALF`]) belong to the kernel
//! ELF, which runs at its link address. Lower-half addresses belong to a user
//! program: a load map `(pid, binary, base)` says the program's image starts
//! at `base`, where `base` is the run-time address of the page holding the
//! ELF's lowest `PT_LOAD` (for capOS's static executables at 0x400000 this is
//! the link address). An address is looked up at `addr - base + link start`.
//!
//! Samples carry their process (`pid`), and a user address of a process
//! with a load map resolves in that process's binary only
//! ([`Resolver::locate_frame_in`]): programs that share addresses (capOS's
//! static executables all link at 0x400000) are told apart. By address
//! alone ([`Resolver::locate`], and for a process without a load map) the
//! address is resolved against every placed image: if exactly one binary
//! has a symbol there it wins, otherwise the result is
//! [`Origin::Ambiguous`]. A report without any load map is read as "every
//! given program at its link address".

use std::collections::{BTreeMap, BTreeSet};

use capos_measure::report::LoadMap;

use crate::binaries::{Binaries, BinaryState, KERNEL_BINARY};
use crate::elf::Resolved;

/// First canonical kernel-half address on x86_64.
pub const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Which binary an address fell in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Kernel,
    Program(String),
    /// No known image covers the address.
    Unmapped,
    /// The binary's load map covers it, but its ELF is missing or unusable.
    Unresolved(String),
    /// Images of several binaries cover it and none (or more than one) has a
    /// symbol there; samples would need a pid to decide.
    Ambiguous(Vec<String>),
}

/// One address, located and resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The run-time address as sampled.
    pub addr: u64,
    pub origin: Origin,
    /// Resolution in the origin's ELF (absent for unmapped, unresolved and
    /// ambiguous addresses).
    pub resolved: Option<Resolved>,
}

impl Location {
    /// The binary column of reports: a name, `a|b` when ambiguous, `-` when unmapped.
    pub fn binary_label(&self) -> String {
        match &self.origin {
            Origin::Kernel => KERNEL_BINARY.to_string(),
            Origin::Program(b) | Origin::Unresolved(b) => b.clone(),
            Origin::Ambiguous(v) => v.join("|"),
            Origin::Unmapped => "-".to_string(),
        }
    }

    /// The nearest symbol's name, or an explicit `<...>` marker.
    pub fn symbol_name(&self) -> String {
        match (&self.origin, &self.resolved) {
            (Origin::Unresolved(_), _) => "<no symbols>".into(),
            (Origin::Ambiguous(_), _) => "<ambiguous>".into(),
            (_, Some(r)) if !r.is_unmapped() => r.function_name().unwrap_or("??").to_string(),
            _ => "<unmapped>".into(),
        }
    }

    /// Symbol, offset, line and inlining, as in backtrace annotations.
    pub fn describe(&self) -> String {
        match &self.resolved {
            Some(r) if !matches!(self.origin, Origin::Ambiguous(_)) => r.to_string(),
            _ => self.symbol_name(),
        }
    }

    /// Flamegraph frame names for this address, outermost (caller) first:
    /// inlined functions become frames of their own. Kernel frames end in
    /// `_[k]`, user frames read `binary`function`; no name contains `;`.
    pub fn frame_names(&self) -> Vec<String> {
        let names: Vec<String> = match &self.resolved {
            Some(r) if !r.is_unmapped() && !matches!(self.origin, Origin::Ambiguous(_)) => {
                if r.frames.is_empty() {
                    vec![self.symbol_name()]
                } else {
                    let outer = r.function_name().map(str::to_string);
                    r.frames
                        .iter()
                        .rev()
                        .enumerate()
                        .map(|(i, f)| match (&f.function, i, &outer) {
                            (Some(name), _, _) => name.clone(),
                            (None, 0, Some(sym)) => sym.clone(),
                            (None, _, _) => "??".to_string(),
                        })
                        .collect()
                }
            }
            _ => vec![match &self.origin {
                Origin::Ambiguous(v) => format!("<ambiguous {}>", v.join("|")),
                _ => self.symbol_name(),
            }],
        };
        let kernel = self.addr >= KERNEL_HALF;
        names
            .into_iter()
            .map(|n| {
                let n = sanitize_frame(&n);
                match &self.origin {
                    _ if kernel => format!("{n}_[k]"),
                    Origin::Program(b) | Origin::Unresolved(b) => {
                        format!("{}`{n}", sanitize_frame(b))
                    }
                    _ => n,
                }
            })
            .collect()
    }
}

/// Folded-stack frames may not contain `;` (frame separator) or line breaks.
fn sanitize_frame(name: &str) -> String {
    name.chars().map(|c| if c == ';' || c.is_control() { ':' } else { c }).collect()
}

/// A user image placed by a load map.
#[derive(Debug)]
struct Image {
    binary: String,
    /// Run-time `[lo, hi)`.
    lo: u64,
    hi: u64,
    /// run-time address - link address (wrapping).
    slide: u64,
}

/// Locates run-time addresses of one report in the run's ELFs.
#[derive(Debug)]
pub struct Resolver<'a> {
    bins: &'a Binaries,
    images: Vec<Image>,
    /// Load maps whose ELF is missing or unusable: `(base, binary)`.
    unknown: Vec<(u64, String)>,
    /// Each process's placement: pid -> (binary, base).
    by_pid: BTreeMap<u64, (String, u64)>,
    assumed_link_addresses: bool,
}

impl<'a> Resolver<'a> {
    pub fn new(bins: &'a Binaries, load_maps: &[LoadMap]) -> Resolver<'a> {
        let mut images = Vec::new();
        let mut unknown = Vec::new();
        let placed: BTreeSet<(&str, u64)> =
            load_maps.iter().map(|m| (m.binary.as_str(), m.base)).collect();
        let by_pid = load_maps.iter().map(|m| (m.pid, (m.binary.clone(), m.base))).collect();
        let assumed = placed.is_empty();
        let placements: Vec<(String, Option<u64>)> = if assumed {
            bins.programs.keys().map(|b| (b.clone(), None)).collect()
        } else {
            placed.iter().map(|(b, base)| (b.to_string(), Some(*base))).collect()
        };
        for (binary, base) in placements {
            let range = bins
                .programs
                .get(&binary)
                .and_then(|s| s.symbolizer())
                .and_then(|s| s.load_range());
            match (range, base) {
                (Some((lo, hi)), Some(base)) => images.push(Image {
                    binary,
                    lo: base,
                    hi: base.saturating_add(hi - lo),
                    slide: base.wrapping_sub(lo),
                }),
                (Some((lo, hi)), None) => images.push(Image { binary, lo, hi, slide: 0 }),
                (None, Some(base)) => unknown.push((base, binary)),
                (None, None) => {}
            }
        }
        Resolver { bins, images, unknown, by_pid, assumed_link_addresses: assumed }
    }

    /// True when process `pid` has a load map: its user addresses resolve in
    /// its own binary only.
    pub fn knows_pid(&self, pid: u64) -> bool {
        self.by_pid.contains_key(&pid)
    }

    /// Locates frame `index` of a leaf-first stack sampled in process
    /// `pid`: a user address resolves only in the binary that process ran
    /// (its load map), so two programs linked at the same address are told
    /// apart. A pid without a load map (pid 0, a kernel thread, or a map
    /// the kernel refused) resolves by address alone, as
    /// [`Resolver::locate_frame`].
    pub fn locate_frame_in(&self, pid: u64, index: usize, addr: u64) -> Location {
        let lookup = if index == 0 { addr } else { addr.saturating_sub(1) };
        match self.by_pid.get(&pid) {
            Some(place) if addr < KERNEL_HALF => self.locate_placed(addr, lookup, place),
            _ => self.locate_frame(index, addr),
        }
    }

    /// A user address of a process placed at `(binary, base)`.
    fn locate_placed(&self, addr: u64, lookup: u64, (binary, base): &(String, u64)) -> Location {
        let img = self.images.iter().find(|i| i.binary == *binary && i.lo == *base);
        let sym = self.bins.programs.get(binary).and_then(|s| s.symbolizer());
        match (img, sym) {
            (Some(img), Some(sym)) if (img.lo..img.hi).contains(&addr) => Location {
                addr,
                origin: Origin::Program(binary.clone()),
                resolved: Some(sym.resolve(lookup.wrapping_sub(img.slide))),
            },
            // Outside the process's image: no binary of its own covers it.
            (Some(_), Some(_)) => Location { addr, origin: Origin::Unmapped, resolved: None },
            _ => Location { addr, origin: Origin::Unresolved(binary.clone()), resolved: None },
        }
    }

    /// True when the report had no load maps and programs were assumed at
    /// their link addresses.
    pub fn assumed_link_addresses(&self) -> bool {
        self.assumed_link_addresses
    }

    /// Locates a sampled PC (resolved exactly).
    pub fn locate(&self, addr: u64) -> Location {
        self.locate_inner(addr, addr)
    }

    /// Locates a return address from a stack walk: the lookup uses
    /// `addr - 1` so it names the call site (see the crate documentation).
    pub fn locate_return_address(&self, addr: u64) -> Location {
        self.locate_inner(addr, addr.saturating_sub(1))
    }

    /// Locates frame `index` of a leaf-first stack: frame 0 is the sampled
    /// PC, later frames are return addresses.
    pub fn locate_frame(&self, index: usize, addr: u64) -> Location {
        if index == 0 {
            self.locate(addr)
        } else {
            self.locate_return_address(addr)
        }
    }

    fn locate_inner(&self, addr: u64, lookup: u64) -> Location {
        if addr >= KERNEL_HALF {
            return match &self.bins.kernel.state {
                BinaryState::Loaded(s) => {
                    Location { addr, origin: Origin::Kernel, resolved: Some(s.resolve(lookup)) }
                }
                _ => Location {
                    addr,
                    origin: Origin::Unresolved(KERNEL_BINARY.into()),
                    resolved: None,
                },
            };
        }
        let mut hits: Vec<(&str, Resolved)> = Vec::new();
        for img in self.images.iter().filter(|i| (i.lo..i.hi).contains(&addr)) {
            if hits.iter().any(|(b, _)| *b == img.binary) {
                continue;
            }
            if let Some(sym) = self.bins.programs.get(&img.binary).and_then(|s| s.symbolizer()) {
                hits.push((&img.binary, sym.resolve(lookup.wrapping_sub(img.slide))));
            }
        }
        if hits.len() > 1 {
            let names: Vec<String> = hits.iter().map(|(b, _)| b.to_string()).collect();
            hits.retain(|(_, r)| !r.is_unmapped());
            if hits.len() != 1 {
                return Location { addr, origin: Origin::Ambiguous(names), resolved: None };
            }
        }
        if let Some((binary, resolved)) = hits.pop() {
            return Location {
                addr,
                origin: Origin::Program(binary.to_string()),
                resolved: Some(resolved),
            };
        }
        let unresolved =
            self.unknown.iter().filter(|(base, _)| *base <= addr).max_by_key(|(base, _)| *base);
        match unresolved {
            Some((_, binary)) => {
                Location { addr, origin: Origin::Unresolved(binary.clone()), resolved: None }
            }
            None => Location { addr, origin: Origin::Unmapped, resolved: None },
        }
    }
}
