//! The timed metrics of two results.csv files: per case `work` and `total`
//! (guest cycles, lower is better), per system and worker count the `work`
//! and `total` speedups over the 1-worker case (higher is better).

use std::collections::{BTreeMap, BTreeSet};

use super::stats::{self, Better, Change, Verdict};
use super::{Comparison, Line};
use crate::bench::results::Row;

/// (benchmark, os, accel, sched_policy): one system's runs.
type System = (String, String, String, String);

/// Verified runs by system, then workers, then their (case, work, total).
type Runs = BTreeMap<System, BTreeMap<u32, (String, Vec<f64>, Vec<f64>)>>;

/// Verified, undisturbed runs (a run the disturbance check flagged, after
/// its retries, measured the host as much as the change; the gates leave
/// them out too).
fn group(rows: &[Row]) -> Runs {
    let mut out: Runs = BTreeMap::new();
    for r in rows.iter().filter(|r| r.verified && !r.disturbed) {
        let sys = (r.benchmark.clone(), r.os.clone(), r.accel.clone(), r.sched_policy.clone());
        let e = out
            .entry(sys)
            .or_default()
            .entry(r.workers)
            .or_insert_with(|| (r.case.clone(), Vec::new(), Vec::new()));
        e.1.push(r.work as f64);
        if let Some(t) = r.total {
            e.2.push(t as f64);
        }
    }
    out
}

/// What a run computed, as its row says (blocks and rounds, the prime
/// range, calls per client): two runs of different work do not compare.
fn workload(r: &Row) -> String {
    let mut w = Vec::new();
    if let Some(b) = r.blocks {
        w.push(format!("blocks={b}"));
    }
    if let Some(k) = r.work_rounds {
        w.push(format!("work_rounds={k}"));
    }
    if !r.range.is_empty() {
        w.push(format!("range={}", r.range));
    }
    if let Some(c) = r.calls {
        w.push(format!("calls={c}"));
    }
    w.join(" ")
}

/// The workloads of each (system, workers), over the runs [`group`] keeps.
fn workloads(rows: &[Row]) -> BTreeMap<(System, u32), BTreeSet<String>> {
    let mut out: BTreeMap<(System, u32), BTreeSet<String>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.verified && !r.disturbed) {
        let sys = (r.benchmark.clone(), r.os.clone(), r.accel.clone(), r.sched_policy.clone());
        out.entry((sys, r.workers)).or_default().insert(workload(r));
    }
    out
}

fn label(sys: &System, case: &str) -> String {
    let (bench, os, accel, policy) = sys;
    let policy = if policy.is_empty() { String::new() } else { format!(" {policy}") };
    format!("{bench} {os} {accel}{policy} {case}")
}

