//! Phases and the snapshots taken at phase marks.
//!
//! User space marks `spawn_ready`, `work`, `shutdown` and `final_total`, in
//! that order (skipping is allowed, going back is not). A mark *starts* the
//! phase of its name: `boot` runs from start-up to the first mark,
//! `spawn_ready` from its mark to the next one, and so on. The mark
//! `final_total` closes the measured section; what follows it (the report
//! itself) is only in `aggregate`. Reported phases:
//!
//! * `boot`, `spawn_ready`, `work`, `shutdown`: the span from the phase's
//!   mark to the next mark taken (or to the report, for the last one);
//! * `final_total`: from the first non-boot mark to the `final_total` mark,
//!   i.e. the sum of the measured phases (as in the seed's logs);
//! * `aggregate`: everything from start-up to the report.
//!
//! At each mark the book stores cumulative sums and histogram buckets (phase
//! values are differences of two snapshots) and the finished phase's min/max,
//! read from the shards' per-epoch buffers (see `shard.rs`).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use crate::declare::{Counter, Hist, Kind, COUNTER_SLOTS, HIST_SLOTS, MINMAX_SLOTS, NO_MINMAX};
use crate::hist::BUCKETS;

/// Most fields and histograms one catalogue group declares (checked by a
/// test against the catalogue).
const MAX_GROUP_FIELDS: usize = 16;
const MAX_GROUP_HISTS: usize = 4;
use crate::shard::{decode_extreme, ShardCopy, Shards};

pub use capos_abi::phase::Phase;

/// Why a mark was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarkError {
    #[error("phase {0:?} cannot be marked")]
    NotAMark(Phase),
    #[error("phase mark {0:?} is not after the current phase")]
    OutOfOrder(Phase),
    #[error("another phase mark is in progress")]
    Busy,
    #[error("measurement has stopped (the report is being taken)")]
    Stopped,
}

/// Marks that carry a snapshot: spawn_ready, work, shutdown, final_total.
const SNAPSHOTS: usize = 4;
/// Phases that can end at a mark: boot, spawn_ready, work, shutdown.
const ENDED: usize = 4;

/// Where a reported phase takes its min/max from.
#[derive(Clone, Copy, Debug)]
enum Extremes {
    /// Stored when the phase ended (index = phase id).
    Stored(usize),
    /// The phase is still running in this epoch.
    Live(u64),
    /// Several stored phases combined (bit per phase id).
    Combined(u8),
    /// Run-wide values.
    RunWide,
}

/// The counter range of one reported phase.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub phase: Phase,
    /// Snapshot index at the start (`None` = all zero, i.e. start-up).
    start: Option<usize>,
    /// Snapshot index at the end (`None` = live values).
    end: Option<usize>,
    extremes: Extremes,
}

/// Phase state and snapshots.
pub struct PhaseBook {
    marking: AtomicBool,
    current: AtomicU8,
    /// Bit per phase id whose mark was taken (bit 0: boot TSC recorded).
    marked: AtomicU8,
    tsc: [AtomicU64; 5],
    sums: [[AtomicU64; COUNTER_SLOTS]; SNAPSHOTS],
    hists: [[AtomicU64; HIST_SLOTS * BUCKETS]; SNAPSHOTS],
    extremes: [[AtomicU64; MINMAX_SLOTS]; ENDED],
}

impl Default for PhaseBook {
    fn default() -> Self {
        Self::new()
    }
}

const R: Ordering = Ordering::Relaxed;

impl PhaseBook {
    pub const fn new() -> Self {
        PhaseBook {
            marking: AtomicBool::new(false),
            current: AtomicU8::new(Phase::Boot as u8),
            marked: AtomicU8::new(0),
            tsc: [const { AtomicU64::new(0) }; 5],
            sums: [const { [const { AtomicU64::new(0) }; COUNTER_SLOTS] }; SNAPSHOTS],
            hists: [const { [const { AtomicU64::new(0) }; HIST_SLOTS * BUCKETS] }; SNAPSHOTS],
            extremes: [const { [const { AtomicU64::new(0) }; MINMAX_SLOTS] }; ENDED],
        }
    }

    /// TSC at which phase slot `slot` began (the mark's TSC, stamped just
    /// before the phase becomes current), `None` before that. Slot 0 is the
    /// boot stamp; slot 4 (`final_total`) means after the final mark.
    pub fn start_tsc(&self, slot: usize) -> Option<u64> {
        let tsc = self.tsc.get(slot)?.load(R);
        let stamped = self.marked.load(R) & (1 << slot) != 0 || slot == self.current() as usize;
        stamped.then_some(tsc)
    }

    /// The phase samples and trace events are attributed to now. After the
    /// `final_total` mark this stays `FinalTotal`, meaning "after the end".
    pub fn current(&self) -> Phase {
        Phase::from_id(self.current.load(R)).unwrap_or(Phase::Aggregate)
    }

    pub fn is_marked(&self, phase: Phase) -> bool {
        (phase as usize) < 5 && self.marked.load(R) & (1 << phase as u8) != 0
    }

