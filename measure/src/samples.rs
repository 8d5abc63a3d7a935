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
//! Samples are keyed by phase, [`SampleTag`] (CPU, pid, thread, mode, held
//! lock) and PC or frames: a slot keeps the tag in two words (`meta`: phase,
//! mode, CPU, lock code and pid; `aux`: the thread ref) beside the frames, and
//! the key is a hash of all of it.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::phase::Phase;
use crate::record::{HeldLock, SampleMode, SampleTag};

/// Probes before a sample counts as overflow.
pub const MAX_PROBE: usize = 64;
/// Frames kept per stack sample.
pub const MAX_FRAMES: usize = 16;

const VALID: u64 = 1 << 63;
const R: Ordering = Ordering::Relaxed;

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
    /// `usize::MAX - limit`, so an unlimited table is all zero bytes and
    /// the measure statics stay in `.bss` (not in the kernel image).
    headroom: AtomicUsize,
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
        Claims { headroom: AtomicUsize::new(0), claimed: AtomicUsize::new(0) }
    }

    /// At most `n` claims from now on (set at boot, before any sample).
    pub fn set_limit(&self, n: usize) {
        self.headroom.store(usize::MAX - n, R);
    }

    /// Slots claimed so far.
    pub fn claimed(&self) -> usize {
        self.claimed.load(R)
    }

    /// Takes one claim; `false` when the limit is reached.
    #[inline]
    pub(crate) fn take(&self) -> bool {
        if self.claimed.fetch_add(1, R) < usize::MAX - self.headroom.load(R) {
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

/// One entry: the published hash, count, weight, meta, aux and frames.
struct StackSlot<const F: usize> {
    /// `0` free, [`CLAIMED`] while frames are written, else the stack's key.
    key: AtomicU64,
    count: AtomicU64,
    /// Summed weight (wait cycles for contention stacks; unused otherwise).
    weight: AtomicU64,
    /// The owner's meta bits (below bit 59) `| len << 59`.
    meta: AtomicU64,
    /// A second owner word (a sample's thread ref).
    aux: AtomicU64,
    frames: [AtomicU64; F],
}

const CLAIMED: u64 = 1;
const LEN_SHIFT: u32 = 59;
const META_MASK: u64 = (1 << LEN_SHIFT) - 1;

/// (meta, aux, up to `F` frames) -> (count, weight): the table behind
/// [`PcTable`] (`F` = 1), [`StackTable`] and [`ContentionTable`]; `N` must
/// be a power of two, `F` at most [`MAX_FRAMES`].
struct FrameTable<const N: usize, const F: usize> {
    slots: [StackSlot<F>; N],
    claims: Claims,
}

impl<const N: usize, const F: usize> FrameTable<N, F> {
    const SHAPE: () = assert!(N.is_power_of_two() && F <= MAX_FRAMES);

    const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::SHAPE;
        FrameTable {
            slots: [const {
                StackSlot {
                    key: AtomicU64::new(0),
                    count: AtomicU64::new(0),
                    weight: AtomicU64::new(0),
                    meta: AtomicU64::new(0),
                    aux: AtomicU64::new(0),
                    frames: [const { AtomicU64::new(0) }; F],
                }
            }; N],
            claims: Claims::new(),
        }
    }

    /// Counts one stack with `weight` (leaf first; frames past `F` are
    /// cut). The slot's index, `None` when the table is full.
    fn record(&self, meta: u64, aux: u64, frames: &[u64], weight: u64) -> Option<usize> {
        let frames = &frames[..frames.len().min(F)];
        let meta = (meta & META_MASK) | (frames.len() as u64) << LEN_SHIFT;
        let key = frames.iter().fold(mix(mix(meta) ^ aux), |h, f| mix(h ^ f)) | VALID;
        let start = key as usize;
        for probe in 0..MAX_PROBE.min(N) {
            let index = (start + probe) & (N - 1);
            let slot = &self.slots[index];
            let seen = slot.key.load(Ordering::Acquire);
            if seen == key {
                slot.count.fetch_add(1, R);
                if weight != 0 {
                    slot.weight.fetch_add(weight, R);
                }
                return Some(index);
            }
            if seen == 0 && !self.claims.take() {
                return None;
            }
            if seen == 0 && slot.key.compare_exchange(0, CLAIMED, Ordering::Acquire, R).is_ok() {
                for (cell, f) in slot.frames.iter().zip(frames) {
                    cell.store(*f, R);
                }
                slot.meta.store(meta, R);
                slot.aux.store(aux, R);
                slot.count.store(1, R);
                slot.weight.store(weight, R);
                // Publish: readers that see the key see frames and meta.
                slot.key.store(key, Ordering::Release);
                return Some(index);
            }
            if seen == 0 {
                self.claims.give_back(); // another writer took the slot first
            }
            // Claimed by a concurrent writer or another stack: probe on. A
            // racing copy of the same stack may land twice; readers merge.
        }
        None
    }

    /// Every (meta, aux, frames, count, weight) recorded, in table order.
    fn entries(&self) -> impl Iterator<Item = (u64, u64, StackFrames, u64, u64)> + '_ {
        self.indexed().map(|(_, e)| e)
    }

    /// [`FrameTable::entries`] with each slot's index.
    fn indexed(&self) -> impl Iterator<Item = (usize, (u64, u64, StackFrames, u64, u64))> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            if slot.key.load(Ordering::Acquire) & VALID == 0 {
                return None;
            }
            let meta = slot.meta.load(R);
            let len = ((meta >> LEN_SHIFT) as usize).min(F);
            let mut frames = StackFrames { len, frames: [0; MAX_FRAMES] };
            for (out, cell) in frames.frames.iter_mut().zip(&slot.frames).take(len) {
                *out = cell.load(R);
            }
            let (count, weight) = (slot.count.load(R), slot.weight.load(R));
            Some((index, (meta & META_MASK, slot.aux.load(R), frames, count, weight)))
        })
    }
}

