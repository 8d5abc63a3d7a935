//! Per-case statistics and speedups over result rows.

use super::results::Row;

/// median/min/max of one metric. The median of an even count is the mean of
/// the two middle values (rounded down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    pub median: u64,
    pub min: u64,
    pub max: u64,
}

pub fn spread(values: &[u64]) -> Option<Spread> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => v[n / 2],
        _ => ((u128::from(v[n / 2 - 1]) + u128::from(v[n / 2])) / 2) as u64,
    };
    Some(Spread { median, min: v[0], max: v[n - 1] })
}

/// median/min/max of real values (ratios): [`Spread`] for `f64`. NaNs are
/// left out; the median of an even count is the mean of the middle two.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FSpread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn fspread(values: &[f64]) -> Option<FSpread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n {
        0 => return None,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    Some(FSpread { median, min: v[0], max: v[n - 1] })
}

/// All runs of one (os, accel, capOS scheduler policy, cpus, workers).
#[derive(Clone, Debug, PartialEq)]
pub struct CaseStats {
    pub os: String,
    pub accel: String,
    /// capOS run-queue policy (empty for Linux rows and older files).
    pub sched_policy: String,
    pub case: String,
    pub cpus: u32,
    pub workers: u32,
    pub runs: usize,
    pub disturbed: usize,
    pub work: Spread,
    /// Only when every run has a `total`.
    pub total: Option<Spread>,
    pub work_ns: Option<Spread>,
    /// ipc-scale: calls of all pairs together per run (`workers` x calls per
    /// client), when every run has the same count.
    pub total_calls: Option<u64>,
    /// `work` over the undisturbed runs only (`None`: every run was
    /// disturbed): what the gates use.
    pub gate_work: Option<Spread>,
    /// `total` over the undisturbed runs, when each of them has one.
    pub gate_total: Option<Spread>,
}

impl CaseStats {
    /// ipc-scale: calls per second over the median `work_ns`.
    pub fn calls_per_sec(&self) -> Option<f64> {
        let (ns, calls) = (self.work_ns?.median, self.total_calls?);
        (ns > 0).then(|| calls as f64 * 1e9 / ns as f64)
    }
}

/// Groups rows by (os, accel, sched_policy, cpus, workers) in first-seen order.
pub fn case_stats(rows: &[Row]) -> Vec<CaseStats> {
    let mut keys: Vec<(String, String, String, u32, u32)> = Vec::new();
    for r in rows {
        let k = (r.os.clone(), r.accel.clone(), r.sched_policy.clone(), r.cpus, r.workers);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .filter_map(|(os, accel, sched_policy, cpus, workers)| {
            let group: Vec<&Row> = rows
                .iter()
                .filter(|r| {
                    r.os == os
                        && r.accel == accel
                        && r.sched_policy == sched_policy
                        && r.cpus == cpus
                        && r.workers == workers
                })
                .collect();
            let work = spread(&group.iter().map(|r| r.work).collect::<Vec<_>>())?;
            let all = |f: fn(&Row) -> Option<u64>| -> Option<Spread> {
                let v: Option<Vec<u64>> = group.iter().map(|r| f(r)).collect();
                spread(&v?)
            };
            let calm: Vec<&Row> = group.iter().copied().filter(|r| !r.disturbed).collect();
            let gate_work = spread(&calm.iter().map(|r| r.work).collect::<Vec<_>>());
            let gate_total = calm.iter().map(|r| r.total).collect::<Option<Vec<_>>>();
            let gate_total = gate_total.and_then(|v| spread(&v));
            let per_run: Vec<Option<u64>> =
                group.iter().map(|r| r.calls.map(|c| c * u64::from(r.workers))).collect();
            let total_calls = per_run[0].filter(|_| per_run.iter().all(|c| *c == per_run[0]));
            Some(CaseStats {
                total_calls,
                gate_work,
                gate_total,
                case: group[0].case.clone(),
                runs: group.len(),
                disturbed: group.iter().filter(|r| r.disturbed).count(),
                work,
                total: all(|r| r.total),
                work_ns: all(|r| r.work_ns),
                os,
                accel,
                sched_policy,
                cpus,
                workers,
            })
        })
        .collect()
}

/// Median speedup from the 1-worker case to the `to`-worker case of one
/// system (os, accel, sched_policy): a policy is compared with itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Speedup {
    pub os: String,
    pub accel: String,
    pub to_workers: u32,
    /// CPUs of the `to` case (may differ from workers when oversubscribed).
    pub to_cpus: u32,
    pub work: f64,
    pub total: Option<f64>,
}

