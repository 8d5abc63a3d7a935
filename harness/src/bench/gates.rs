//! Speedup gates: the seed's acceptance rules, fail closed.
//!
//! A gate compares a median speedup (work, or total; 1->2, and the 1->4
//! gates the seed recommended for four-core claims) with its threshold.
//! The medians are of the undisturbed runs only: a disturbed run is counted
//! and shown in the tables, but no gate uses it (every run disturbed: the
//! gate is not collected). Only KVM guest evidence is publishable: under TCG
//! the gate says "not collected" rather than pretending, and a *required*
//! gate that is not collected is an error, like one that fails.

use super::stats::{CaseStats, Speedup};

/// How much a speedup measured on `accel` can claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// KVM guest: speedup claims are allowed.
    Publishable,
    /// TCG guest: results verify the workload, timings are not evidence.
    Functional,
    /// Linux on the host: a reference, not a guest claim.
    Native,
}

impl Evidence {
    pub fn of(accel: &str) -> Evidence {
        match accel {
            "kvm" => Evidence::Publishable,
            "native" => Evidence::Native,
            _ => Evidence::Functional,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Evidence::Publishable => "publishable",
            Evidence::Functional => "functional",
            Evidence::Native => "native-reference",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass { speedup: f64 },
    Fail { speedup: f64 },
    NotCollected(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// `work-1to2`, `total-1to2`, `work-1to4` or `total-1to4`.
    pub name: &'static str,
    pub threshold: f64,
    pub required: bool,
    pub outcome: Outcome,
}

impl Gate {
    /// The error a required gate raises, if any.
    pub fn blocking_error(&self) -> Option<String> {
        if !self.required {
            return None;
        }
        match &self.outcome {
            Outcome::Pass { .. } => None,
            Outcome::Fail { speedup } => Some(format!(
                "gate {}: median speedup {speedup:.3}x is below {:.2}x",
                self.name, self.threshold
            )),
            Outcome::NotCollected(why) => {
                Some(format!("gate {} is required but was not collected: {why}", self.name))
            }
        }
    }

    pub fn describe(&self) -> String {
        let status = match &self.outcome {
            Outcome::Pass { speedup } => format!("pass ({speedup:.3}x)"),
            Outcome::Fail { speedup } => format!("FAIL ({speedup:.3}x)"),
            Outcome::NotCollected(why) => format!("not collected ({why})"),
        };
        format!(
            "gate {} threshold={:.2}x required={}: {status}",
            self.name,
            self.threshold,
            if self.required { "yes" } else { "no" }
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub require_work: bool,
    pub work_threshold: f64,
    pub require_total: bool,
    pub total_threshold: f64,
    /// The 1->4 gates (default 3.2x: the same 80% of ideal as 1.6x for 2).
    pub require_work4: bool,
    pub work4_threshold: f64,
    pub require_total4: bool,
    pub total4_threshold: f64,
}

fn gate(
    name: &'static str,
    threshold: f64,
    required: bool,
    evidence: Evidence,
    value: Result<f64, String>,
) -> Gate {
    let outcome = match (evidence, value) {
        (_, Err(missing)) => Outcome::NotCollected(missing),
        (Evidence::Functional, Ok(_)) => Outcome::NotCollected(
            "accel is TCG: functional verification only, publishable speedup evidence was not collected".into(),
        ),
        (Evidence::Publishable | Evidence::Native, Ok(s)) if s >= threshold => Outcome::Pass { speedup: s },
        (_, Ok(s)) => Outcome::Fail { speedup: s },
    };
    Gate { name, threshold, required, outcome }
}

/// Gates of one system from its 1->2 and 1->4 gate speedups (`Err`: why
/// there is none, e.g. a missing case or every run disturbed).
pub fn evaluate(
    policy: &Policy,
    accel: &str,
    speedup_1to2: Result<&Speedup, &str>,
    speedup_1to4: Result<&Speedup, &str>,
) -> Vec<Gate> {
    let ev = Evidence::of(accel);
    let no_total = "no `total` phase in these rows";
    let pair = |sp: Result<&Speedup, &str>| -> (Result<f64, String>, Result<f64, String>) {
        match sp {
            Ok(s) => (Ok(s.work), s.total.ok_or_else(|| no_total.to_string())),
            Err(e) => (Err(e.to_string()), Err(e.to_string())),
        }
    };
    let (w2, t2) = pair(speedup_1to2);
    let (w4, t4) = pair(speedup_1to4);
    vec![
        gate("work-1to2", policy.work_threshold, policy.require_work, ev, w2),
        gate("total-1to2", policy.total_threshold, policy.require_total, ev, t2),
        gate("work-1to4", policy.work4_threshold, policy.require_work4, ev, w4),
        gate("total-1to4", policy.total4_threshold, policy.require_total4, ev, t4),
    ]
}

/// Notes about cases that are not what they claim (oversubscription, SMT).
pub fn case_notes(stats: &[CaseStats], host_cpus: u32) -> Vec<String> {
    stats
        .iter()
        .filter_map(|s| {
            if s.workers > s.cpus {
                Some(format!("{} {}: {} workers on {} CPUs (oversubscribed)", s.os, s.case, s.workers, s.cpus))
            } else if s.cpus > host_cpus && s.os != "linux-native" {
                Some(format!(
                    "{} {}: {} vCPUs on {} host CPUs (oversubscribed host; timing is not scaling evidence)",
                    s.os, s.case, s.cpus, host_cpus
                ))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(work: f64, total: Option<f64>) -> Speedup {
        Speedup { os: "capos".into(), accel: "kvm".into(), to_workers: 2, to_cpus: 2, work, total }
    }

    const REQ: Policy = Policy {
        require_work: true,
        work_threshold: 1.6,
        require_total: false,
        total_threshold: 1.6,
        require_work4: false,
        work4_threshold: 3.2,
        require_total4: false,
        total4_threshold: 3.2,
    };
    const NO4: Result<&Speedup, &str> = Err("no verified 4-worker case");

    #[test]
    fn kvm_pass_and_fail() {
        let g = evaluate(&REQ, "kvm", Ok(&sp(1.7, Some(1.2))), NO4);
        assert_eq!(g[0].outcome, Outcome::Pass { speedup: 1.7 });
        assert!(g[0].blocking_error().is_none());
        assert_eq!(g[1].outcome, Outcome::Fail { speedup: 1.2 });
        assert!(g[1].blocking_error().is_none(), "total gate not required");
        let g = evaluate(&REQ, "kvm", Ok(&sp(1.5, None)), NO4);
        assert!(g[0].blocking_error().unwrap().contains("1.500x is below 1.60x"));
    }

    #[test]
    fn tcg_is_not_collected_and_fails_closed_when_required() {
        let g = evaluate(&REQ, "tcg", Ok(&sp(1.9, Some(1.9))), Ok(&sp(3.5, Some(3.4))));
        assert!(matches!(g[2].outcome, Outcome::NotCollected(_)), "1to4 under TCG too");
        assert!(matches!(g[0].outcome, Outcome::NotCollected(_)));
        assert!(g[0].blocking_error().unwrap().contains("not collected"));
        let relaxed = Policy { require_work: false, ..REQ };
        assert!(evaluate(&relaxed, "tcg", Ok(&sp(1.9, None)), NO4)
            .iter()
            .all(|g| g.blocking_error().is_none()));
        let g = evaluate(&REQ, "kvm", Err("no verified 1-worker case"), NO4);
        assert!(g[0].blocking_error().unwrap().contains("no verified 1-worker"));
        assert!(g[0]
            .describe()
            .starts_with("gate work-1to2 threshold=1.60x required=yes: not collected"));
    }

    #[test]
    fn one_to_four_gates_pass_fail_and_say_why_they_are_missing() {
        let req4 = Policy { require_work4: true, ..REQ };
        let g = evaluate(&req4, "kvm", Ok(&sp(1.9, None)), Ok(&sp(3.3, Some(3.0))));
        assert_eq!(g[2].name, "work-1to4");
        assert_eq!(g[2].outcome, Outcome::Pass { speedup: 3.3 });
        assert_eq!(g[3].outcome, Outcome::Fail { speedup: 3.0 });
        assert!(g[3].blocking_error().is_none(), "total-1to4 not required");
        let g = evaluate(
            &req4,
            "kvm",
            Ok(&sp(1.9, None)),
            Err("every run of smp4-w4 (5 of 5) was disturbed"),
        );
        assert!(g[2].blocking_error().unwrap().contains("was disturbed"), "{:?}", g[2]);
    }
}