// A sample's meta word: phase(4) | mode(2) | cpu(8) | lock code(10) | pid(32).
const TAG_MODE: u32 = 4;
const TAG_CPU: u32 = 6;
const TAG_LOCK: u32 = 14;
const TAG_PID: u32 = 24;

/// The meta word of a sample in `phase` with `tag` (its `aux` is the tid).
fn sample_meta(phase: Phase, tag: &SampleTag) -> u64 {
    phase as u64
        | (tag.mode as u64) << TAG_MODE
        | (tag.cpu as u64) << TAG_CPU
        | (HeldLock::code(tag.lock) & 0x3ff) << TAG_LOCK
        | (tag.pid as u64) << TAG_PID
}

/// Inverse of [`sample_meta`]; `None` for a word no sample has.
fn sample_tag(meta: u64, tid: u64) -> Option<(Phase, SampleTag)> {
    let phase = Phase::from_id((meta & 0xf) as u8)?;
    let mode = SampleMode::from_id((meta >> TAG_MODE) & 3)?;
    let lock = HeldLock::from_code((meta >> TAG_LOCK) & 0x3ff).ok()?;
    let cpu = (meta >> TAG_CPU) as u8;
    let pid = (meta >> TAG_PID) as u32;
    Some((phase, SampleTag { cpu, pid, tid, mode, lock }))
}

/// (phase, tag, PC) -> count; `N` must be a power of two.
pub struct PcTable<const N: usize> {
    table: FrameTable<N, 1>,
}

impl<const N: usize> Default for PcTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PcTable<N> {
    pub const fn new() -> Self {
        PcTable { table: FrameTable::new() }
    }

    /// The table's claim budget.
    pub fn claims(&self) -> &Claims {
        &self.table.claims
    }

