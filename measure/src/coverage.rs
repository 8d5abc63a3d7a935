//! Field coverage: which catalogue fields a set of reports raised.
//!
//! A field is *raised* by a report when it is non-zero in any phase. Every
//! field of [`GROUPS`] is listed: one entry per field for undimensioned
//! groups, per field and named dimension entry (`site=blocking`) for named
//! dimensions, and one entry per field for CPU-slot dimensions (`cpu=*`:
//! raised on any CPU, since a run uses only some of the slots). Each
//! histogram is an entry too (`scheduler_lock_hist.wait`), raised when any
//! bucket is non-zero.

use std::fmt::Write as _;

use crate::catalogue::GROUPS;
use crate::declare::{Counter, DimLabels, Hist};
use crate::report::Report;

/// One catalogue field (or histogram) and, per report, whether it was raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `group.field`, with ` key=label` for named dimensions or ` cpu=*`.
    pub name: String,
    pub raised: Vec<bool>,
}

impl Entry {
    pub fn raised_anywhere(&self) -> bool {
        self.raised.iter().any(|r| *r)
    }
}

/// The coverage matrix of some reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub entries: Vec<Entry>,
}

/// What an entry looks at in a report.
enum Probe {
    Counters(Vec<Counter>),
    Hists(Vec<Hist>),
}

impl Probe {
    fn raised(&self, r: &Report) -> bool {
        match self {
            Probe::Counters(cs) => r.counters.iter().any(|((_, c), v)| *v != 0 && cs.contains(c)),
            Probe::Hists(hs) => {
                r.hists.iter().any(|((_, h), b)| b.values().any(|n| *n != 0) && hs.contains(h))
            }
        }
    }
}

/// Every entry of the catalogue, in declaration order.
fn catalogue_entries() -> Vec<(String, Probe)> {
    let mut out = Vec::new();
    for (g, group) in GROUPS.iter().enumerate() {
        let g = g as u8;
        // (label suffix, dimension entries it covers)
        let dims: Vec<(String, Vec<usize>)> = match group.dim.labels {
            DimLabels::None => vec![(String::new(), vec![0])],
            DimLabels::Named(names) => names
                .iter()
                .enumerate()
                .map(|(i, n)| (format!(" {}={n}", group.dim.key), vec![i]))
                .collect(),
            DimLabels::Cpu(n) => vec![(format!(" {}=*", group.dim.key), (0..n).collect())],
        };
        for (f, field) in group.fields.iter().enumerate() {
            for (suffix, entries) in &dims {
                let cs = entries.iter().filter_map(|d| Counter::from_ids(g, *d, f as u8)).collect();
                out.push((format!("{}.{}{suffix}", group.name, field.name), Probe::Counters(cs)));
            }
        }
        for (h, hist) in group.hists.iter().enumerate() {
            for (suffix, entries) in &dims {
                let hs = entries.iter().filter_map(|d| Hist::from_ids(g, *d, h as u8)).collect();
                out.push((format!("{}_hist.{}{suffix}", group.name, hist.name), Probe::Hists(hs)));
            }
        }
    }
    out
}

impl Coverage {
    /// The matrix of `reports` (columns in the given order).
    pub fn of(reports: &[Report]) -> Coverage {
        let entries = catalogue_entries()
            .into_iter()
            .map(|(name, probe)| Entry {
                name,
                raised: reports.iter().map(|r| probe.raised(r)).collect(),
            })
            .collect();
        Coverage { entries }
    }

    /// Entries no report raised.
    pub fn never_raised(&self) -> Vec<&str> {
        self.entries.iter().filter(|e| !e.raised_anywhere()).map(|e| e.name.as_str()).collect()
    }

    /// The matrix as text: a legend of the columns, one line per entry with
    /// `x` (raised) or `.` per report, then the entries no report raised.
    pub fn to_text(&self, labels: &[String]) -> String {
        let mut s = String::new();
        for (i, l) in labels.iter().enumerate() {
            let _ = writeln!(s, "column {}: {l}", i + 1);
        }
        let width = self.entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
        let head: String = (1..=labels.len()).map(|i| format!(" {:>2}", i % 100)).collect();
        let _ = writeln!(s, "{:<width$}{head}", "field");
        for e in &self.entries {
            let cells: String = e.raised.iter().map(|r| if *r { "  x" } else { "  ." }).collect();
            let _ = writeln!(s, "{:<width$}{cells}", e.name);
        }
        let missing = self.never_raised();
        let _ = writeln!(
            s,
            "coverage: {} of {} fields raised; never raised: {}",
            self.entries.len() - missing.len(),
            self.entries.len(),
            missing.len()
        );
        for m in missing {
            let _ = writeln!(s, "never raised: {m}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{scheduler_lock, scheduler_lock_site, thread_placement, SchedLockSite};
    use crate::phase::Phase;

    #[test]
    fn every_catalogue_field_and_named_entry_is_listed_once() {
        let c = Coverage::of(&[]);
        let names: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "duplicate entry");
        for g in GROUPS {
            let per_field = match g.dim.labels {
                DimLabels::Named(n) => n.len(),
                _ => 1,
            };
            let expect = (g.fields.len() + g.hists.len()) * per_field;
            let got = names
                .iter()
                .filter(|n| {
                    n.strip_prefix(g.name)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("_hist."))
                })
                .count();
            assert_eq!(got, expect, "group {}", g.name);
        }
        assert!(names.contains(&"scheduler_lock_site.acquisitions site=blocking"));
        assert!(names.contains(&"thread_placement.migrations cpu=*"));
        assert!(names.contains(&"scheduler_lock_hist.wait"));
        // With no report nothing is raised.
        assert_eq!(c.never_raised().len(), names.len());
    }

    #[test]
    fn raised_means_non_zero_in_some_phase_of_some_report() {
        let mut a = Report::default();
        a.set_counter(Phase::Work, scheduler_lock::acquisitions.into(), 3);
        a.set_bucket(Phase::Boot, scheduler_lock::hold.into(), 4, 1);
        let mut b = Report::default();
        b.set_counter(
            Phase::Aggregate,
            scheduler_lock_site::contended.at(SchedLockSite::Blocking),
            1,
        );
        b.set_counter(Phase::Work, thread_placement::selected.at(3), 2);
        let c = Coverage::of(&[a, b]);
        let row = |n: &str| {
            c.entries.iter().find(|e| e.name == n).map(|e| e.raised.clone()).unwrap_or_default()
        };
        assert_eq!(row("scheduler_lock.acquisitions"), [true, false]);
        assert_eq!(row("scheduler_lock_hist.hold"), [true, false]);
        assert_eq!(row("scheduler_lock_hist.wait"), [false, false]);
        assert_eq!(row("scheduler_lock_site.contended site=blocking"), [false, true]);
        assert_eq!(row("scheduler_lock_site.contended site=steal"), [false, false]);
        assert_eq!(row("thread_placement.selected cpu=*"), [false, true]);
        let missing = c.never_raised();
        assert!(!missing.contains(&"scheduler_lock.acquisitions"));
        assert!(missing.contains(&"scheduler_lock.contended"));
        let text = c.to_text(&["a".into(), "b".into()]);
        assert!(text.contains("column 2: b"), "{text}");
        assert!(text.contains("never raised: scheduler_lock.contended\n"), "{text}");
        let line = text.lines().find(|l| l.starts_with("scheduler_lock.acquisitions ")).unwrap();
        assert!(line.ends_with("  x  ."), "{line}");
    }
}
