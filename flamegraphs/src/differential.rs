//! Differential flamegraph: how the profile of one case (N workers) differs
//! from another (1 worker), using inferno's differential folding.
//!
//! The `.folded` file beside the SVG has two counts per stack, before and
//! after; the graph has the shape of the "after" profile, coloured red where
//! a stack grew and blue where it shrank. The "before" counts are normalised
//! to the "after" total, so the colours show shifts in where time goes, not
//! the difference in sample totals.

use std::path::Path;

use capos_measure::report::Report;
use capos_symbolize::{Binaries, ElfPaths, Resolver};
use inferno::differential;

use crate::error::ProfileError;
use crate::folded::{fold_samples, Folded};
use crate::graph::{write_graph, GraphFiles, GraphStyle};
use crate::stacks::Scope;

/// The two-count folded text of `before` -> `after` (normalised).
pub fn differential_folded(before: &Folded, after: &Folded) -> Result<String, ProfileError> {
    let (before, _) = before.scaled_for_drawing();
    let (after, _) = after.scaled_for_drawing();
    let opt = differential::Options { normalize: true, strip_hex: false };
    let mut out = Vec::new();
    differential::from_readers(
        opt,
        before.to_text().as_bytes(),
        after.to_text().as_bytes(),
        &mut out,
    )
    .map_err(ProfileError::Differential)?;
    // inferno writes stacks in hash order; sort for stable files.
    let text = String::from_utf8_lossy(&out);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut sorted = lines.join("\n");
    if !sorted.is_empty() {
        sorted.push('\n');
    }
    Ok(sorted)
}

/// Writes `dir/stem.folded` + `dir/stem.svg` comparing `scope` of `before`
/// (e.g. the 1-worker case) with `after` (the N-worker case); both runs are
/// resolved against `elfs` (the cases of one benchmark share their build).
pub fn write_differential(
    before: &Report,
    after: &Report,
    elfs: &ElfPaths,
    scope: Scope,
    labels: (&str, &str),
    dir: &Path,
    stem: &str,
) -> Result<GraphFiles, ProfileError> {
    let fold = |report: &Report| {
        let bins = Binaries::load(elfs, report.load_maps.iter().map(|m| m.binary.as_str()));
        let resolver = Resolver::new(&bins, &report.load_maps);
        fold_samples(report, &resolver, scope)
    };
    let (b, a) = (fold(before), fold(after));
    let text = differential_folded(&b, &a)?;
    let note = format!(
        "{} vs {}: {} -> {} samples, before normalised to after; red grew, blue shrank; {}: {}; {}: {}",
        labels.0,
        labels.1,
        b.total,
        a.total,
        labels.0,
        before.limits(scope.phase()).summary(),
        labels.1,
        after.limits(scope.phase()).summary()
    );
    let style = GraphStyle::new(
        format!("capOS {} phase: {} vs {}", scope.name(), labels.0, labels.1),
        "samples",
    )
    .with_subtitle(note.clone());
    write_graph(dir, stem, &style, &text, &note)
}
