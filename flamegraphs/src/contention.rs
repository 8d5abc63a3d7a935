//! The lock-contention flamegraph: where the kernel waited for locks,
//! weighted by wait cycles.
//!
//! With contention stacks (see [`capos_symbolize::ContentionStack`] for the
//! input shape) each stack is drawn under a root frame naming its lock,
//! `[lock scheduler_lock timer_select]`, with the call path above it, root
//! first. Without them the graph falls back to the lock-site counters: one
//! `[lock family];site` bar per site, weighted by its wait cycles, so the
//! view exists (coarser) before the kernel emits stacks.

use capos_measure::phase::Phase;
use capos_measure::report::Report;
use capos_symbolize::{ContentionStack, Resolver};

use crate::folded::{FoldSource, Folded, Namer};
use crate::lock_sites::lock_sites;
use crate::stacks::Scope;

/// Folds contention for `scope` from `stacks`, or from counters when no
/// stack is in scope.
pub fn fold_contention(
    report: &Report,
    stacks: &[ContentionStack],
    resolver: &Resolver<'_>,
    scope: Scope,
) -> Folded {
    let phases = scope.phases(stacks.iter().map(|s| s.phase));
    let mut namer = Namer::new(resolver);
    let mut folded = Folded::new(FoldSource::ContentionStacks);
    for s in stacks.iter().filter(|s| phases.contains(&s.phase)) {
        let mut frames = vec![lock_frame(&s.class, &s.lock)];
        frames.extend(namer.stack(&s.frames));
        folded.add(&frames, s.wait_cycles);
    }
    if folded.total > 0 {
        return folded;
    }
    let phase = match scope {
        Scope::Phase(p) => p,
        Scope::WholeRun => Phase::Aggregate,
    };
    let mut folded = Folded::new(FoldSource::LockCounters);
    for site in lock_sites(report, phase) {
        folded.add(&[format!("[lock {}]", site.family), site.site.clone()], site.wait_cycles);
    }
    if folded.total == 0 {
        folded.source = FoldSource::Empty;
    }
    folded
}

fn lock_frame(class: &str, lock: &str) -> String {
    let clean = |s: &str| s.replace([';', ' '], "_");
    format!("[lock {} {}]", clean(class), clean(lock))
}