    /// Counts one sample of `pc` in `phase`; `false` when the table is full.
    pub fn record(&self, phase: Phase, tag: &SampleTag, pc: u64) -> bool {
        self.table.record(sample_meta(phase, tag), tag.tid, &[pc], 0).is_some()
    }

    /// Every (phase, tag, pc, count) recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (Phase, SampleTag, u64, u64)> + '_ {
        self.table.entries().filter_map(|(meta, tid, frames, count, _)| {
            let (phase, tag) = sample_tag(meta, tid)?;
            Some((phase, tag, *frames.as_slice().first()?, count))
        })
    }
}

/// (phase, tag, call stack) -> count; `N` must be a power of two.
pub struct StackTable<const N: usize> {
    table: FrameTable<N, MAX_FRAMES>,
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
    pub fn record(&self, phase: Phase, tag: &SampleTag, frames: &[u64]) -> bool {
        self.record_id(phase, tag, frames).is_some()
    }

    /// [`StackTable::record`] returning the stack's id (its slot + 1, never
    /// 0), `None` when the table is full.
    pub fn record_id(&self, phase: Phase, tag: &SampleTag, frames: &[u64]) -> Option<u32> {
        let slot = self.table.record(sample_meta(phase, tag), tag.tid, frames, 0)?;
        Some(slot as u32 + 1)
    }

