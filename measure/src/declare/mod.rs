//! The machinery behind the catalogue: descriptor types, the `catalogue!` and
//! `dimension!` macros, and the compile-time layout that turns a declared
//! field into a slot in a per-CPU shard.
//!
//! Nothing here names a real counter; `catalogue.rs` does. A declared group
//! becomes a module (`scheduler_lock::acquisitions` is a [`Field`]), an entry
//! in [`crate::catalogue::GROUPS`], and slots in the flat counter and histogram
//! arrays computed by the `const fn`s in `layout.rs`. Everything else in the crate
//! (snapshots, records, text, JSON, docs check) walks `GROUPS`, so a new
//! declaration needs no other edit.

mod layout;
mod macros;

pub use layout::*;
pub(crate) use macros::{catalogue, dimension};

/// How a counter combines updates, across CPUs and across a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Added to; per-phase value is the delta, shards are summed.
    Sum,
    /// Smallest value seen; untouched shards are skipped, 0 when none seen.
    Min,
    /// Largest value seen; 0 when none seen.
    Max,
}

impl Kind {
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Sum => "sum",
            Kind::Min => "min",
            Kind::Max => "max",
        }
    }
}

/// One declared field of a group.
#[derive(Debug)]
pub struct FieldDesc {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

/// One declared log2 histogram of a group (per dimension entry).
#[derive(Debug)]
pub struct HistDesc {
    pub name: &'static str,
    pub doc: &'static str,
}

/// The labels of a group's index dimension.
#[derive(Debug)]
pub enum DimLabels {
    /// The group has one line per phase.
    None,
    /// One line per named entry (`site=timer_select`).
    Named(&'static [&'static str]),
    /// One line per CPU slot `0..n` (`cpu=3`); text output stops at the
    /// reported CPU count.
    Cpu(usize),
}

/// A group's index dimension: the text key and its labels.
#[derive(Debug)]
pub struct DimDesc {
    pub key: &'static str,
    pub labels: DimLabels,
}

impl DimDesc {
    /// Entries in the dimension (1 for none).
    pub const fn count(&self) -> usize {
        match self.labels {
            DimLabels::None => 1,
            DimLabels::Named(names) => names.len(),
            DimLabels::Cpu(n) => n,
        }
    }

    pub const fn is_none(&self) -> bool {
        matches!(self.labels, DimLabels::None)
    }

    /// Text label of entry `index` (`None` when out of range or undimensioned).
    pub fn label(&self, index: usize) -> Option<DimLabel> {
        match self.labels {
            DimLabels::None => None,
            DimLabels::Named(names) => names.get(index).map(|n| DimLabel::Name(n)),
            DimLabels::Cpu(n) => (index < n).then_some(DimLabel::Index(index)),
        }
    }

    /// Inverse of [`DimDesc::label`] for text parsing.
    pub fn index_of(&self, text: &str) -> Option<usize> {
        match self.labels {
            DimLabels::None => None,
            DimLabels::Named(names) => names.iter().position(|n| *n == text),
            DimLabels::Cpu(n) => text.parse::<usize>().ok().filter(|i| *i < n),
        }
    }
}

/// A dimension entry as printed.
#[derive(Clone, Copy, Debug)]
pub enum DimLabel {
    Name(&'static str),
    Index(usize),
}

impl core::fmt::Display for DimLabel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DimLabel::Name(n) => f.write_str(n),
            DimLabel::Index(i) => write!(f, "{i}"),
        }
    }
}

/// One declared group: a family of `measure:` lines.
#[derive(Debug)]
pub struct GroupDesc {
    pub name: &'static str,
    pub doc: &'static str,
    pub cost: &'static str,
    pub dim: &'static DimDesc,
    pub fields: &'static [FieldDesc],
    pub hists: &'static [HistDesc],
}

/// A type usable as a group's dimension (`dim:` in the catalogue).
pub trait Dimension {
    const DESC: &'static DimDesc;
    /// What names an entry: the enum itself, a CPU index, or `()`.
    type Index: DimIndex;
}

/// Anything that names an entry of a dimension.
pub trait DimIndex {
    fn dim_index(self) -> usize;
}

impl DimIndex for usize {
    fn dim_index(self) -> usize {
        self
    }
}

impl DimIndex for () {
    fn dim_index(self) -> usize {
        0
    }
}

/// The dimension of groups that have one line per phase.
pub struct NoDim;

impl Dimension for NoDim {
    const DESC: &'static DimDesc = &DimDesc { key: "", labels: DimLabels::None };
    type Index = ();
}

/// The per-CPU-slot dimension (`cpu=<i>`, `0..MAX_CPUS`).
pub struct CpuSlot;

impl Dimension for CpuSlot {
    const DESC: &'static DimDesc = &DimDesc { key: "cpu", labels: DimLabels::Cpu(crate::MAX_CPUS) };
    type Index = usize;
}
