//! Samples -> folded stacks (`root;...;leaf count`), the input of every
//! flamegraph.
//!
//! Stacks are leaf first in the report; frame 0 is the sampled PC, later
//! frames are return addresses (looked up at `addr - 1`). Each address
//! expands to its inlined frames, outermost first. Names follow
//! [`capos_symbolize::Location::frame_names`]: kernel frames end in `_[k]`,
//! user frames read `binary`function`, and addresses no ELF covers are
//! `<unmapped>`. A view with no stack samples falls back to PC samples as
//! one-frame stacks ([`FoldSource::PcSamples`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use capos_measure::report::Report;
use capos_symbolize::Resolver;

use capos_measure::record::SampleTag;

use crate::stacks::{pc_counts_where, stack_counts_where, Scope};

/// Where a folded view's samples came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoldSource {
    /// Frame-pointer stack samples.
    Stacks,
    /// No stacks in scope: PC samples as one-frame stacks.
    PcSamples,
    /// Lock-contention stacks weighted by wait cycles.
    ContentionStacks,
    /// No contention stacks: lock sites from counters, weighted by wait cycles.
    LockCounters,
    /// Off-CPU stacks weighted by blocked cycles.
    OffCpuStacks,
    /// Nothing to draw.
    Empty,
}

impl FoldSource {
    /// One line for a graph's subtitle or a report.
    pub fn describe(self) -> &'static str {
        match self {
            FoldSource::Stacks => "frame-pointer stack samples",
            FoldSource::PcSamples => "no stack samples in scope; PC samples as one-frame stacks",
            FoldSource::ContentionStacks => "stacks at contended acquisitions, weighted by wait cycles",
            FoldSource::LockCounters => {
                "no contention stacks in the report; lock sites from counters, weighted by wait cycles"
            }
            FoldSource::OffCpuStacks => {
                "kernel stacks where threads blocked, weighted by blocked cycles, under their reason"
            }
            FoldSource::Empty => "no samples in scope",
        }
    }
}

/// Folded stacks: `root;...;leaf` -> weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folded {
    pub stacks: BTreeMap<String, u64>,
    /// Sum of the weights.
    pub total: u64,
    pub source: FoldSource,
}

impl Folded {
    pub fn new(source: FoldSource) -> Self {
        Folded { stacks: BTreeMap::new(), total: 0, source }
    }

    /// Folded stacks read back from their text (`root;...;leaf weight` per
    /// line, as [`Folded::to_text`] writes them); lines without a weight
    /// are skipped and counted in the second value.
    pub fn from_text(text: &str, source: FoldSource) -> (Folded, usize) {
        let mut f = Folded::new(source);
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match line.rsplit_once(' ').map(|(s, w)| (s, w.parse::<u64>())) {
                Some((stack, Ok(w))) => {
                    let frames: Vec<String> = stack.split(';').map(str::to_string).collect();
                    f.add(&frames, w);
                }
                _ => skipped += 1,
            }
        }
        (f, skipped)
    }

    /// Adds `weight` to the stack `frames` (root first).
    pub fn add(&mut self, frames: &[String], weight: u64) {
        if weight == 0 {
            return;
        }
        let key = if frames.is_empty() { "<empty stack>".to_string() } else { frames.join(";") };
        let slot = self.stacks.entry(key).or_default();
        *slot = slot.saturating_add(weight);
        self.total = self.total.saturating_add(weight);
    }

    /// This view with every weight shifted right until the total is at most
    /// [`crate::graph::MAX_TOTAL`], and the shift used (0: unchanged).
    /// Stacks that shrink to 0 are dropped.
    pub fn scaled_for_drawing(&self) -> (Folded, u32) {
        let mut shift = 0u32;
        while shift < 64 && (self.total >> shift) > crate::graph::MAX_TOTAL {
            shift += 1;
        }
        if shift == 0 {
            return (self.clone(), 0);
        }
        let mut out = Folded::new(self.source);
        for (stack, n) in &self.stacks {
            let n = n >> shift;
            if n > 0 {
                out.stacks.insert(stack.clone(), n);
                out.total = out.total.saturating_add(n);
            }
        }
        (out, shift)
    }

    /// The `.folded` text: one `stack count` line per stack, sorted.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (stack, n) in &self.stacks {
            let _ = writeln!(out, "{stack} {n}");
        }
        out
    }
}

