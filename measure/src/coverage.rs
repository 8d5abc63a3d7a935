//! Field coverage: which catalogue fields a set of reports raised.
//!
//! A field is *raised* by a report when it is non-zero in any phase. Every
//! field of [`GROUPS`] is listed, and for dimensioned groups every label:
//!
//! * one entry per field: `group.field`, and for a dimensioned group
//!   `group.field key=*`, raised when any dimension entry raised it (a
//!   probe that can move the field exists and ran);
//! * for named dimensions one entry per label, `group key=label`, raised
//!   when any field of that entry is non-zero (the label names a path that
//!   really runs: a lock class that was taken, a site that took its lock);
//! * one entry per histogram, `group_hist.name` (any entry, any bucket).
//!
//! So a field nobody raises, or a label nothing ever counts under (the
//! seed's `generic` site was one), shows as never raised; contention on every
//! single lock class is not demanded (a lock such as the exit watcher's is
//! taken a handful of times per run and cannot be made to contend on cue).

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
        let count = group.dim.count();
        let suffix = match group.dim.labels {
            DimLabels::None => String::new(),
            DimLabels::Named(_) | DimLabels::Cpu(_) => format!(" {}=*", group.dim.key),
        };
        for (f, field) in group.fields.iter().enumerate() {
            let cs = (0..count).filter_map(|d| Counter::from_ids(g, d, f as u8)).collect();
            out.push((format!("{}.{}{suffix}", group.name, field.name), Probe::Counters(cs)));
        }
        if let DimLabels::Named(names) = group.dim.labels {
            for (d, label) in names.iter().enumerate() {
                let cs = (0..group.fields.len())
                    .filter_map(|f| Counter::from_ids(g, d, f as u8))
                    .collect();
                out.push((
                    format!("{} {}={label}", group.name, group.dim.key),
                    Probe::Counters(cs),
                ));
            }
        }
        for (h, hist) in group.hists.iter().enumerate() {
            let hs = (0..count).filter_map(|d| Hist::from_ids(g, d, h as u8)).collect();
            out.push((format!("{}_hist.{}", group.name, hist.name), Probe::Hists(hs)));
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
            let labels = match g.dim.labels {
                DimLabels::Named(n) => n.len(),
                _ => 0,
            };
            let expect = g.fields.len() + g.hists.len() + labels;
            let got = names
                .iter()
                .filter(|n| {
                    n.strip_prefix(g.name).is_some_and(|rest| {
                        rest.starts_with('.') || rest.starts_with("_hist.") || rest.starts_with(' ')
                    })
                })
                .count();
            assert_eq!(got, expect, "group {}", g.name);
        }
        assert!(names.contains(&"scheduler_lock_site.acquisitions site=*"));
        assert!(names.contains(&"scheduler_lock_site site=blocking"));
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
        assert_eq!(row("scheduler_lock_site.contended site=*"), [false, true]);
        assert_eq!(row("scheduler_lock_site site=blocking"), [false, true]);
        assert_eq!(row("scheduler_lock_site site=steal"), [false, false]);
        assert_eq!(row("scheduler_lock_site.acquisitions site=*"), [false, false]);
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
