//! "Contended with" checks shared by `fid-lock` and `fid-sched`: the top
//! waiter -> holder pair names the planted holder, and at SMP 2 every
//! contended acquisition is a handoff.
//!
//! Why the handoff bound is exact: a waiter spins only while another CPU
//! holds the lock, and with two CPUs that is the other one; the holder
//! marks itself the last releaser before it unlocks, so the waiter's
//! acquisition finds the lock last released on the other CPU. Hence, per
//! lock and over the whole run (`aggregate`, the frozen final snapshot, no
//! phase boundary to straddle), `handoffs >= contended`. (An acquisition
//! without statistics, `try_lock_for_spins`, leaves the releaser unchanged;
//! no planted path takes one.) And `handoffs <= acquisitions` always.

use capos_flamegraphs::{lock_pairs, LockPair};
use capos_measure::catalogue::{scheduler_lock as sl, shared_kernel_lock as sk, SharedLock};
use capos_measure::{Counter, Phase};

use super::table::Row;
use super::Run;

/// The pair with the most contended acquisitions in `phase` (ties: most
/// wait), among pairs of `class`.
pub fn top_by_count(run: &Run, phase: Phase, class: &str) -> Option<LockPair> {
    lock_pairs(&run.report, phase)
        .into_iter()
        .filter(|p| p.class == class)
        .max_by_key(|p| (p.count, p.wait_cycles))
}

/// `handoffs >= contended` and `handoffs <= acquisitions` over the run for
/// the scheduler locks and the shared lock `lock`.
pub fn handoff_rows(run: &Run, workload: &str, lock: SharedLock) -> Vec<Row> {
    let all = |c: Counter| run.report.counter(Phase::Aggregate, c);
    let families: [(String, Counter, Counter, Counter); 2] = [
        (
            "scheduler_lock".into(),
            sl::handoffs.into(),
            sl::contended.into(),
            sl::acquisitions.into(),
        ),
        (
            format!("shared_kernel_lock lock={}", lock.label()),
            sk::handoffs.at(lock),
            sk::contended.at(lock),
            sk::acquisitions.at(lock),
        ),
    ];
    let mut rows = Vec::new();
    for (what, handoffs, contended, acquisitions) in families {
        let h = all(handoffs);
        rows.push(Row::at_least(
            workload,
            format!("aggregate {what} handoffs vs contended (SMP 2)"),
            all(contended),
            h,
        ));
        rows.push(Row::name(
            workload,
            format!("aggregate {what} handoffs <= acquisitions"),
            format!("<= {}", all(acquisitions)),
            h.to_string(),
            h <= all(acquisitions),
        ));
    }
    rows
}

/// The pair's text for a row: `waiter <- holder`.
pub fn pair_text(p: &LockPair) -> String {
    format!("{} <- {}", p.waiter, p.holder)
}
