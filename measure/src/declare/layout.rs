//! Compile-time layout: where each declared field lives in a shard, the
//! handles the kernel passes to probes ([`Counter`], [`Hist`]), and the
//! catalogue fingerprint.

use crate::catalogue::GROUPS;

use core::marker::PhantomData;

use super::{DimIndex, DimLabels, Dimension, FieldDesc, GroupDesc, HistDesc, Kind, NoDim};

/// Number of declared groups.
pub const GROUP_COUNT: usize = GROUPS.len();

const fn group_slots(g: &GroupDesc) -> usize {
    g.dim.count() * g.fields.len()
}

const fn group_minmax_fields(g: &GroupDesc) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < g.fields.len() {
        if !matches!(g.fields[i].kind, Kind::Sum) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Counter slots in one shard (every field of every dimension entry).
pub const COUNTER_SLOTS: usize = {
    let mut n = 0;
    let mut g = 0;
    while g < GROUP_COUNT {
        n += group_slots(&GROUPS[g]);
        g += 1;
    }
    n
};

/// Slots that hold a min or max (these get per-phase copies).
pub const MINMAX_SLOTS: usize = {
    let mut n = 0;
    let mut g = 0;
    while g < GROUP_COUNT {
        n += GROUPS[g].dim.count() * group_minmax_fields(&GROUPS[g]);
        g += 1;
    }
    n
};

/// Histograms in one shard (every histogram of every dimension entry).
pub const HIST_SLOTS: usize = {
    let mut n = 0;
    let mut g = 0;
    while g < GROUP_COUNT {
        n += GROUPS[g].dim.count() * GROUPS[g].hists.len();
        g += 1;
    }
    n
};

// Wire ids are bytes; the layout uses u16 slots.
const _: () = assert!(GROUP_COUNT <= 255);
const _: () = assert!(COUNTER_SLOTS < u16::MAX as usize);
const _: () = assert!(HIST_SLOTS < u16::MAX as usize);

const fn bases() -> ([u16; GROUP_COUNT], [u16; GROUP_COUNT], [u16; GROUP_COUNT]) {
    let mut counter = [0u16; GROUP_COUNT];
    let mut minmax = [0u16; GROUP_COUNT];
    let mut hist = [0u16; GROUP_COUNT];
    let (mut c, mut m, mut h) = (0usize, 0usize, 0usize);
    let mut g = 0;
    while g < GROUP_COUNT {
        counter[g] = c as u16;
        minmax[g] = m as u16;
        hist[g] = h as u16;
        c += group_slots(&GROUPS[g]);
        m += GROUPS[g].dim.count() * group_minmax_fields(&GROUPS[g]);
        h += GROUPS[g].dim.count() * GROUPS[g].hists.len();
        g += 1;
    }
    (counter, minmax, hist)
}

const BASES: ([u16; GROUP_COUNT], [u16; GROUP_COUNT], [u16; GROUP_COUNT]) = bases();

/// Marks a slot with no per-phase min/max copy (a `sum`).
pub const NO_MINMAX: u16 = u16::MAX;

/// A declared field of a group with dimension `D`, not yet bound to an
/// entry. Only fields of undimensioned groups (`D = NoDim`) convert to a
/// [`Counter`] directly; others need `.at(entry)` with `D`'s index type, so a
/// forgotten dimension is a compile error, not a misattributed count.
pub struct Field<D> {
    group: u8,
    field: u8,
    _dim: PhantomData<fn() -> D>,
}

impl<D> Clone for Field<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for Field<D> {}

impl<D> core::fmt::Debug for Field<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Field({}.{})", GROUPS[self.group as usize].name, self.desc().name)
    }
}

impl<D: Dimension> Field<D> {
    /// Binds the field to dimension entry `d`. An entry out of range gives a
    /// void counter whose updates are dropped (never a panic).
    pub fn at(self, d: D::Index) -> Counter {
        self.at_index(d.dim_index())
    }
}

impl<D> Field<D> {
    #[doc(hidden)]
    pub const fn new(group: u8, field: u8) -> Self {
        Field { group, field, _dim: PhantomData }
    }

    /// `const` form of [`Field::at`] with a raw index.
    pub const fn at_index(self, dim: usize) -> Counter {
        match Counter::from_ids(self.group, dim, self.field) {
            Some(c) => c,
            None => Counter::VOID,
        }
    }

    pub const fn desc(self) -> &'static FieldDesc {
        &GROUPS[self.group as usize].fields[self.field as usize]
    }
}

impl From<Field<NoDim>> for Counter {
    fn from(f: Field<NoDim>) -> Counter {
        f.at_index(0)
    }
}

/// A counter slot: field bound to a dimension entry. Cheap to copy; carries
/// everything an update needs so the hot path does no table walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Counter {
    pub group: u8,
    pub dim: u8,
    pub field: u8,
    pub kind: Kind,
    /// Index into a shard's counter array (`u16::MAX` for the void counter).
    pub slot: u16,
    /// Index into the per-phase min/max arrays, [`NO_MINMAX`] for sums.
    pub minmax: u16,
}

impl Counter {
    /// The counter whose updates are dropped.
    pub const VOID: Counter =
        Counter { group: 0, dim: 0, field: 0, kind: Kind::Sum, slot: u16::MAX, minmax: NO_MINMAX };

