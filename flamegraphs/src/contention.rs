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

/// The heaviest call path folded under lock `lock` of `class`: its frames,
/// root first, without the lock's own acquire and measurement frames at
/// the leaf (`capos_kernel::sync::`, `capos_kernel::measure::`), and its
/// wait cycles. `None` when no stack of that lock is in `folded` (or it
/// was folded from counters, which carry no path).
pub fn hottest_path(folded: &Folded, class: &str, lock: &str) -> Option<(Vec<String>, u64)> {
    if folded.source != FoldSource::ContentionStacks {
        return None;
    }
    let root = lock_frame(class, lock);
    let (stack, weight) = (folded.stacks.iter())
        .filter(|(k, _)| k.split(';').next() == Some(root.as_str()))
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    let mut frames: Vec<String> = stack.split(';').skip(1).map(str::to_string).collect();
    while frames.last().is_some_and(|f| {
        f.starts_with("capos_kernel::sync::") || f.starts_with("capos_kernel::measure::")
    }) {
        frames.pop();
    }
    Some((frames, *weight))
}

fn lock_frame(class: &str, lock: &str) -> String {
    let clean = |s: &str| s.replace([';', ' '], "_");
    format!("[lock {} {}]", clean(class), clean(lock))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(stacks: &[(&str, u64)]) -> Folded {
        let mut f = Folded::new(FoldSource::ContentionStacks);
        for (s, w) in stacks {
            let frames: Vec<String> = s.split(';').map(str::to_string).collect();
            f.add(&frames, *w);
        }
        f
    }

    #[test]
    fn the_hottest_path_of_a_lock_drops_the_lock_frames() {
        let f = folded(&[
            ("[lock shared_kernel_lock heap];a;b;capos_kernel::sync::lock_[k];capos_kernel::measure::x_[k]", 50),
            ("[lock shared_kernel_lock heap];a;c;capos_kernel::sync::lock_[k]", 70),
            ("[lock scheduler_lock yield];d;capos_kernel::sync::lock_[k]", 900),
        ]);
        let (path, w) = hottest_path(&f, "shared_kernel_lock", "heap").unwrap();
        assert_eq!((path, w), (vec!["a".to_string(), "c".to_string()], 70));
        let (path, w) = hottest_path(&f, "scheduler_lock", "yield").unwrap();
        assert_eq!((path, w), (vec!["d".to_string()], 900));
        assert_eq!(hottest_path(&f, "shared_kernel_lock", "cap_table"), None);
        let mut counters = f.clone();
        counters.source = FoldSource::LockCounters;
        assert_eq!(hottest_path(&counters, "scheduler_lock", "yield"), None);
    }
}
