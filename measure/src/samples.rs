//! Bounded sample tables: PC -> count, call stack -> count, and contended
//! lock + call stack -> (count, wait cycles).
//!
//! Both are open-addressing hash tables shared by all CPUs, with the phase in
//! the key, so memory is fixed at build time whatever the run does. A sample
//! that finds no slot within [`MAX_PROBE`] probes is refused and the caller
//! counts it as overflow. Unlike the per-CPU shards these tables are written
//! by every CPU, so they use compare-and-swap to claim a slot and `fetch_add`
//! to count: one locked instruction per timer-interrupt sample is cheap.
//!
//! Every table also has a claim budget ([`Claims`]): by default all its
//! slots, lowered for tests by the kernel's `measure_capacity=` word so a
//! short run can overflow every table. Only the claim of a new slot checks
//! it; counting into a slot already held costs nothing more.
//!
//! PC keys pack `valid(1) | phase(3) | 0(12) | pc[47:0]`; canonical x86_64
//! addresses are rebuilt by sign-extending bit 47.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::phase::Phase;

/// Probes before a sample counts as overflow.
pub const MAX_PROBE: usize = 64;
/// Frames kept per stack sample.
pub const MAX_FRAMES: usize = 16;

const VALID: u64 = 1 << 63;
const PC_MASK: u64 = (1 << 48) - 1;
const R: Ordering = Ordering::Relaxed;

/// Sign-extends a 48-bit address to canonical form.
pub const fn canonical(pc48: u64) -> u64 {
    (((pc48 & PC_MASK) << 16) as i64 >> 16) as u64
}

const fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: spreads nearby PCs over the table.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// How many slots a table may claim, and how many it has claimed. A claim
/// that would pass the limit is refused (the sample overflows), so a table
/// never holds more than `limit` entries, however many CPUs race.
pub struct Claims {
    limit: AtomicUsize,
    claimed: AtomicUsize,
}

impl Default for Claims {
    fn default() -> Self {
        Self::new()
    }
}

impl Claims {
    /// No limit but the table's size.
    pub const fn new() -> Self {
        Claims { limit: AtomicUsize::new(usize::MAX), claimed: AtomicUsize::new(0) }
    }

    /// At most `n` claims from now on (set at boot, before any sample).
    pub fn set_limit(&self, n: usize) {
        self.limit.store(n, R);
    }

    /// Slots claimed so far.
    pub fn claimed(&self) -> usize {
        self.claimed.load(R)
    }

    /// Takes one claim; `false` when the limit is reached.
    #[inline]
    pub(crate) fn take(&self) -> bool {
        if self.claimed.fetch_add(1, R) < self.limit.load(R) {
            return true;
        }
        self.claimed.fetch_sub(1, R);
        false
    }

    /// Returns a claim whose slot another writer took first.
    #[inline]
    pub(crate) fn give_back(&self) {
        self.claimed.fetch_sub(1, R);
    }
}

/// Finds or claims the slot of non-zero `key` in an open-addressing key
/// array (a power of two long), probing at most [`MAX_PROBE`] slots:
/// `(index, true)` when this call claimed it, `None` when no slot was free
/// or `claims` allows no more (a free slot on the probe path means `key`
/// is not in the table, so only a new key is refused).
pub(crate) fn claim(keys: &[AtomicU64], key: u64, claims: &Claims) -> Option<(usize, bool)> {
    let n = keys.len();
    let start = mix(key) as usize;
    for probe in 0..MAX_PROBE.min(n) {
        let i = (start + probe) & (n - 1);
        let mut seen = keys[i].load(R);
        let mut claimed = false;
        if seen == 0 {
            if !claims.take() {
                return None;
            }
            seen = match keys[i].compare_exchange(0, key, R, R) {
                Ok(_) => {
                    claimed = true;
                    key
                }
                Err(other) => {
                    claims.give_back();
                    other
                }
            };
        }
        if seen == key {
            return Some((i, claimed));
        }
    }
    None
}

/// PC -> count for one mode (user or kernel); `N` must be a power of two.
pub struct PcTable<const N: usize> {
    keys: [AtomicU64; N],
    counts: [AtomicU64; N],
    pub claims: Claims,
}

