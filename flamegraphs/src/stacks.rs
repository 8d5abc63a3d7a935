//! Which samples a view draws: one phase, or the whole run.
//!
//! The guest sends samples per phase plus their `final_total` and
//! `aggregate` sums. The whole run is `aggregate`; a report without
//! `aggregate` samples (synthetic, or cut short) falls back to the sum of
//! `boot`, `spawn_ready`, `work` and `shutdown`, which never double-counts.

use std::collections::BTreeMap;

use capos_measure::phase::Phase;
use capos_measure::record::{Mode, SampleTag};
use capos_measure::report::Report;

/// The samples a view covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Phase(Phase),
    WholeRun,
}

impl Scope {
    /// Short name for titles and file names (`work`, `run`).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Phase(p) => p.name(),
            Scope::WholeRun => "run",
        }
    }

    /// The reported phase that covers this scope (`aggregate` for the run).
    pub fn phase(self) -> Phase {
        match self {
            Scope::Phase(p) => p,
            Scope::WholeRun => Phase::Aggregate,
        }
    }

    /// The phases whose samples are summed for this scope, given the phases
    /// `present` in the data.
    pub fn phases(self, mut present: impl Iterator<Item = Phase>) -> Vec<Phase> {
        match self {
            Scope::Phase(p) => vec![p],
            Scope::WholeRun if present.any(|p| p == Phase::Aggregate) => vec![Phase::Aggregate],
            Scope::WholeRun => vec![Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown],
        }
    }
}

/// (mode, pid, frames leaf first) -> count for `scope`, summed over the
/// other tags (`pid` is the sampled process, `0` for a kernel thread).
pub fn stack_counts(report: &Report, scope: Scope) -> BTreeMap<(Mode, u32, Vec<u64>), u64> {
    stack_counts_where(report, scope, |_| true)
}

/// [`stack_counts`] of the samples whose tag passes `keep` (one thread, one
/// process).
pub fn stack_counts_where(
    report: &Report,
    scope: Scope,
    keep: impl Fn(&SampleTag) -> bool,
) -> BTreeMap<(Mode, u32, Vec<u64>), u64> {
    let phases = scope.phases(report.stack_samples.keys().map(|(p, _, _)| *p));
    let mut out: BTreeMap<(Mode, u32, Vec<u64>), u64> = BTreeMap::new();
    for ((phase, tag, frames), n) in &report.stack_samples {
        if phases.contains(phase) && keep(tag) {
            let slot = out.entry((tag.family(), tag.pid, frames.clone())).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
    out
}

/// (mode, pid, pc) -> count for `scope`, summed over the other tags.
pub fn pc_counts(report: &Report, scope: Scope) -> BTreeMap<(Mode, u32, u64), u64> {
    pc_counts_where(report, scope, |_| true)
}

/// [`pc_counts`] of the samples whose tag passes `keep`.
pub fn pc_counts_where(
    report: &Report,
    scope: Scope,
    keep: impl Fn(&SampleTag) -> bool,
) -> BTreeMap<(Mode, u32, u64), u64> {
    let phases = scope.phases(report.pc_samples.keys().map(|(p, _, _)| *p));
    let mut out: BTreeMap<(Mode, u32, u64), u64> = BTreeMap::new();
    for ((phase, tag, pc), n) in &report.pc_samples {
        if phases.contains(phase) && keep(tag) {
            let slot = out.entry((tag.family(), tag.pid, *pc)).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
    out
}

/// Sample tag -> count for `scope`: stack samples when any are in scope,
/// else PC samples (the same choice as [`crate::fold_samples`]), and
/// whether they were stacks.
pub fn tag_counts(report: &Report, scope: Scope) -> (BTreeMap<SampleTag, u64>, bool) {
    let mut out: BTreeMap<SampleTag, u64> = BTreeMap::new();
    let phases = scope.phases(report.stack_samples.keys().map(|(p, _, _)| *p));
    for ((phase, tag, _), n) in &report.stack_samples {
        if phases.contains(phase) && *n > 0 {
            let slot = out.entry(*tag).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
    if !out.is_empty() {
        return (out, true);
    }
    let phases = scope.phases(report.pc_samples.keys().map(|(p, _, _)| *p));
    for ((phase, tag, _), n) in &report.pc_samples {
        if phases.contains(phase) && *n > 0 {
            let slot = out.entry(*tag).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
    (out, false)
}
