//! The off-CPU flamegraph: where threads blocked, weighted by how long they
//! stayed blocked.
//!
//! Each off-CPU stack (the kernel stack a thread blocked at, recorded when
//! it was woken with the blocked cycles, see `capos_measure::thread_time`)
//! is drawn under a root frame naming the block reason, `[blocked sleep]`,
//! with the call path above it, root first, its frames named like the
//! other graphs' (`symbol_[k]` for kernel frames).

use capos_measure::report::Report;
use capos_measure::thread_time::BlockReason;
use capos_symbolize::Resolver;

use crate::folded::{FoldSource, Folded, Namer};
use crate::stacks::Scope;

/// The root frame of stacks blocked for `reason` (a `BlockReason` id).
pub fn reason_frame(reason: u8) -> String {
    let name = BlockReason::from_id(reason).map_or("unknown", |r| r.name());
    format!("[blocked {name}]")
}

/// Folds the off-CPU stacks of `scope` by blocked cycles.
pub fn fold_offcpu(report: &Report, resolver: &Resolver<'_>, scope: Scope) -> Folded {
    let phases = scope.phases(report.offcpu_stacks.keys().map(|(p, _, _)| *p));
    let mut namer = Namer::new(resolver);
    let mut folded = Folded::new(FoldSource::OffCpuStacks);
    for ((phase, reason, frames), (_, blocked)) in &report.offcpu_stacks {
        if phases.contains(phase) {
            let mut stack = vec![reason_frame(*reason)];
            stack.extend(namer.stack(frames));
            folded.add(&stack, *blocked);
        }
    }
    if folded.total == 0 {
        folded.source = FoldSource::Empty;
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::phase::Phase;
    use capos_symbolize::Binaries;

    #[test]
    fn stacks_fold_under_their_reason_by_blocked_cycles() {
        let mut r = Report::default();
        let sleep = BlockReason::Sleep as u8;
        let ipc = BlockReason::Ipc as u8;
        r.offcpu_stacks.insert((Phase::Work, sleep, vec![0x10, 0x20]), (3, 900));
        r.offcpu_stacks.insert((Phase::Aggregate, sleep, vec![0x10, 0x20]), (4, 1_000));
        r.offcpu_stacks.insert((Phase::Aggregate, ipc, vec![]), (1, 50));
        let bins = Binaries::load(&capos_symbolize::ElfPaths::new(), std::iter::empty());
        let resolver = Resolver::new(&bins, &[]);
        let f = fold_offcpu(&r, &resolver, Scope::WholeRun);
        assert_eq!(f.total, 1_050);
        assert_eq!(f.source, FoldSource::OffCpuStacks);
        let roots: Vec<(&str, u64)> =
            f.stacks.iter().map(|(k, v)| (k.split(';').next().unwrap_or(""), *v)).collect();
        assert_eq!(roots, [("[blocked ipc]", 50), ("[blocked sleep]", 1_000)]);
        let deep = f.stacks.keys().find(|k| k.starts_with("[blocked sleep]")).unwrap();
        assert_eq!(deep.split(';').count(), 3, "{deep}: the reason, then root first");
        let work = fold_offcpu(&r, &resolver, Scope::Phase(Phase::Work));
        assert_eq!(work.total, 900);
        assert_eq!(
            fold_offcpu(&Report::default(), &resolver, Scope::WholeRun).source,
            FoldSource::Empty
        );
    }
}