impl<const N: usize> Default for PcTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PcTable<N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two());

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::POWER_OF_TWO;
        PcTable {
            keys: [const { AtomicU64::new(0) }; N],
            counts: [const { AtomicU64::new(0) }; N],
            claims: Claims::new(),
        }
    }

    /// Counts one sample of `pc` in `phase`; `false` when the table is full.
    pub fn record(&self, phase: Phase, pc: u64) -> bool {
        let key = VALID | (phase as u64) << 60 | (pc & PC_MASK);
        match claim(&self.keys, key, &self.claims) {
            Some((i, _)) => {
                self.counts[i].fetch_add(1, R);
                true
            }
            None => false,
        }
    }

    /// Every (phase, pc, count) recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (Phase, u64, u64)> + '_ {
        self.keys.iter().zip(self.counts.iter()).filter_map(|(k, c)| {
            let (key, count) = (k.load(R), c.load(R));
            if key & VALID == 0 || count == 0 {
                return None;
            }
            let phase = Phase::from_id(((key >> 60) & 7) as u8)?;
            Some((phase, canonical(key), count))
        })
    }
}

/// One stack entry: the published hash, count, weight, meta and frames.
struct StackSlot {
    /// `0` free, [`CLAIMED`] while frames are written, else the stack's key.
    key: AtomicU64,
    count: AtomicU64,
    /// Summed weight (wait cycles for contention stacks; unused otherwise).
    weight: AtomicU64,
    /// The owner's meta bits (below bit 40) `| len << 40`.
    meta: AtomicU64,
    frames: [AtomicU64; MAX_FRAMES],
}

const CLAIMED: u64 = 1;
const LEN_SHIFT: u32 = 40;
const META_MASK: u64 = (1 << LEN_SHIFT) - 1;

/// (meta, frames) -> (count, weight): the table behind [`StackTable`] and
/// [`ContentionTable`]; `N` must be a power of two.
struct FrameTable<const N: usize> {
    slots: [StackSlot; N],
    claims: Claims,
}

impl<const N: usize> FrameTable<N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two());

    const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::POWER_OF_TWO;
        FrameTable {
            slots: [const {
                StackSlot {
                    key: AtomicU64::new(0),
                    count: AtomicU64::new(0),
                    weight: AtomicU64::new(0),
                    meta: AtomicU64::new(0),
                    frames: [const { AtomicU64::new(0) }; MAX_FRAMES],
                }
            }; N],
            claims: Claims::new(),
        }
    }

    /// Counts one stack with `weight` (leaf first; frames past
    /// [`MAX_FRAMES`] are cut). `false` when the table is full.
    fn record(&self, meta: u64, frames: &[u64], weight: u64) -> bool {
        let frames = &frames[..frames.len().min(MAX_FRAMES)];
        let meta = (meta & META_MASK) | (frames.len() as u64) << LEN_SHIFT;
        let key = frames.iter().fold(mix(meta), |h, f| mix(h ^ f)) | VALID;
        let start = key as usize;
        for probe in 0..MAX_PROBE.min(N) {
            let slot = &self.slots[(start + probe) & (N - 1)];
            let seen = slot.key.load(Ordering::Acquire);
            if seen == key {
                slot.count.fetch_add(1, R);
                if weight != 0 {
                    slot.weight.fetch_add(weight, R);
                }
                return true;
            }
            if seen == 0 && !self.claims.take() {
                return false;
            }
            if seen == 0 && slot.key.compare_exchange(0, CLAIMED, Ordering::Acquire, R).is_ok() {
                for (cell, f) in slot.frames.iter().zip(frames) {
                    cell.store(*f, R);
                }
                slot.meta.store(meta, R);
                slot.count.store(1, R);
                slot.weight.store(weight, R);
                // Publish: readers that see the key see frames and meta.
                slot.key.store(key, Ordering::Release);
                return true;
            }
            if seen == 0 {
                self.claims.give_back(); // another writer took the slot first
            }
            // Claimed by a concurrent writer or another stack: probe on. A
            // racing copy of the same stack may land twice; readers merge.
        }
        false
    }

    /// Every (meta, frames, count, weight) recorded, in table order.
    fn entries(&self) -> impl Iterator<Item = (u64, StackFrames, u64, u64)> + '_ {
        self.slots.iter().filter_map(|slot| {
            if slot.key.load(Ordering::Acquire) & VALID == 0 {
                return None;
            }
            let meta = slot.meta.load(R);
            let len = ((meta >> LEN_SHIFT) as usize).min(MAX_FRAMES);
            let mut frames = StackFrames { len, frames: [0; MAX_FRAMES] };
            for (out, cell) in frames.frames.iter_mut().zip(&slot.frames).take(len) {
                *out = cell.load(R);
            }
            Some((meta & META_MASK, frames, slot.count.load(R), slot.weight.load(R)))
        })
    }
}

