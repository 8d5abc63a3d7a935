//! Top lock-contention sites of a phase, from the `scheduler_lock_site` and
//! `shared_kernel_lock` counter lines (Linux lock_stat vocabulary).

use capos_measure::phase::Phase;
use capos_measure::report::Report;

/// Counter families read, with the field names they share.
pub const LOCK_FAMILIES: [&str; 2] = ["scheduler_lock_site", "shared_kernel_lock"];

/// One contention site: a scheduler-lock call-site class or a kernel lock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockSite {
    /// `scheduler_lock_site` or `shared_kernel_lock`.
    pub family: String,
    /// The `site=` or `lock=` label.
    pub site: String,
    pub acquisitions: u64,
    pub contended: u64,
    pub wait_cycles: u64,
    pub hold_cycles: u64,
}

/// Sites of `phase` that were taken at all, most wait cycles first (then
/// most contended, then name).
pub fn lock_sites(report: &Report, phase: Phase) -> Vec<LockSite> {
    let mut out: Vec<LockSite> = report
        .group_lines()
        .into_iter()
        .filter(|l| l.phase == phase && LOCK_FAMILIES.contains(&l.group.name))
        .filter_map(|l| {
            let get = |name: &str| l.values.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
            let site = LockSite {
                family: l.group.name.to_string(),
                site: l.dim.as_ref().map_or_else(|| "-".to_string(), |(_, label)| label.clone()),
                acquisitions: get("acquisitions"),
                contended: get("contended"),
                wait_cycles: get("wait_cycles"),
                hold_cycles: get("hold_cycles"),
            };
            (site.acquisitions > 0 || site.contended > 0 || site.wait_cycles > 0).then_some(site)
        })
        .collect();
    out.sort_by(|a, b| {
        (std::cmp::Reverse(a.wait_cycles), std::cmp::Reverse(a.contended), &a.family, &a.site).cmp(
            &(std::cmp::Reverse(b.wait_cycles), std::cmp::Reverse(b.contended), &b.family, &b.site),
        )
    });
    out
}