fn ratio(base: u64, x: u64) -> Option<f64> {
    (x > 0).then(|| base as f64 / x as f64)
}

/// The `work` speedup of `t` over `base`: the ratio of the median windows
/// for a fixed amount of work (thread- and process-scale), the ratio of
/// throughputs (calls per cycle) when both cases count their calls
/// (ipc-scale, where every pair makes the same number of calls, so `N`
/// pairs do `N` times the work of one).
fn work_speedup(base: &CaseStats, t: &CaseStats) -> Option<f64> {
    match (base.total_calls, t.total_calls) {
        (Some(bc), Some(tc)) if bc > 0 => {
            Some(ratio(base.work.median, t.work.median)? * tc as f64 / bc as f64)
        }
        _ => ratio(base.work.median, t.work.median),
    }
}

/// One system whose cases are compared with each other: (os, accel,
/// sched_policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    pub os: String,
    pub accel: String,
    pub sched_policy: String,
}

impl System {
    pub fn new(os: &str, accel: &str, sched_policy: &str) -> System {
        System { os: os.into(), accel: accel.into(), sched_policy: sched_policy.into() }
    }

    pub fn of(s: &CaseStats) -> System {
        System::new(&s.os, &s.accel, &s.sched_policy)
    }

    /// ` sched_policy=<p>` for a capOS system (empty when the rows carry none).
    pub fn policy_field(&self) -> String {
        if self.sched_policy.is_empty() {
            String::new()
        } else {
            format!(" sched_policy={}", self.sched_policy)
        }
    }
}

/// Picks the case for `workers` of a system: the one with cpus == workers,
/// else the one with the most CPUs.
fn pick<'a>(stats: &'a [CaseStats], sys: &System, workers: u32) -> Option<&'a CaseStats> {
    let mut c: Vec<&CaseStats> =
        stats.iter().filter(|s| System::of(s) == *sys && s.workers == workers).collect();
    c.sort_by_key(|s| (s.cpus == workers, s.cpus));
    c.last().copied()
}

pub fn speedup(stats: &[CaseStats], sys: &System, to: u32) -> Option<Speedup> {
    speedup_of(pick(stats, sys, 1)?, pick(stats, sys, to)?)
}

/// The speedup the gates judge: medians of the undisturbed runs only (a
/// disturbed run is counted in the tables but left out here). `Err` says
/// why there is none.
pub fn gate_speedup(stats: &[CaseStats], sys: &System, to: u32) -> Result<Speedup, String> {
    let calm = |s: &CaseStats| -> Result<CaseStats, String> {
        let work = s.gate_work.ok_or_else(|| {
            format!("every run of {} ({} of {}) was disturbed", s.case, s.disturbed, s.runs)
        })?;
        Ok(CaseStats { work, total: s.gate_total, ..s.clone() })
    };
    let base = pick(stats, sys, 1).ok_or("no verified 1-worker case")?;
    let t = pick(stats, sys, to).ok_or(format!("no verified {to}-worker case"))?;
    speedup_of(&calm(base)?, &calm(t)?).ok_or_else(|| "a median of 0 cycles".to_string())
}

fn speedup_of(base: &CaseStats, t: &CaseStats) -> Option<Speedup> {
    let sys = System::of(t);
    Some(Speedup {
        os: sys.os,
        accel: sys.accel,
        to_workers: t.workers,
        to_cpus: t.cpus,
        work: work_speedup(base, t)?,
        total: match (base.total, t.total) {
            (Some(b), Some(x)) => ratio(b.median, x.median),
            _ => None,
        },
    })
}