/// Call stack -> count for both modes; `N` must be a power of two.
pub struct StackTable<const N: usize> {
    table: FrameTable<N>,
}

impl<const N: usize> Default for StackTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> StackTable<N> {
    pub const fn new() -> Self {
        StackTable { table: FrameTable::new() }
    }

    /// The table's claim budget.
    pub fn claims(&self) -> &Claims {
        &self.table.claims
    }

    /// Counts one stack (leaf first; frames past [`MAX_FRAMES`] are cut).
    /// `false` when the table is full.
    pub fn record(&self, phase: Phase, kernel: bool, frames: &[u64]) -> bool {
        self.table.record(phase as u64 | (kernel as u64) << 8, frames, 0)
    }

    /// Every (phase, kernel, frames, count) recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (Phase, bool, StackFrames, u64)> + '_ {
        self.table.entries().filter_map(|(meta, frames, count, _)| {
            let phase = Phase::from_id((meta & 0xff) as u8)?;
            Some((phase, meta & 0x100 != 0, frames, count))
        })
    }
}

/// One contention stack as read back: where a contended lock was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContentionEntry {
    pub phase: Phase,
    /// A [`crate::ContentionClass`] id.
    pub class: u8,
    /// Index into the class's lock dimension.
    pub lock: u8,
    /// Leaf first.
    pub frames: StackFrames,
    /// Contended acquisitions with this stack.
    pub count: u64,
    /// Their summed wait cycles.
    pub wait_cycles: u64,
}

/// (phase, lock class, lock, call stack) -> (count, wait cycles); `N` must
/// be a power of two.
pub struct ContentionTable<const N: usize> {
    table: FrameTable<N>,
}

impl<const N: usize> Default for ContentionTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ContentionTable<N> {
    pub const fn new() -> Self {
        ContentionTable { table: FrameTable::new() }
    }

    /// The table's claim budget.
    pub fn claims(&self) -> &Claims {
        &self.table.claims
    }

    /// Counts one contended acquisition and adds its wait (frames leaf
    /// first; past [`MAX_FRAMES`] are cut). `false` when the table is full.
    pub fn record(&self, phase: Phase, class: u8, lock: u8, frames: &[u64], wait: u64) -> bool {
        let meta = phase as u64 | (class as u64) << 8 | (lock as u64) << 16;
        self.table.record(meta, frames, wait)
    }

    /// Every entry recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = ContentionEntry> + '_ {
        self.table.entries().filter_map(|(meta, frames, count, wait_cycles)| {
            Some(ContentionEntry {
                phase: Phase::from_id((meta & 0xff) as u8)?,
                class: (meta >> 8) as u8,
                lock: (meta >> 16) as u8,
                frames,
                count,
                wait_cycles,
            })
        })
    }
}

/// A copied stack, leaf first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StackFrames {
    len: usize,
    frames: [u64; MAX_FRAMES],
}

impl StackFrames {
    pub fn as_slice(&self) -> &[u64] {
        &self.frames[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcs_are_counted_per_phase_and_canonical() {
        let t: PcTable<64> = PcTable::new();
        let kpc = 0xffff_ffff_8010_2030;
        assert!(t.record(Phase::Work, 0x40_1000));
        assert!(t.record(Phase::Work, 0x40_1000));
        assert!(t.record(Phase::Shutdown, 0x40_1000));
        assert!(t.record(Phase::Work, kpc));
        let mut e: Vec<_> = t.entries().collect();
        e.sort();
        assert_eq!(
            e,
            vec![
                (Phase::Work, 0x40_1000, 2),
                (Phase::Work, kpc, 1),
                (Phase::Shutdown, 0x40_1000, 1)
            ]
        );
    }

    #[test]
    fn pc_table_overflows_without_losing_entries() {
        let t: PcTable<16> = PcTable::new();
        let mut refused = 0;
        for pc in 0..40u64 {
            if !t.record(Phase::Work, 0x1000 + pc * 4) {
                refused += 1;
            }
        }
        assert_eq!(refused, 40 - 16);
        assert_eq!(t.entries().count(), 16);
        // Known PCs still count after the table is full.
        let (_, pc, before) = t.entries().next().unwrap();
        assert!(t.record(Phase::Work, pc));
        assert_eq!(t.entries().find(|e| e.1 == pc).unwrap().2, before + 1);
    }

    #[test]
    fn stacks_are_keyed_by_frames_phase_and_mode() {
        let t: StackTable<8> = StackTable::new();
        assert!(t.record(Phase::Work, false, &[1, 2, 3]));
        assert!(t.record(Phase::Work, false, &[1, 2, 3]));
        assert!(t.record(Phase::Work, true, &[1, 2, 3]));
        assert!(t.record(Phase::Work, false, &[1, 2]));
        let long: Vec<u64> = (0..40).collect();
        assert!(t.record(Phase::Boot, false, &long));
        let mut e: Vec<_> =
            t.entries().map(|(p, k, f, c)| (p, k, f.as_slice().to_vec(), c)).collect();
        e.sort();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0], (Phase::Boot, false, (0..16).collect(), 1));
        assert!(e.contains(&(Phase::Work, false, vec![1, 2, 3], 2)));
        assert!(e.contains(&(Phase::Work, true, vec![1, 2, 3], 1)));
        for i in 0..20u64 {
            t.record(Phase::Work, false, &[100 + i]);
        }
        assert_eq!(t.entries().count(), 8);
        assert!(!t.record(Phase::Work, false, &[999]));
    }