/// The timed lines of A -> B; cases only one side ran go to `notes`.
pub fn compare(a: &[Row], b: &[Row], noise: f64) -> Comparison {
    let (ga, gb) = (group(a), group(b));
    let (wa, wb) = (workloads(a), workloads(b));
    let mut cmp = Comparison::default();
    for (side, rows) in [("A", a), ("B", b)] {
        let left: Vec<String> = (rows.iter())
            .filter(|r| r.verified && r.disturbed)
            .map(|r| format!("{} {} run {}", r.os, r.case, r.run))
            .collect();
        if !left.is_empty() {
            cmp.notes.push(format!(
                "{side}: {} disturbed runs left out ({})",
                left.len(),
                left.join(", ")
            ));
        }
    }
    for (sys, cases_a) in &ga {
        let Some(cases_b) = gb.get(sys) else {
            cmp.notes.push(format!("{}: only in A", label(sys, "*")));
            continue;
        };
        for (w, (case, work_a, total_a)) in cases_a {
            let Some((_, work_b, total_b)) = cases_b.get(w) else {
                cmp.notes.push(format!("{}: only in A", label(sys, case)));
                continue;
            };
            let name = label(sys, case);
            // Only runs of the same work are judged (the speedups need the
            // 1-worker case's to match as well).
            let same = |w: &u32| wa.get(&(sys.clone(), *w)) == wb.get(&(sys.clone(), *w));
            let (same_here, same_one) = (same(w), same(&1));
            if !same_here {
                let show = |m: &BTreeMap<(System, u32), BTreeSet<String>>| {
                    m.get(&(sys.clone(), *w))
                        .map(|s| s.iter().cloned().collect::<Vec<_>>().join(" | "))
                        .unwrap_or_default()
                };
                cmp.notes.push(format!(
                    "{name}: the runs computed different work (A: {}; B: {}): not judged",
                    show(&wa),
                    show(&wb)
                ));
            }
            let line = |metric: &str, change: Change, judged: bool| Line {
                case: name.clone(),
                metric: metric.into(),
                change: if judged {
                    change
                } else {
                    Change { verdict: Verdict::NotJudged, ..change }
                },
                gated: true,
            };
            cmp.timed.push(line(
                "work (cycles)",
                stats::median_change(work_a, work_b, noise, Better::Lower),
                same_here,
            ));
            // `total` only where every run of both sides has one.
            let all_total = total_a.len() == work_a.len() && total_b.len() == work_b.len();
            if all_total && !total_a.is_empty() {
                cmp.timed.push(line(
                    "total (cycles)",
                    stats::median_change(total_a, total_b, noise, Better::Lower),
                    same_here,
                ));
            }
            let (Some(one_a), Some(one_b)) = (cases_a.get(&1), cases_b.get(&1)) else {
                continue;
            };
            if *w == 1 {
                continue;
            }
            cmp.timed.push(line(
                &format!("work speedup 1->{w}"),
                stats::ratio_change((&one_a.1, work_a), (&one_b.1, work_b), noise, Better::Higher),
                same_here && same_one,
            ));
            let all_one = one_a.2.len() == one_a.1.len() && one_b.2.len() == one_b.1.len();
            if all_total && all_one && !total_a.is_empty() && !one_a.2.is_empty() {
                cmp.timed.push(line(
                    &format!("total speedup 1->{w}"),
                    stats::ratio_change(
                        (&one_a.2, total_a),
                        (&one_b.2, total_b),
                        noise,
                        Better::Higher,
                    ),
                    same_here && same_one,
                ));
            }
        }
        for (w, (case, ..)) in cases_b {
            if !cases_a.contains_key(w) {
                cmp.notes.push(format!("{}: only in B", label(sys, case)));
            }
        }
    }
    for sys in gb.keys().filter(|s| !ga.contains_key(*s)) {
        cmp.notes.push(format!("{}: only in B", label(sys, "*")));
    }
    cmp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::Verdict;

    fn rows(os: &str, cases: &[(u32, &[u64])]) -> Vec<Row> {
        let mut out = Vec::new();
        for (w, works) in cases {
            for (i, work) in works.iter().enumerate() {
                out.push(Row {
                    benchmark: "thread-scale".into(),
                    os: os.into(),
                    accel: "tcg".into(),
                    case: format!("smp{w}-w{w}"),
                    sched_policy: if os == "capos" { "percpu".into() } else { String::new() },
                    cpus: *w,
                    workers: *w,
                    run: i as u32,
                    work: *work,
                    total: Some(work + 100),
                    verified: true,
                    ..Row::default()
                });
            }
        }
        out
    }

    #[test]
    fn every_case_gets_work_total_and_speedups() {
        let a = rows("capos", &[(1, &[1000, 1010, 990]), (2, &[500, 505, 495])]);
        let b = rows("capos", &[(1, &[1000, 1010, 990]), (2, &[700, 705, 695])]);
        let c = compare(&a, &b, 0.02);
        let metrics: Vec<(&str, &str, Verdict)> = c
            .timed
            .iter()
            .map(|l| (l.case.as_str(), l.metric.as_str(), l.change.verdict))
            .collect();
        assert_eq!(
            metrics,
            [
                ("thread-scale capos tcg percpu smp1-w1", "work (cycles)", Verdict::NoChange),
                ("thread-scale capos tcg percpu smp1-w1", "total (cycles)", Verdict::NoChange),
                ("thread-scale capos tcg percpu smp2-w2", "work (cycles)", Verdict::Worse),
                ("thread-scale capos tcg percpu smp2-w2", "total (cycles)", Verdict::Worse),
                ("thread-scale capos tcg percpu smp2-w2", "work speedup 1->2", Verdict::Worse),
                ("thread-scale capos tcg percpu smp2-w2", "total speedup 1->2", Verdict::Worse),
            ]
        );
        assert_eq!(c.regressions().count(), 4, "work, total and both speedups");
        let sp = &c.timed[4].change;
        assert!((sp.a - 2.0).abs() < 1e-9 && (sp.b - 1000.0 / 700.0).abs() < 1e-9, "{sp:?}");
        assert!(c.notes.is_empty());
    }

    #[test]
    fn runs_of_different_work_are_not_judged() {
        let a = rows("capos", &[(1, &[1000, 1010, 990]), (2, &[500, 505, 495])]);
        let mut b = rows("capos", &[(1, &[1000, 1010, 990]), (2, &[900, 905, 895])]);
        for r in b.iter_mut().filter(|r| r.workers == 2) {
            r.blocks = Some(4096);
        }
        let c = compare(&a, &b, 0.02);
        let verdict = |metric: &str, case: &str| {
            c.timed
                .iter()
                .find(|l| l.metric == metric && l.case.ends_with(case))
                .unwrap()
                .change
                .verdict
        };
        assert_eq!(verdict("work (cycles)", "smp1-w1"), Verdict::NoChange);
        assert_eq!(verdict("work (cycles)", "smp2-w2"), Verdict::NotJudged);
        assert_eq!(verdict("work speedup 1->2", "smp2-w2"), Verdict::NotJudged);
        assert_eq!(c.regressions().count(), 0);
        assert!(c.notes.iter().any(|u| u.contains("different work") && u.contains("blocks=4096")));
    }

    #[test]
    fn unverified_runs_and_unmatched_cases_are_left_out() {
        let mut a = rows("capos", &[(1, &[1000, 1010, 990])]);
        a.extend(rows("linux-guest", &[(1, &[900, 910, 890])]));
        let mut b = rows("capos", &[(1, &[1000, 1010, 990]), (2, &[500, 505, 495])]);
        b[0].verified = false;
        a[1].disturbed = true;
        let c = compare(&a, &b, 0.02);
        assert_eq!(c.timed.len(), 2, "work and total of smp1-w1");
        assert_eq!(c.timed[0].change.verdict, Verdict::NotJudged, "2 verified runs in B");
        assert_eq!(c.timed[0].change.a, 995.0, "A's disturbed 1010 left out");
        assert!(c.notes.iter().any(|u| u == "A: 1 disturbed runs left out (capos smp1-w1 run 1)"));
        assert!(c.notes.iter().any(|u| u.contains("linux-guest") && u.contains("only in A")));
        assert!(c.notes.iter().any(|u| u.contains("smp2-w2: only in B")));
    }
}
