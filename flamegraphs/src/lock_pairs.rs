//! "Contended with": the top waiter -> holder pairs of a phase, from the
//! `lock_pair` lines (see `capos_measure::lock_pairs`), and
//! `lock-pairs.txt`, one run's pairs for the work phase and the whole run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use capos_measure::lock_pairs::site_name;
use capos_measure::phase::Phase;
use capos_measure::report::Report;
use capos_measure::ContentionClass;

use crate::error::ProfileError;

/// Pairs the index page and `lock-pairs.txt` show per phase.
pub const TOP_PAIRS: usize = 10;

/// Contended acquisitions of one lock class by one waiting site while one
/// holder site held the lock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockPair {
    /// `scheduler_lock` or `shared_kernel_lock`.
    pub class: String,
    /// The waiting site (scheduler lock) or the lock (shared kernel lock).
    pub waiter: String,
    /// The site or lock that held it; `unknown` when the holder had gone.
    pub holder: String,
    pub count: u64,
    pub wait_cycles: u64,
    /// Of `count`, holders seen on another CPU.
    pub cross_cpu: u64,
}

/// Pairs of `phase`, most wait cycles first (then most waits, then names).
pub fn lock_pairs(report: &Report, phase: Phase) -> Vec<LockPair> {
    let mut out: Vec<LockPair> = report
        .lock_pairs
        .iter()
        .filter(|((p, _, _, _), _)| *p == phase)
        .map(|((_, class, waiter, holder), s)| LockPair {
            class: ContentionClass::from_id(*class)
                .map_or_else(|| class.to_string(), |c| c.name().to_string()),
            waiter: site_name(*class, *waiter),
            holder: site_name(*class, *holder),
            count: s.count,
            wait_cycles: s.wait_cycles,
            cross_cpu: s.cross_cpu,
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |p: &LockPair| {
            (
                std::cmp::Reverse(p.wait_cycles),
                std::cmp::Reverse(p.count),
                p.class.clone(),
                p.waiter.clone(),
                p.holder.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

/// The text of `lock-pairs.txt`: the top pairs of the work phase and of
/// the whole run, with each one's share of its phase's wait.
pub fn lock_pairs_text(report: &Report) -> String {
    let mut out = String::from(
        "# Contended with: who waited for a lock (waiter) while whom held it (holder).\n\
         # Scheduler locks name call sites; a shared kernel lock is its own site.\n\
         # holder=unknown: the holder had released before the waiter looked.\n",
    );
    for (title, phase) in [("work phase", Phase::Work), ("whole run", Phase::Aggregate)] {
        let pairs = lock_pairs(report, phase);
        let total: u64 = pairs.iter().map(|p| p.wait_cycles).sum();
        let _ = writeln!(out, "\n## {title}: {} pairs, {total} wait cycles", pairs.len());
        if pairs.is_empty() {
            let _ = writeln!(out, "(no contended acquisition)");
            continue;
        }
        let _ = writeln!(
            out,
            "{:<20} {:<20} {:<20} {:>8} {:>14} {:>7} {:>9}",
            "class", "waiter", "holder", "count", "wait_cycles", "share", "cross_cpu"
        );
        for p in pairs.iter().take(TOP_PAIRS) {
            let share = if total == 0 { 0.0 } else { 100.0 * p.wait_cycles as f64 / total as f64 };
            let _ = writeln!(
                out,
                "{:<20} {:<20} {:<20} {:>8} {:>14} {:>6.1}% {:>9}",
                p.class, p.waiter, p.holder, p.count, p.wait_cycles, share, p.cross_cpu
            );
        }
        if pairs.len() > TOP_PAIRS {
            let _ = writeln!(out, "({} more pairs not shown)", pairs.len() - TOP_PAIRS);
        }
    }
    out
}

/// Writes `lock-pairs.txt` into `dir`.
pub fn write_lock_pairs(report: &Report, dir: &Path) -> Result<PathBuf, ProfileError> {
    let path = dir.join("lock-pairs.txt");
    crate::error::write_file(&path, lock_pairs_text(report))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::catalogue::{SchedLockSite, SharedLock};
    use capos_measure::lock_pairs::{PairSums, UNKNOWN_HOLDER};

    fn report() -> Report {
        let mut r = Report::default();
        let s = |count, wait_cycles, cross_cpu| PairSums { count, wait_cycles, cross_cpu };
        let (wake, steal) = (SchedLockSite::WakeUnblock as u8, SchedLockSite::Steal as u8);
        r.add_lock_pair((Phase::Work, 0, wake, steal), s(4, 3_000, 4));
        r.add_lock_pair((Phase::Work, 0, wake, UNKNOWN_HOLDER), s(1, 1_000, 0));
        let heap = SharedLock::Heap as u8;
        r.add_lock_pair((Phase::Aggregate, 1, heap, heap), s(2, 50, 2));
        r
    }

    #[test]
    fn pairs_sort_by_wait_and_name_their_sites() {
        let p = lock_pairs(&report(), Phase::Work);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].class.as_str(), p[0].waiter.as_str(), p[0].holder.as_str()),
            ("scheduler_lock", "wake_unblock", "steal")
        );
        assert_eq!((p[0].count, p[0].wait_cycles, p[0].cross_cpu), (4, 3_000, 4));
        assert_eq!(p[1].holder, "unknown");
        let all = lock_pairs(&report(), Phase::Aggregate);
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].waiter.as_str(), all[0].holder.as_str()), ("heap", "heap"));
    }

    #[test]
    fn the_text_gives_each_pairs_share() {
        let t = lock_pairs_text(&report());
        assert!(t.contains("## work phase: 2 pairs, 4000 wait cycles"), "{t}");
        let line = t.lines().find(|l| l.contains("steal")).unwrap();
        assert!(line.contains(" 75.0%"), "{line}");
        assert!(t.contains("## whole run: 1 pairs, 50 wait cycles"), "{t}");
        let empty = lock_pairs_text(&Report::default());
        assert_eq!(empty.matches("(no contended acquisition)").count(), 2, "{empty}");
    }
}
