//! The timed metrics of two results.csv files: per case `work` and `total`
//! (guest cycles, lower is better), per system and worker count the `work`
//! and `total` speedups over the 1-worker case (higher is better).

use std::collections::BTreeMap;

use super::stats::{self, Better};
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

fn label(sys: &System, case: &str) -> String {
    let (bench, os, accel, policy) = sys;
    let policy = if policy.is_empty() { String::new() } else { format!(" {policy}") };
    format!("{bench} {os} {accel}{policy} {case}")
}

/// The timed lines of A -> B; cases only one side ran go to `unmatched`.
pub fn compare(a: &[Row], b: &[Row], noise: f64) -> Comparison {
    let (ga, gb) = (group(a), group(b));
    let mut cmp = Comparison::default();
    for (side, rows) in [("A", a), ("B", b)] {
        let left: Vec<String> = (rows.iter())
            .filter(|r| r.verified && r.disturbed)
            .map(|r| format!("{} {} run {}", r.os, r.case, r.run))
            .collect();
        if !left.is_empty() {
            cmp.unmatched.push(format!(
                "{side}: {} disturbed runs left out ({})",
                left.len(),
                left.join(", ")
            ));
        }
    }
    for (sys, cases_a) in &ga {
        let Some(cases_b) = gb.get(sys) else {
            cmp.unmatched.push(format!("{}: only in A", label(sys, "*")));
            continue;
        };
        for (w, (case, work_a, total_a)) in cases_a {
            let Some((_, work_b, total_b)) = cases_b.get(w) else {
                cmp.unmatched.push(format!("{}: only in A", label(sys, case)));
                continue;
            };
            let name = label(sys, case);
            let line = |metric: &str, change| Line {
                case: name.clone(),
                metric: metric.into(),
                change,
                gated: true,
            };
            cmp.timed.push(line(
                "work (cycles)",
                stats::median_change(work_a, work_b, noise, Better::Lower),
            ));
            // `total` only where every run of both sides has one.
            let all_total = total_a.len() == work_a.len() && total_b.len() == work_b.len();
            if all_total && !total_a.is_empty() {
                cmp.timed.push(line(
                    "total (cycles)",
                    stats::median_change(total_a, total_b, noise, Better::Lower),
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
                ));
            }
        }
        for (w, (case, ..)) in cases_b {
            if !cases_a.contains_key(w) {
                cmp.unmatched.push(format!("{}: only in B", label(sys, case)));
            }
        }
    }
    for sys in gb.keys().filter(|s| !ga.contains_key(*s)) {
        cmp.unmatched.push(format!("{}: only in B", label(sys, "*")));
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
        assert!(c.unmatched.is_empty());
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
        assert!(c
            .unmatched
            .iter()
            .any(|u| u == "A: 1 disturbed runs left out (capos smp1-w1 run 1)"));
        assert!(c.unmatched.iter().any(|u| u.contains("linux-guest") && u.contains("only in A")));
        assert!(c.unmatched.iter().any(|u| u.contains("smp2-w2: only in B")));
    }
}