    /// Validated construction from wire ids.
    pub const fn from_ids(group: u8, dim: usize, field: u8) -> Option<Counter> {
        let g = group as usize;
        if g >= GROUP_COUNT {
            return None;
        }
        let desc = &GROUPS[g];
        let f = field as usize;
        if dim >= desc.dim.count() || f >= desc.fields.len() {
            return None;
        }
        let kind = desc.fields[f].kind;
        let slot = BASES.0[g] as usize + dim * desc.fields.len() + f;
        let minmax = match kind {
            Kind::Sum => NO_MINMAX,
            Kind::Min | Kind::Max => {
                let per_entry = group_minmax_fields(desc);
                let mut rank = 0;
                let mut i = 0;
                while i < f {
                    if !matches!(desc.fields[i].kind, Kind::Sum) {
                        rank += 1;
                    }
                    i += 1;
                }
                (BASES.1[g] as usize + dim * per_entry + rank) as u16
            }
        };
        Some(Counter { group, dim: dim as u8, field, kind, slot: slot as u16, minmax })
    }

    pub const fn is_void(self) -> bool {
        self.slot == u16::MAX
    }

    pub const fn group_desc(self) -> &'static GroupDesc {
        &GROUPS[self.group as usize]
    }

    pub const fn field_desc(self) -> &'static FieldDesc {
        &GROUPS[self.group as usize].fields[self.field as usize]
    }

    /// Every counter in slot order (group, dimension entry, field).
    pub fn all() -> impl Iterator<Item = Counter> {
        GROUPS.iter().enumerate().flat_map(|(g, desc)| {
            (0..desc.dim.count()).flat_map(move |d| {
                (0..desc.fields.len()).filter_map(move |f| Counter::from_ids(g as u8, d, f as u8))
            })
        })
    }
}

/// A declared histogram of a group with dimension `D` (see [`Field`]).
pub struct HistField<D> {
    group: u8,
    hist: u8,
    _dim: PhantomData<fn() -> D>,
}

impl<D> Clone for HistField<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for HistField<D> {}

impl<D: Dimension> HistField<D> {
    pub fn at(self, d: D::Index) -> Hist {
        self.at_index(d.dim_index())
    }
}

impl<D> HistField<D> {
    #[doc(hidden)]
    pub const fn new(group: u8, hist: u8) -> Self {
        HistField { group, hist, _dim: PhantomData }
    }

    pub const fn at_index(self, dim: usize) -> Hist {
        match Hist::from_ids(self.group, dim, self.hist) {
            Some(h) => h,
            None => Hist::VOID,
        }
    }
}

impl From<HistField<NoDim>> for Hist {
    fn from(h: HistField<NoDim>) -> Hist {
        h.at_index(0)
    }
}

/// A histogram slot: a declared histogram bound to a dimension entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hist {
    pub group: u8,
    pub dim: u8,
    pub hist: u8,
    /// Index of the histogram in a shard (`u16::MAX` for the void one).
    pub slot: u16,
}

impl Hist {
    pub const VOID: Hist = Hist { group: 0, dim: 0, hist: 0, slot: u16::MAX };

    pub const fn from_ids(group: u8, dim: usize, hist: u8) -> Option<Hist> {
        let g = group as usize;
        if g >= GROUP_COUNT {
            return None;
        }
        let desc = &GROUPS[g];
        let h = hist as usize;
        if dim >= desc.dim.count() || h >= desc.hists.len() {
            return None;
        }
        let slot = BASES.2[g] as usize + dim * desc.hists.len() + h;
        Some(Hist { group, dim: dim as u8, hist, slot: slot as u16 })
    }

    pub const fn is_void(self) -> bool {
        self.slot == u16::MAX
    }

    pub const fn group_desc(self) -> &'static GroupDesc {
        &GROUPS[self.group as usize]
    }

    pub const fn hist_desc(self) -> &'static HistDesc {
        &GROUPS[self.group as usize].hists[self.hist as usize]
    }

    /// Every histogram in slot order.
    pub fn all() -> impl Iterator<Item = Hist> {
        GROUPS.iter().enumerate().flat_map(|(g, desc)| {
            (0..desc.dim.count()).flat_map(move |d| {
                (0..desc.hists.len()).filter_map(move |h| Hist::from_ids(g as u8, d, h as u8))
            })
        })
    }
}

/// FNV-1a over every declared name and kind: host and guest compare it to
/// know they were built from the same catalogue (wire ids are positions).
pub const FINGERPRINT: u64 = {
    const fn mix(mut h: u64, s: &str) -> u64 {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            h ^= b[i] as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        // Separator so ("ab","c") differs from ("a","bc").
        h ^= 0xff;
        h.wrapping_mul(0x0000_0100_0000_01b3)
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut g = 0;
    while g < GROUP_COUNT {
        let desc = &GROUPS[g];
        h = mix(h, desc.name);
        h = mix(h, desc.dim.key);
        match desc.dim.labels {
            DimLabels::None => {}
            DimLabels::Named(names) => {
                let mut i = 0;
                while i < names.len() {
                    h = mix(h, names[i]);
                    i += 1;
                }
            }
            DimLabels::Cpu(n) => {
                h ^= n as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let mut f = 0;
        while f < desc.fields.len() {
            h = mix(h, desc.fields[f].name);
            h = mix(h, desc.fields[f].kind.name());
            f += 1;
        }
        let mut k = 0;
        while k < desc.hists.len() {
            h = mix(h, desc.hists[k].name);
            k += 1;
        }
        g += 1;
    }
    h
};

/// Looks up a group by its printed name.
pub fn group_by_name(name: &str) -> Option<(u8, &'static GroupDesc)> {
    GROUPS.iter().enumerate().find(|(_, g)| g.name == name).map(|(i, g)| (i as u8, g))
}
