//! The files of a comparison: `compare.txt` (the printed report),
//! `compare.csv` (every timed and measured line), `compare-counters.csv`
//! (every counter per phase), a differential flamegraph per measured case,
//! the speedup chart of both runs and `index.html`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use capos_flamegraphs::{Artifact, FoldSource, Folded, GateResult, GraphStyle, IndexInput, Table};

use super::stats::Verdict;
use super::{interval, measured, pct, Comparison, Line, Side};
use crate::bench::csv::write_record;
use crate::bench::results::Row;

fn csv(lines: &[&Line]) -> String {
    let mut s = write_record(
        &["case", "metric", "a", "b", "change", "ci_low", "ci_high", "verdict"].map(String::from),
    );
    for l in lines {
        let c = &l.change;
        let (lo, hi) = c.ci.map_or((String::new(), String::new()), |(lo, hi)| {
            (format!("{lo:.6}"), format!("{hi:.6}"))
        });
        let rel = if c.rel.is_nan() { String::new() } else { format!("{:.6}", c.rel) };
        s.push_str(&write_record(&[
            l.case.clone(),
            l.metric.clone(),
            format!("{}", c.a),
            format!("{}", c.b),
            rel,
            lo,
            hi,
            c.verdict.describe().into(),
        ]));
    }
    s
}

/// Writes compare.txt, compare.csv and compare-counters.csv into `out`.
pub fn write_files(out: &Path, cmp: &Comparison, text: &str) -> Result<()> {
    let lines: Vec<&Line> = cmp.timed.iter().chain(&cmp.measured).collect();
    let counters: Vec<&Line> = cmp.counters.iter().collect();
    for (name, body) in [
        ("compare.txt", text.to_string()),
        ("compare.csv", csv(&lines)),
        ("compare-counters.csv", csv(&counters)),
    ] {
        let p = out.join(name);
        std::fs::write(&p, body).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

/// A differential work-phase flamegraph per case measured on both sides,
/// from the runs' own `flamegraph-work.folded` (each symbolized against
/// its own build, so two commits compare by function name).
pub fn diff_graphs(out: &Path, a: &Side, b: &Side, cases: &[String]) -> Vec<Artifact> {
    let mut graphs = Vec::new();
    for case in cases {
        let read = |side: &Side| -> Option<Folded> {
            let p = side.dir.join(case).join("measure").join("flamegraph-work.folded");
            let text = std::fs::read_to_string(p).ok()?;
            Some(Folded::from_text(&text, FoldSource::Stacks).0)
        };
        let (Some(fa), Some(fb)) = (read(a), read(b)) else {
            eprintln!("harness: compare: {case}: no flamegraph-work.folded on both sides");
            continue;
        };
        let drawn = capos_flamegraphs::differential_folded(&fa, &fb).and_then(|text| {
            let note = format!(
                "{case}, work phase: A {} -> B {} ({} -> {} samples); A normalised to B; red \
                 grew, blue shrank",
                a.name, b.name, fa.total, fb.total
            );
            let title = format!("{case}: work phase, A vs B");
            let style = GraphStyle::new(title, "samples").with_subtitle(note.clone());
            capos_flamegraphs::write_graph(out, &format!("diff-{case}"), &style, &text, &note)
        });
        match drawn {
            Ok(g) => graphs.push(Artifact::new(
                format!("{case}: work phase, A -> B (differential)"),
                g.svg.strip_prefix(out).unwrap_or(&g.svg).to_path_buf(),
            )),
            Err(e) => eprintln!("harness: compare: {case}: differential flamegraph: {e}"),
        }
    }
    graphs
}

fn lines_table(caption: &str, lines: &[Line]) -> Option<Table> {
    if lines.is_empty() {
        return None;
    }
    let mut md = String::from("| case | metric | A | B | change | 95% interval | verdict |\n|---|---|---|---|---|---|---|");
    for l in lines {
        md.push_str(&format!("\n| {} |", super::cells(l).join(" | ")));
    }
    Table::from_markdown(caption, &md)
}

/// Both runs' median work speedups on one chart (series prefixed `A:`/`B:`).
fn speedup_chart(out: &Path, rows_a: &[Row], rows_b: &[Row]) -> Option<Artifact> {
    use crate::bench::guest_measure::speedup_series;
    let mut series = speedup_series(rows_a, "A: ");
    series.extend(speedup_series(rows_b, "B: "));
    if series.is_empty() {
        return None;
    }
    let title = "Median work speedup against workers, A and B";
    let name = crate::bench::guest_measure::SPEEDUP_CHART;
    match capos_flamegraphs::write_speedup(&out.join(name), title, &series) {
        Ok(()) => Some(Artifact::new(title, name)),
        Err(e) => {
            eprintln!("harness: compare: speedup chart: {e}");
            None
        }
    }
}

/// Writes `index.html` of the comparison; returns its path.
#[allow(clippy::too_many_arguments)]
pub fn write_index(
    out: &Path,
    cmp: &Comparison,
    a: &Side,
    b: &Side,
    noise_pct: f64,
    diffs: Vec<Artifact>,
    rows_a: &[Row],
    rows_b: &[Row],
) -> Result<PathBuf> {
    let mut graphs: Vec<Artifact> = speedup_chart(out, rows_a, rows_b).into_iter().collect();
    graphs.extend(diffs);
    let mut notes = vec![
        format!("A: {}", a.dir.display()),
        format!("B: {}", b.dir.display()),
        format!(
            "change = median(B) / median(A) - 1; 95% interval by the percentile bootstrap over the \
             runs ({} resamples); a verdict needs the interval to exclude 0 and |change| > \
             {noise_pct}%, and at least {} runs a side",
            super::stats::RESAMPLES,
            super::stats::MIN_RUNS
        ),
        "the measure pass is one run a side: its changes are shown, not judged".into(),
    ];
    notes.extend(cmp.notes.iter().cloned());
    let gates = cmp
        .timed
        .iter()
        .filter(|l| matches!(l.change.verdict, Verdict::Better | Verdict::Worse))
        .map(|l| GateResult {
            name: format!("{} {}", l.case, l.metric),
            status: if l.change.verdict == Verdict::Worse { "fail" } else { "pass" }.into(),
            detail: format!(
                "{}: {} {}",
                l.change.verdict.describe(),
                pct(l.change.rel),
                interval(&l.change)
            ),
        })
        .collect();
    let top = measured::top_counter_changes(&cmp.counters, 15);
    let tables = [
        lines_table("Timed runs: change from A to B (results.csv)", &cmp.timed),
        lines_table("Measure pass: change from A to B (one run a side)", &cmp.measured),
        lines_table("Counters that moved most (work phase; all in compare-counters.csv)", &top),
    ]
    .into_iter()
    .flatten()
    .collect();
    let files = ["compare.txt", "compare.csv", "compare-counters.csv"]
        .into_iter()
        .map(|f| Artifact::new(f, f))
        .collect();
    let input = IndexInput {
        title: format!("capOS compare: {} -> {}", a.name, b.name),
        notes,
        tables,
        gates,
        lock_sites: Vec::new(),
        lock_pairs: Vec::new(),
        graphs,
        files,
        preformatted: Vec::new(),
        thread_views: Vec::new(),
    };
    let outcome = capos_flamegraphs::write_index(&input, out).context("writing index.html")?;
    Ok(outcome.path)
}
