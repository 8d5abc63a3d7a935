//! Which ELF belongs to which binary name, loaded once, with every load
//! problem kept as a readable message instead of failing the whole report.
//!
//! User programs are boot modules named by their file name; a load map's
//! `binary=` is that name. The kernel is the binary [`KERNEL_BINARY`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::elf::{SymbolizeError, Symbolizer};

/// Name under which the kernel ELF is listed in reports and symbol maps.
pub const KERNEL_BINARY: &str = "kernel";

/// Where the ELFs of one run are: the kernel's and each user program's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElfPaths {
    /// The kernel ELF, for kernel-half addresses.
    pub kernel: Option<PathBuf>,
    /// Boot-module file name (as in `load_map binary=`) -> ELF path.
    pub programs: BTreeMap<String, PathBuf>,
}

impl ElfPaths {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_kernel(mut self, path: impl Into<PathBuf>) -> Self {
        self.kernel = Some(path.into());
        self
    }

    pub fn with_program(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.programs.insert(name.into(), path.into());
        self
    }

    /// Adds a program from a `NAME=PATH` argument (`PATH` alone names the
    /// program by the path's file name).
    pub fn add_program_arg(&mut self, arg: &str) -> Result<(), String> {
        let (name, path) = match arg.split_once('=') {
            Some((name, path)) => (name.to_string(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(arg);
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| {
                        format!("`{arg}`: expected NAME=PATH or a path with a file name")
                    })?
                    .to_string();
                (name, path)
            }
        };
        if name.is_empty() || path.as_os_str().is_empty() {
            return Err(format!("`{arg}`: expected NAME=PATH with both parts non-empty"));
        }
        self.programs.insert(name, path);
        Ok(())
    }
}

/// What became of one binary's ELF.
#[derive(Debug)]
pub enum BinaryState {
    Loaded(Symbolizer),
    /// No ELF path was given for a binary the report names.
    Missing,
    /// The ELF could not be loaded (unreadable, not ELF, malformed).
    Failed(SymbolizeError),
}

/// One binary: its name, ELF path and load outcome.
#[derive(Debug)]
pub struct BinaryStatus {
    pub name: String,
    pub path: Option<PathBuf>,
    pub state: BinaryState,
}

impl BinaryStatus {
    fn load(name: &str, path: Option<&Path>) -> Self {
        let state = match path {
            None => BinaryState::Missing,
            Some(p) => match Symbolizer::from_path(p) {
                Ok(sym) => BinaryState::Loaded(sym),
                Err(e) => BinaryState::Failed(e),
            },
        };
        BinaryStatus { name: name.to_string(), path: path.map(Path::to_path_buf), state }
    }

    pub fn symbolizer(&self) -> Option<&Symbolizer> {
        match &self.state {
            BinaryState::Loaded(s) => Some(s),
            _ => None,
        }
    }

    /// A problem worth a line in a report: load failures, missing ELFs,
    /// stripped ELFs, unusable DWARF. `None` for a healthy ELF.
    pub fn problem(&self) -> Option<String> {
        match &self.state {
            BinaryState::Missing => Some("no ELF path given; its addresses stay unresolved".into()),
            BinaryState::Failed(e) => Some(format!("cannot load ELF: {e}")),
            BinaryState::Loaded(s) if s.symbol_count() == 0 && !s.has_dwarf() => Some(
                "ELF is stripped (no symbols, no DWARF); its addresses resolve to <unmapped>"
                    .into(),
            ),
            BinaryState::Loaded(s) if s.symbol_count() == 0 => {
                Some("ELF has no symbol table; names come from DWARF only".into())
            }
            BinaryState::Loaded(s) => {
                s.dwarf_warning().map(|w| format!("{w}; resolving with symbols only"))
            }
        }
    }
}

impl fmt::Display for BinaryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path =
            self.path.as_deref().map_or_else(|| "-".to_string(), |p| p.display().to_string());
        write!(f, "name={} elf={path}", self.name)?;
        match &self.state {
            BinaryState::Loaded(s) => {
                write!(
                    f,
                    " status=ok symbols={} dwarf={}",
                    s.symbol_count(),
                    if s.has_dwarf() { "yes" } else { "no" }
                )
            }
            BinaryState::Missing => f.write_str(" status=missing"),
            BinaryState::Failed(_) => f.write_str(" status=failed"),
        }
    }
}

/// The loaded ELFs of one run.
#[derive(Debug)]
pub struct Binaries {
    pub kernel: BinaryStatus,
    /// By binary name: every program in [`ElfPaths`] plus every binary a
    /// load map names (those without a path are [`BinaryState::Missing`]).
    pub programs: BTreeMap<String, BinaryStatus>,
}

impl Binaries {
    /// Loads the kernel and every program ELF, and notes binaries that
    /// `named` (usually the report's load maps) lists without an ELF path.
    pub fn load<'a>(paths: &ElfPaths, named: impl IntoIterator<Item = &'a str>) -> Binaries {
        let kernel = BinaryStatus::load(KERNEL_BINARY, paths.kernel.as_deref());
        let mut programs: BTreeMap<String, BinaryStatus> = paths
            .programs
            .iter()
            .map(|(name, path)| (name.clone(), BinaryStatus::load(name, Some(path))))
            .collect();
        for name in named {
            programs.entry(name.to_string()).or_insert_with(|| BinaryStatus::load(name, None));
        }
        Binaries { kernel, programs }
    }

    /// Every binary, kernel first.
    pub fn all(&self) -> impl Iterator<Item = &BinaryStatus> {
        std::iter::once(&self.kernel).chain(self.programs.values())
    }
}
