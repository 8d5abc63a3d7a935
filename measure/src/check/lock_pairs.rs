//! Waiter/holder pairs add up to the lock counters.
//!
//! Every contended acquisition of a measured lock records exactly one pair
//! in the phase it ended in, beside its `contended` and `wait_cycles`
//! counters, so per lock family (and, for the scheduler locks, per waiting
//! site) the pairs' counts and waits sum to those counters, within the same
//! straddle tolerance as the contention-stack identities (one acquisition
//! per CPU per snapshot boundary may land on either side). A pair's
//! `cross_cpu` counts the waits whose holder was seen on another CPU, which
//! is every wait with a known holder: a spin lock cannot be held by the CPU
//! spinning on it, and a release clears the holder before it unlocks.
//!
//! Handoffs are a subset of acquisitions: `handoffs <= acquisitions` per
//! family (`handoff_bound`), within the straddle allowance.

use std::collections::BTreeMap;

use super::identities::{lock_families, Ctx};
use super::Row;
use crate::catalogue::{scheduler_lock as sl, scheduler_lock_site as site, SchedLockSite};
use crate::lock_pairs::{PairSums, UNKNOWN_HOLDER};
use crate::phase::Phase;
use crate::record::ContentionClass;

impl Ctx<'_> {
    /// `handoffs <= acquisitions` for every lock family that was taken.
    pub(super) fn handoff_bound(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        for f in lock_families() {
            let acq = self.r.counter(phase, f.acquisitions);
            let handoffs = self.r.counter(phase, f.handoffs);
            if acq + handoffs == 0 {
                continue;
            }
            let subject = format!("{} handoffs <= acquisitions", f.name);
            // Anything from 0 up to the acquisitions (+ the allowance).
            rows.push(Row::new("handoff_bound", Some(phase), subject, acq, handoffs, (acq, t)));
        }
    }

    pub(super) fn lock_pairs(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        if self.r.lock_pairs.is_empty() {
            let contended = lock_families().iter().any(|f| self.r.counter(phase, f.contended) != 0);
            if contended {
                let why = "no lock_pair lines (a log from before waiter/holder pairs)".to_string();
                rows.push(Row::skip("pair_count", Some(phase), "lock_pair", why));
            }
            return;
        }
        // (class, waiter) -> sums, and the sums of pairs with a known holder.
        let mut by: BTreeMap<(u8, u8), PairSums> = BTreeMap::new();
        let mut known = PairSums::default();
        let mut all = PairSums::default();
        for ((p, class, waiter, holder), sums) in &self.r.lock_pairs {
            if *p == phase {
                by.entry((*class, *waiter)).or_default().add(sums);
                all.add(sums);
                if *holder != UNKNOWN_HOLDER {
                    known.add(sums);
                }
            }
        }
        if all.count != 0 {
            rows.push(Row::new(
                "pair_cross_cpu",
                Some(phase),
                "lock_pair cross_cpu = count with a known holder",
                known.count,
                all.cross_cpu,
                (0, 0),
            ));
        }
        for f in lock_families() {
            let mut sum = PairSums::default();
            for l in &f.locks {
                if let Some(s) = by.get(&(f.class as u8, *l)) {
                    sum.add(s);
                }
            }
            let contended = self.r.counter(phase, f.contended);
            let wait = self.r.counter(phase, f.wait_cycles);
            if sum.count + sum.wait_cycles + contended + wait == 0 {
                continue;
            }
            let unit = self.r.counter(Phase::Aggregate, f.wait_max);
            rows.push(Row::new(
                "pair_count",
                Some(phase),
                format!("{} contended", f.name),
                contended,
                sum.count,
                (t, t),
            ));
            rows.push(Row::new(
                "pair_wait",
                Some(phase),
                format!("{} wait_cycles", f.name),
                wait,
                sum.wait_cycles,
                (t * unit, t * unit),
            ));
        }
        let unit = self.r.counter(Phase::Aggregate, sl::wait_max);
        for s in SchedLockSite::ALL.iter().copied() {
            let pairs = by.get(&(ContentionClass::SchedulerLock as u8, s as u8));
            let (n, w) = pairs.map_or((0, 0), |p| (p.count, p.wait_cycles));
            let contended = self.r.counter(phase, site::contended.at(s));
            if n + contended == 0 {
                continue;
            }
            let subject = format!("scheduler_lock_site site={} contended", s.label());
            rows.push(Row::new("pair_site_count", Some(phase), subject, contended, n, (t, t)));
            let wait = self.r.counter(phase, site::wait_cycles.at(s));
            let subject = format!("scheduler_lock_site site={} wait_cycles", s.label());
            rows.push(Row::new(
                "pair_site_wait",
                Some(phase),
                subject,
                wait,
                w,
                (t * unit, t * unit),
            ));
        }
    }
}