    /// TSC of a mark, if taken.
    pub fn mark_tsc(&self, phase: Phase) -> Option<u64> {
        self.is_marked(phase).then(|| self.tsc[phase as usize].load(R))
    }

    /// Takes a phase mark at `tsc`. `Boot` only records the start-up TSC and
    /// is accepted before any other mark.
    pub fn mark(&self, shards: &Shards, phase: Phase, tsc: u64) -> Result<(), MarkError> {
        if phase == Phase::Aggregate {
            return Err(MarkError::NotAMark(phase));
        }
        if self.marking.compare_exchange(false, true, Ordering::Acquire, R).is_err() {
            return Err(MarkError::Busy);
        }
        let result = self.mark_locked(shards, phase, tsc);
        self.marking.store(false, Ordering::Release);
        result
    }

    fn mark_locked(&self, shards: &Shards, phase: Phase, tsc: u64) -> Result<(), MarkError> {
        let current = self.current();
        let marked = self.marked.load(R);
        if phase == Phase::Boot {
            if marked & !1 != 0 {
                return Err(MarkError::OutOfOrder(phase));
            }
            self.tsc[0].store(tsc, R);
            self.marked.store(marked | 1, R);
            return Ok(());
        }
        if phase <= current {
            return Err(MarkError::OutOfOrder(phase));
        }
        // New epoch first: owners start writing the other min/max buffer, so
        // the ended phase's buffer is stable while it is copied.
        let ended_epoch = shards.advance_epoch();
        // Then the new phase for samples, contention stacks and per-thread
        // rows (tagged with `current()` when taken), and right after it the
        // groups that count them: a sample another CPU takes from here on
        // is tagged with the new phase, and the counters that count it are
        // read within a few hundred loads, so tags and counters disagree by
        // at most the samples in flight on the other CPUs at that instant.
        // (Read after the whole catalogue, as before, a vCPU the host
        // descheduled mid-snapshot let the other CPUs tag several samples
        // with the ended phase that the counters put in the new one.)
        self.tsc[phase as usize].store(tsc, R);
        self.current.store(phase as u8, Ordering::Release);
        let snap = phase as usize - 1;
        // Other CPUs keep counting while this reads, so a (group, entry)'s
        // counters and histograms are read together, CPU by CPU: a lock's
        // acquisitions and its hold histogram on one CPU are read a few
        // hundred loads apart, not a whole catalogue apart (`hist_hold` in
        // `measure check`).
        let mut cs = [Counter::VOID; MAX_GROUP_FIELDS];
        let mut hs = [Hist::VOID; MAX_GROUP_HISTS];
        let mut values = [0u64; MAX_GROUP_FIELDS];
        let mut buckets = [0u64; MAX_GROUP_HISTS * BUCKETS];
        for g in tag_groups_first() {
            let desc = &crate::catalogue::GROUPS[g];
            for d in 0..desc.dim.count() {
                let nf = desc.fields.len().min(MAX_GROUP_FIELDS);
                let nh = desc.hists.len().min(MAX_GROUP_HISTS);
                for (f, slot) in cs[..nf].iter_mut().enumerate() {
                    *slot = Counter::from_ids(g as u8, d, f as u8).unwrap_or(Counter::VOID);
                }
                for (h, slot) in hs[..nh].iter_mut().enumerate() {
                    *slot = Hist::from_ids(g as u8, d, h as u8).unwrap_or(Hist::VOID);
                }
                shards.read_together(&cs[..nf], &hs[..nh], &mut values, &mut buckets);
                for (c, v) in cs[..nf].iter().zip(values) {
                    let Some(cell) = self.sums[snap].get(c.slot as usize) else { continue };
                    cell.store(v, R);
                    if c.minmax != NO_MINMAX {
                        let raw = shards.read_phase_raw(c.minmax as usize, ended_epoch);
                        self.extremes[current as usize][c.minmax as usize].store(raw, R);
                    }
                }
                for (h, bs) in hs[..nh].iter().zip(buckets.chunks(BUCKETS)) {
                    for (b, v) in bs.iter().enumerate() {
                        if let Some(cell) = self.hists[snap].get(h.slot as usize * BUCKETS + b) {
                            cell.store(*v, R);
                        }
                    }
                }
            }
        }
        self.marked.store(marked | (1 << phase as u8), R);
        Ok(())
    }

    /// Refuses every later mark, waiting for one in progress to finish, so
    /// that the book stays as it is while the report reads it. Marks after
    /// this return [`MarkError::Busy`] (or `Stopped`, see `Measure::stop`).
    pub fn close(&self) {
        while self.marking.compare_exchange(false, true, Ordering::Acquire, R).is_err() {
            core::hint::spin_loop();
        }
    }

    /// Once `final_total` is marked: the phases it totals, as a bit per phase
    /// id (from the first non-boot mark, or boot if there was none, up to
    /// the `final_total` mark).
    pub fn final_total_members(&self) -> Option<u8> {
        if !self.is_marked(Phase::FinalTotal) {
            return None;
        }
        let first = [Phase::SpawnReady, Phase::Work, Phase::Shutdown]
            .into_iter()
            .find(|p| self.is_marked(*p));
        let from = first.map_or(0, |p| p as u8);
        let mask = (from..Phase::FinalTotal as u8)
            .filter(|id| *id == from || self.is_marked(Phase::ALL[*id as usize]))
            .fold(0u8, |m, id| m | 1 << id);
        Some(mask)
    }