    #[test]
    fn contention_stacks_are_keyed_and_weighted() {
        let t: ContentionTable<8> = ContentionTable::new();
        assert!(t.record(Phase::Work, 0, 2, &[1, 2], 100));
        assert!(t.record(Phase::Work, 0, 2, &[1, 2], 50));
        assert!(t.record(Phase::Work, 1, 2, &[1, 2], 7));
        assert!(t.record(Phase::Work, 0, 3, &[1, 2], 7));
        assert!(t.record(Phase::Boot, 0, 2, &[1, 2], 7));
        let long: Vec<u64> = (0..40).collect();
        assert!(t.record(Phase::Shutdown, 1, 5, &long, 0));
        let mut e: Vec<_> = t
            .entries()
            .map(|e| {
                (e.phase, e.class, e.lock, e.frames.as_slice().to_vec(), e.count, e.wait_cycles)
            })
            .collect();
        e.sort();
        assert_eq!(
            e,
            vec![
                (Phase::Boot, 0, 2, vec![1, 2], 1, 7),
                (Phase::Work, 0, 2, vec![1, 2], 2, 150),
                (Phase::Work, 0, 3, vec![1, 2], 1, 7),
                (Phase::Work, 1, 2, vec![1, 2], 1, 7),
                (Phase::Shutdown, 1, 5, (0..16).collect(), 1, 0),
            ]
        );
        for i in 0..20u64 {
            t.record(Phase::Work, 0, 0, &[100 + i], 1);
        }
        assert_eq!(t.entries().count(), 8);
        assert!(!t.record(Phase::Work, 0, 0, &[999], 1));
    }

    #[test]
    fn a_capped_table_holds_its_limit_and_refuses_only_new_keys() {
        let t: PcTable<64> = PcTable::new();
        t.claims.set_limit(3);
        for pc in [0x1000, 0x2000, 0x3000] {
            assert!(t.record(Phase::Work, pc));
        }
        assert!(!t.record(Phase::Work, 0x4000), "a fourth key passes the limit");
        assert!(!t.record(Phase::Shutdown, 0x1000), "a new phase is a new key");
        assert!(t.record(Phase::Work, 0x2000), "a held key still counts");
        assert_eq!(t.entries().count(), 3);
        assert_eq!(t.claims.claimed(), 3);

        let s: StackTable<64> = StackTable::new();
        s.claims().set_limit(2);
        assert!(s.record(Phase::Work, false, &[1, 2]));
        assert!(s.record(Phase::Work, true, &[1, 2]));
        assert!(!s.record(Phase::Work, false, &[3]));
        assert!(s.record(Phase::Work, false, &[1, 2]));
        assert_eq!(s.entries().count(), 2);

        let c: ContentionTable<64> = ContentionTable::new();
        c.claims().set_limit(1);
        assert!(c.record(Phase::Work, 0, 1, &[5], 10));
        assert!(!c.record(Phase::Work, 0, 2, &[5], 10));
        assert!(c.record(Phase::Work, 0, 1, &[5], 10));
        assert_eq!(c.entries().map(|e| e.count).collect::<Vec<_>>(), [2]);

        // Unlimited: the table's own size is the bound.
        let u: PcTable<4> = PcTable::new();
        assert_eq!((0..8).filter(|pc| u.record(Phase::Work, *pc)).count(), 4);
    }
}
