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
    /// Set from just before a mark reads its TSC until the new phase is
    /// current: CPU-time accounting waits it out (see [`PhaseBook::settled`]).
    switching: AtomicBool,
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
            switching: AtomicBool::new(false),
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
        self.mark_with(shards, phase, &|| tsc).map(|_| ())
    }

    /// [`PhaseBook::mark`] at the TSC `now()` reads, taken at the instant
    /// the phase switches; returns it. A CPU whose time accounting runs
    /// meanwhile waits until the switch is done ([`PhaseBook::settled`]),
    /// so no CPU gives the old phase time from after the mark.
    pub fn mark_with(
        &self,
        shards: &Shards,
        phase: Phase,
        now: &dyn Fn() -> u64,
    ) -> Result<u64, MarkError> {
        if phase == Phase::Aggregate {
            return Err(MarkError::NotAMark(phase));
        }
        if self.marking.compare_exchange(false, true, Ordering::Acquire, R).is_err() {
            return Err(MarkError::Busy);
        }
        let result = self.mark_locked(shards, phase, now);
        self.marking.store(false, Ordering::Release);
        result
    }

    /// Returns once no mark is between reading its TSC and making its phase
    /// current. Called by the CPU-time accounting after it read its own TSC:
    /// a mark that had not begun then stamps a later TSC, and one in
    /// progress is waited for (a few instructions; marks never wait on it).
    pub fn settled(&self) {
        while self.switching.load(Ordering::SeqCst) {
            core::hint::spin_loop();
        }
    }

    fn mark_locked(
        &self,
        shards: &Shards,
        phase: Phase,
        now: &dyn Fn() -> u64,
    ) -> Result<u64, MarkError> {
        let current = self.current();
        let marked = self.marked.load(R);
        if phase == Phase::Boot {
            if marked & !1 != 0 {
                return Err(MarkError::OutOfOrder(phase));
            }
            let tsc = now();
            self.tsc[0].store(tsc, R);
            self.marked.store(marked | 1, R);
            return Ok(tsc);
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
        self.switching.store(true, Ordering::SeqCst);
        let tsc = now();
        self.tsc[phase as usize].store(tsc, R);
        self.current.store(phase as u8, Ordering::Release);
        self.switching.store(false, Ordering::SeqCst);
        let snap = phase as usize - 1;
        // Other CPUs keep counting while this reads, so what identities
        // compare is read together, CPU by CPU: a (group, entry)'s counters
        // and histograms (a lock's acquisitions and its hold histogram), and
        // the groups of [`UNITS`] (the sample interrupts and the samples;
        // the scheduler lock and its sites) are read a few hundred loads
        // apart on each CPU, not a whole sweep apart (`measure check`'s
        // `hist_hold`, `samples_per_interrupt`, `lock_site_sum`: a vCPU the
        // host stalled between two sweeps let a lock hammer on the other CPU
        // put 8 acquisitions between `scheduler_lock` and its sites).
        let mut cs = [Counter::VOID; UNIT_FIELDS];
        let mut hs = [Hist::VOID; UNIT_HISTS];
        let mut values = [0u64; UNIT_FIELDS];
        let mut buckets = [0u64; UNIT_HISTS * BUCKETS];
        for unit in snapshot_units() {
            let (mut nf, mut nh) = (0, 0);
            for &(g, d) in unit.iter().take_while(|e| e.0 != usize::MAX) {
                let desc = &crate::catalogue::GROUPS[g];
                for f in 0..desc.fields.len() {
                    if let (Some(slot), Some(c)) =
                        (cs.get_mut(nf), Counter::from_ids(g as u8, d, f as u8))
                    {
                        *slot = c;
                        nf += 1;
                    }
                }
                for h in 0..desc.hists.len() {
                    if let (Some(slot), Some(x)) =
                        (hs.get_mut(nh), Hist::from_ids(g as u8, d, h as u8))
                    {
                        *slot = x;
                        nh += 1;
                    }
                }
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
        self.marked.store(marked | (1 << phase as u8), R);
        Ok(tsc)
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

/// Counters read in one pass over the CPUs, and histograms.
const UNIT_FIELDS: usize = 80;
const UNIT_HISTS: usize = 8;
/// Most (group, entry) pairs in one unit; unused slots are `usize::MAX`.
const UNIT_ENTRIES: usize = 16;

/// Groups read as one unit, in this order, right after the phase switch:
/// what carries a phase tag (sample interrupts and samples; switches and
/// run-queue delays; lock acquisitions and contention stacks; per-thread
/// rows) and what identities compare across groups.
const UNITS: [&[&str]; 5] = [
    &["timer", "user_pc_samples", "kernel_pc_samples"],
    // Switches into a runnable thread, which the run-queue delays (tagged
    // with the phase at the switch) count too: fid-sched switches some
    // 28 000 times a second, and read after the lock units its count was
    // 15 switches off the delays' at a mark.
    &["scheduler"],
    &["scheduler_lock", "scheduler_lock_site"],
    &["shared_kernel_lock"],
    &["thread_ops"],
];

/// The snapshot's read units: each unit's (group, entry) pairs. The groups
/// of [`UNITS`] first (a group with entries that do not fit one unit is
/// split one entry per unit), then every other (group, entry) alone.
fn snapshot_units() -> impl Iterator<Item = [(usize, usize); UNIT_ENTRIES]> {
    use crate::catalogue::GROUPS;
    let index = |name: &str| GROUPS.iter().position(|g| g.name == name);
    let entries = move |names: &'static [&'static str]| {
        names
            .iter()
            .filter_map(move |n| index(n))
            .flat_map(|g| (0..GROUPS[g].dim.count()).map(move |d| (g, d)))
    };
    let single = |e: (usize, usize)| {
        let mut u = [(usize::MAX, 0); UNIT_ENTRIES];
        u[0] = e;
        u
    };
    let grouped = UNITS.iter().flat_map(move |names| {
        let together = entries(names).count() <= UNIT_ENTRIES;
        let mut one = [(usize::MAX, 0); UNIT_ENTRIES];
        for (slot, e) in one.iter_mut().zip(entries(names)) {
            *slot = e;
        }
        let joint = together.then_some(one).into_iter();
        let split = entries(names).filter(move |_| !together).map(single);
        joint.chain(split)
    });
    let rest = (0..GROUPS.len())
        .filter(|g| !UNITS.iter().any(|u| u.contains(&GROUPS[*g].name)))
        .flat_map(|g| (0..GROUPS[g].dim.count()).map(move |d| (g, d)))
        .map(single);
    grouped.chain(rest)
}

#[cfg(test)]
mod group_size_tests {
    #[test]
    fn the_snapshot_reads_every_entry_once_and_compared_groups_together() {
        use crate::catalogue::GROUPS;
        use alloc::vec::Vec;
        let units: Vec<Vec<(usize, usize)>> = super::snapshot_units()
            .map(|u| u.into_iter().take_while(|e| e.0 != usize::MAX).collect())
            .collect();
        let mut all: Vec<(usize, usize)> = units.iter().flatten().copied().collect();
        all.sort_unstable();
        let expected: Vec<(usize, usize)> = (0..GROUPS.len())
            .flat_map(|g| (0..GROUPS[g].dim.count()).map(move |d| (g, d)))
            .collect();
        assert_eq!(all, expected, "every (group, entry) exactly once");
        let name = |e: &(usize, usize)| GROUPS[e.0].name;
        let names0: Vec<&str> = units[0].iter().map(name).collect();
        assert_eq!(names0, ["timer", "user_pc_samples", "kernel_pc_samples"]);
        assert_eq!(units[1].iter().map(name).collect::<Vec<_>>(), ["scheduler"]);
        assert!(units[2].iter().map(name).all(|n| n.starts_with("scheduler_lock")));
        assert_eq!(
            units[2].len(),
            1 + GROUPS.iter().find(|g| g.name == "scheduler_lock_site").unwrap().dim.count()
        );
        // Every unit fits the read buffers.
        for u in &units {
            let fields: usize = u.iter().map(|e| GROUPS[e.0].fields.len()).sum();
            let hists: usize = u.iter().map(|e| GROUPS[e.0].hists.len()).sum();
            assert!(fields <= super::UNIT_FIELDS && hists <= super::UNIT_HISTS, "{u:?}");
        }
    }
}