/// Caches frame names per (process, is return address, address).
pub(crate) struct Namer<'r, 'b> {
    resolver: &'r Resolver<'b>,
    cache: HashMap<(Option<u64>, bool, u64), Vec<String>>,
}

impl<'r, 'b> Namer<'r, 'b> {
    pub(crate) fn new(resolver: &'r Resolver<'b>) -> Self {
        Namer { resolver, cache: HashMap::new() }
    }

    /// Root-first frame names of a leaf-first stack, by address alone.
    pub(crate) fn stack(&mut self, leaf_first: &[u64]) -> Vec<String> {
        self.stack_in(None, leaf_first)
    }

    /// The names of frame `index` (0: the leaf) of a stack sampled in
    /// process `pid`, at `addr`: one per function inlined there, root
    /// first.
    pub(crate) fn frame(&mut self, pid: Option<u64>, index: usize, addr: u64) -> Vec<String> {
        let resolver = self.resolver;
        let pid = pid.filter(|p| resolver.knows_pid(*p));
        self.cache
            .entry((pid, index > 0, addr))
            .or_insert_with(|| match pid {
                Some(pid) => resolver.locate_frame_in(pid, index, addr).frame_names(),
                None => resolver.locate_frame(index, addr).frame_names(),
            })
            .clone()
    }

    /// Root-first frame names of a leaf-first stack sampled in process
    /// `pid`: its user frames resolve in that process's binary when it has
    /// a load map (see `Resolver::locate_frame_in`).
    pub(crate) fn stack_in(&mut self, pid: Option<u64>, leaf_first: &[u64]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, addr) in leaf_first.iter().enumerate().rev() {
            out.extend(self.frame(pid, i, *addr));
        }
        out
    }
}

/// Folds the samples of `scope`: stacks when there are any, else PCs.
pub fn fold_samples(report: &Report, resolver: &Resolver<'_>, scope: Scope) -> Folded {
    fold_samples_where(report, resolver, scope, |_| true)
}

/// [`fold_samples`] of the samples whose tag passes `keep` (one process,
/// one thread).
pub fn fold_samples_where(
    report: &Report,
    resolver: &Resolver<'_>,
    scope: Scope,
    keep: impl Fn(&SampleTag) -> bool,
) -> Folded {
    let mut namer = Namer::new(resolver);
    let stacks = stack_counts_where(report, scope, &keep);
    if !stacks.is_empty() {
        let mut folded = Folded::new(FoldSource::Stacks);
        for ((_, pid, frames), n) in &stacks {
            folded.add(&namer.stack_in(Some(u64::from(*pid)), frames), *n);
        }
        return folded;
    }
    let pcs = pc_counts_where(report, scope, &keep);
    let mut folded =
        Folded::new(if pcs.is_empty() { FoldSource::Empty } else { FoldSource::PcSamples });
    for ((_, pid, pc), n) in &pcs {
        folded.add(&namer.stack_in(Some(u64::from(*pid)), &[*pc]), *n);
    }
    folded
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn folded_text_reads_back() {
        let mut f = Folded::new(FoldSource::ContentionStacks);
        f.add(&["a".into(), "b c".into()], 5);
        f.add(&["a".into()], 2);
        let (back, skipped) =
            Folded::from_text(&(f.to_text() + "garbage\n\n"), FoldSource::ContentionStacks);
        assert_eq!((back, skipped), (f, 1));
    }
}