    /// Every (phase, tag, frames, count) recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (Phase, SampleTag, StackFrames, u64)> + '_ {
        self.entries_with_id().map(|(_, phase, tag, frames, count)| (phase, tag, frames, count))
    }

    /// [`StackTable::entries`] with each stack's id (as [`StackTable::record_id`]).
    pub fn entries_with_id(
        &self,
    ) -> impl Iterator<Item = (u32, Phase, SampleTag, StackFrames, u64)> + '_ {
        self.table.indexed().filter_map(|(slot, (meta, tid, frames, count, _))| {
            let (phase, tag) = sample_tag(meta, tid)?;
            Some((slot as u32 + 1, phase, tag, frames, count))
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
    table: FrameTable<N, MAX_FRAMES>,
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
        self.table.record(meta, 0, frames, wait).is_some()
    }

    /// Every entry recorded, in table order.
    pub fn entries(&self) -> impl Iterator<Item = ContentionEntry> + '_ {
        self.table.entries().filter_map(|(meta, _, frames, count, wait_cycles)| {
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

    const U: SampleTag = SampleTag::mode_only(SampleMode::User);
    const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);

    #[test]
    fn pcs_are_counted_per_phase_and_tag() {
        let t: PcTable<64> = PcTable::new();
        let kpc = 0xffff_ffff_8010_2030;
        let a =
            SampleTag { cpu: 1, pid: 3, tid: 0x1_0000_0004, mode: SampleMode::User, lock: None };
        let b = SampleTag { pid: 4, tid: 0x1_0000_0005, ..a };
        let held = HeldLock::new(crate::ContentionClass::SharedKernelLock, 1);
        let irq = SampleTag {
            cpu: 15,
            pid: u32::MAX,
            tid: u64::MAX,
            mode: SampleMode::Interrupt,
            lock: held,
        };
        assert!(t.record(Phase::Work, &a, 0x40_1000));
        assert!(t.record(Phase::Work, &a, 0x40_1000));
        assert!(t.record(Phase::Work, &b, 0x40_1000));
        assert!(t.record(Phase::Shutdown, &a, 0x40_1000));
        assert!(t.record(Phase::Work, &irq, kpc));
        let mut e: Vec<_> = t.entries().collect();
        e.sort();
        let mut want = vec![
            (Phase::Work, a, 0x40_1000, 2),
            (Phase::Work, b, 0x40_1000, 1),
            (Phase::Work, irq, kpc, 1),
            (Phase::Shutdown, a, 0x40_1000, 1),
        ];
        want.sort();
        assert_eq!(e, want);
    }

    #[test]
    fn pc_table_overflows_without_losing_entries() {
        let t: PcTable<16> = PcTable::new();
        let mut refused = 0;
        for pc in 0..40u64 {
            if !t.record(Phase::Work, &U, 0x1000 + pc * 4) {
                refused += 1;
            }
        }
        assert_eq!(refused, 40 - 16);
        assert_eq!(t.entries().count(), 16);
        // Known PCs still count after the table is full; a new tag is a new key.
        let (_, tag, pc, before) = t.entries().next().unwrap();
        assert!(t.record(Phase::Work, &tag, pc));
        assert!(!t.record(Phase::Work, &SampleTag { cpu: 1, ..tag }, pc));
        assert_eq!(t.entries().find(|e| e.2 == pc).unwrap().3, before + 1);
    }

    #[test]
    fn stacks_are_keyed_by_frames_phase_and_tag() {
        let t: StackTable<8> = StackTable::new();
        let other_thread = SampleTag { tid: 7, ..U };
        assert!(t.record(Phase::Work, &U, &[1, 2, 3]));
        assert!(t.record(Phase::Work, &U, &[1, 2, 3]));
        assert!(t.record(Phase::Work, &K, &[1, 2, 3]));
        assert!(t.record(Phase::Work, &U, &[1, 2]));
        assert!(t.record(Phase::Work, &other_thread, &[1, 2]));
        let long: Vec<u64> = (0..40).collect();
        assert!(t.record(Phase::Boot, &U, &long));
        let mut e: Vec<_> =
            t.entries().map(|(p, k, f, c)| (p, k, f.as_slice().to_vec(), c)).collect();
        e.sort();
        assert_eq!(e.len(), 5);
        assert_eq!(e[0], (Phase::Boot, U, (0..16).collect(), 1));
        assert!(e.contains(&(Phase::Work, U, vec![1, 2, 3], 2)));
        assert!(e.contains(&(Phase::Work, K, vec![1, 2, 3], 1)));
        assert!(e.contains(&(Phase::Work, other_thread, vec![1, 2], 1)));
        for i in 0..20u64 {
            t.record(Phase::Work, &U, &[100 + i]);
        }
        assert_eq!(t.entries().count(), 8);
        assert!(!t.record(Phase::Work, &U, &[999]));
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
        t.claims().set_limit(3);
        for pc in [0x1000, 0x2000, 0x3000] {
            assert!(t.record(Phase::Work, &U, pc));
        }
        assert!(!t.record(Phase::Work, &U, 0x4000), "a fourth key passes the limit");
        assert!(!t.record(Phase::Shutdown, &U, 0x1000), "a new phase is a new key");
        assert!(t.record(Phase::Work, &U, 0x2000), "a held key still counts");
        assert_eq!(t.entries().count(), 3);
        assert_eq!(t.claims().claimed(), 3);

        let s: StackTable<64> = StackTable::new();
        s.claims().set_limit(2);
        assert!(s.record(Phase::Work, &U, &[1, 2]));
        assert!(s.record(Phase::Work, &K, &[1, 2]));
        assert!(!s.record(Phase::Work, &U, &[3]));
        assert!(s.record(Phase::Work, &U, &[1, 2]));
        assert_eq!(s.entries().count(), 2);

        let c: ContentionTable<64> = ContentionTable::new();
        c.claims().set_limit(1);
        assert!(c.record(Phase::Work, 0, 1, &[5], 10));
        assert!(!c.record(Phase::Work, 0, 2, &[5], 10));
        assert!(c.record(Phase::Work, 0, 1, &[5], 10));
        assert_eq!(c.entries().map(|e| e.count).collect::<Vec<_>>(), [2]);

        // Unlimited: the table's own size is the bound.
        let u: PcTable<4> = PcTable::new();
        assert_eq!((0..8).filter(|pc| u.record(Phase::Work, &U, *pc)).count(), 4);
    }
}