/// The systems (os, accel, sched_policy) in first-seen order.
pub fn systems(stats: &[CaseStats]) -> Vec<System> {
    let mut out: Vec<System> = Vec::new();
    for s in stats {
        let k = System::of(s);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// capOS speedup divided by the Linux speedup (same `to`): 1.0 means capOS
/// scales like Linux under the same envelope.
pub fn relative(capos: &Speedup, linux: &Speedup) -> Option<f64> {
    (linux.work > 0.0).then(|| capos.work / linux.work)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(os: &str, workers: u32, work: u64, total: Option<u64>) -> Row {
        Row {
            os: os.into(),
            accel: "kvm".into(),
            cpus: workers,
            workers,
            work,
            total,
            verified: true,
            ..Row::default()
        }
    }

    #[test]
    fn spreads() {
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[5, 1, 3]), Some(Spread { median: 3, min: 1, max: 5 }));
        assert_eq!(spread(&[4, 1, 3, 2]), Some(Spread { median: 2, min: 1, max: 4 }));
        assert_eq!(spread(&[u64::MAX, u64::MAX]).unwrap().median, u64::MAX);
    }

    #[test]
    fn real_spreads() {
        assert_eq!(fspread(&[]), None);
        assert_eq!(fspread(&[f64::NAN]), None);
        assert_eq!(fspread(&[0.5, -0.1, 0.2]), Some(FSpread { median: 0.2, min: -0.1, max: 0.5 }));
        assert_eq!(
            fspread(&[4.0, 1.0, f64::NAN, 3.0, 2.0]),
            Some(FSpread { median: 2.5, min: 1.0, max: 4.0 })
        );
    }

    #[test]
    fn ipc_speedup_is_a_throughput_ratio() {
        let ipc = |workers: u32, work: u64, ns: u64| Row {
            calls: Some(1000),
            work_ns: Some(ns),
            ..row("capos", workers, work, None)
        };
        // 2 pairs make twice the calls in 1.6x the window: 1.25x throughput.
        let st =
            case_stats(&[ipc(1, 100, 1_000_000), ipc(2, 160, 1_600_000), ipc(4, 400, 4_000_000)]);
        assert_eq!((st[0].total_calls, st[1].total_calls), (Some(1000), Some(2000)));
        let sys = System::new("capos", "kvm", "");
        assert_eq!(speedup(&st, &sys, 2).unwrap().work, 1.25);
        assert_eq!(speedup(&st, &sys, 4).unwrap().work, 1.0);
        assert_eq!(st[0].calls_per_sec(), Some(1_000_000.0));
        assert_eq!(st[1].calls_per_sec(), Some(1_250_000.0));
        // Runs of one case with different call counts have no total.
        let mixed = case_stats(&[ipc(1, 100, 10), Row { calls: Some(5), ..ipc(1, 100, 10) }]);
        assert_eq!(mixed[0].total_calls, None);
        assert_eq!(mixed[0].calls_per_sec(), None);
    }

    #[test]
    fn speedups_and_ratio() {
        let rows = vec![
            row("capos", 1, 100, Some(300)),
            row("capos", 1, 110, Some(310)),
            row("capos", 1, 90, Some(290)),
            row("capos", 2, 50, Some(200)),
            row("capos", 4, 40, None),
            row("linux-guest", 1, 100, Some(100)),
            row("linux-guest", 2, 52, Some(52)),
        ];
        let st = case_stats(&rows);
        assert_eq!(st.len(), 5);
        assert_eq!((st[0].runs, st[0].work.median, st[0].total.unwrap().median), (3, 100, 300));
        let (capos, linux) =
            (System::new("capos", "kvm", ""), System::new("linux-guest", "kvm", ""));
        let s2 = speedup(&st, &capos, 2).unwrap();
        assert_eq!((s2.work, s2.total), (2.0, Some(1.5)));
        let s4 = speedup(&st, &capos, 4).unwrap();
        assert_eq!((s4.work, s4.total), (2.5, None));
        let l2 = speedup(&st, &linux, 2).unwrap();
        assert!((relative(&s2, &l2).unwrap() - 1.04).abs() < 1e-9);
        assert!(speedup(&st, &linux, 4).is_none());
        assert_eq!(systems(&st).len(), 2);
    }

    #[test]
    fn each_policy_is_its_own_system_with_its_own_baseline() {
        let policy = |mut r: Row, p: &str| {
            r.sched_policy = p.into();
            r
        };
        let rows = vec![
            policy(row("capos", 1, 100, None), "percpu"),
            policy(row("capos", 1, 120, None), "global"),
            policy(row("capos", 4, 25, None), "percpu"),
            policy(row("capos", 4, 60, None), "global"),
            row("linux-guest", 1, 100, None),
        ];
        let st = case_stats(&rows);
        assert_eq!(st.len(), 5);
        let sys = systems(&st);
        assert_eq!(sys.len(), 3);
        assert_eq!(sys[1], System::new("capos", "kvm", "global"));
        assert_eq!(sys[1].policy_field(), " sched_policy=global");
        assert_eq!(sys[2].policy_field(), "");
        assert_eq!(speedup(&st, &sys[0], 4).unwrap().work, 4.0);
        assert_eq!(speedup(&st, &sys[1], 4).unwrap().work, 2.0);
    }
}