    /// The phases to report, in order, with where their values come from
    /// (`shards`: the copy taken when measurement stopped).
    pub fn spans(&self, shards: &ShardCopy) -> impl Iterator<Item = Span> {
        let mut spans: [Option<Span>; 6] = [None; 6];
        let current = self.current();
        let next_mark = |p: Phase| {
            Phase::ALL[p as usize + 1..5]
                .iter()
                .copied()
                .find(|q| self.is_marked(*q))
                .map(|q| q as usize - 1)
        };
        for p in [Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown] {
            if p != Phase::Boot && !self.is_marked(p) {
                continue;
            }
            let start = (p != Phase::Boot).then(|| p as usize - 1);
            let extremes = if p == current {
                Extremes::Live(shards.epoch())
            } else {
                Extremes::Stored(p as usize)
            };
            spans[p as usize] = Some(Span { phase: p, start, end: next_mark(p), extremes });
        }
        if let Some(mask) = self.final_total_members() {
            let first = [Phase::SpawnReady, Phase::Work, Phase::Shutdown]
                .into_iter()
                .find(|p| self.is_marked(*p));
            spans[4] = Some(Span {
                phase: Phase::FinalTotal,
                start: first.map(|p| p as usize - 1),
                end: Some(Phase::FinalTotal as usize - 1),
                extremes: Extremes::Combined(mask),
            });
        }
        spans[5] = Some(Span {
            phase: Phase::Aggregate,
            start: None,
            end: None,
            extremes: Extremes::RunWide,
        });
        spans.into_iter().flatten()
    }

    /// A counter's reported value over `span`.
    pub fn value(&self, shards: &ShardCopy, span: &Span, c: Counter) -> u64 {
        let slot = c.slot as usize;
        match c.kind {
            Kind::Sum => {
                let at = |snap: Option<usize>| match snap {
                    Some(i) => self.sums[i][slot].load(R),
                    None => shards.read_raw(c),
                };
                let start = span.start.map_or(0, |i| self.sums[i][slot].load(R));
                at(span.end).wrapping_sub(start)
            }
            Kind::Min | Kind::Max => {
                let mm = c.minmax as usize;
                let raw = match span.extremes {
                    Extremes::Stored(p) => self.extremes[p][mm].load(R),
                    Extremes::Live(epoch) => shards.read_phase_raw(mm, epoch),
                    Extremes::Combined(mask) => (0..ENDED)
                        .filter(|p| mask & (1 << p) != 0)
                        .fold(0, |acc, p| acc.max(self.extremes[p][mm].load(R))),
                    Extremes::RunWide => shards.read_raw(c),
                };
                decode_extreme(c.kind, raw)
            }
        }
    }

    /// One histogram bucket's count over `span`.
    pub fn bucket(&self, shards: &ShardCopy, span: &Span, h: Hist, bucket: usize) -> u64 {
        let i = h.slot as usize * BUCKETS + bucket;
        let end = match span.end {
            Some(s) => self.hists[s][i].load(R),
            None => shards.read_bucket(h.slot as usize, bucket),
        };
        end.wrapping_sub(span.start.map_or(0, |s| self.hists[s][i].load(R)))
    }
}

/// Group indices in snapshot order: the groups that count what carries a
/// phase tag (sample interrupts, PC and stack samples and their overflow,
/// lock contention, per-thread rows) first, then the rest in catalogue order.
fn tag_groups_first() -> impl Iterator<Item = usize> {
    use crate::catalogue::GROUPS;
    const FIRST: [&str; 7] = [
        "timer",
        "user_pc_samples",
        "kernel_pc_samples",
        "scheduler_lock",
        "scheduler_lock_site",
        "shared_kernel_lock",
        "thread_ops",
    ];
    let first = FIRST.into_iter().filter_map(|n| GROUPS.iter().position(|g| g.name == n));
    let rest = (0..GROUPS.len()).filter(|g| !FIRST.contains(&GROUPS[*g].name));
    first.chain(rest)
}

#[cfg(test)]
mod group_size_tests {
    #[test]
    fn the_snapshot_visits_every_group_once_tagged_ones_first() {
        let order: alloc::vec::Vec<usize> = super::tag_groups_first().collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..crate::catalogue::GROUPS.len()).collect::<alloc::vec::Vec<_>>());
        assert_eq!(crate::catalogue::GROUPS[order[0]].name, "timer");
        assert_eq!(crate::catalogue::GROUPS[order[6]].name, "thread_ops");
    }

    #[test]
    fn every_group_fits_the_mark_buffers() {
        for g in crate::catalogue::GROUPS {
            assert!(g.fields.len() <= super::MAX_GROUP_FIELDS, "{} fields", g.name);
            assert!(g.hists.len() <= super::MAX_GROUP_HISTS, "{} hists", g.name);
        }
    }
}
