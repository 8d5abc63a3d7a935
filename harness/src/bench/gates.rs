//! Speedup gates: the seed's acceptance rules, fail closed.
//!
//! A gate compares the median 1->2 speedup (work, or total) with its
//! threshold. Only KVM guest evidence is publishable: under TCG the gate says
//! "not collected" rather than pretending, and a *required* gate that is not
//! collected is an error, like one that fails.

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
    /// `work-1to2` or `total-1to2`.
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
}

fn gate(
    name: &'static str,
    threshold: f64,
    required: bool,
    evidence: Evidence,
    value: Option<f64>,
    missing: &str,
) -> Gate {
    let outcome = match (evidence, value) {
        (_, None) => Outcome::NotCollected(missing.to_string()),
        (Evidence::Functional, Some(_)) => Outcome::NotCollected(
            "accel is TCG: functional verification only, publishable speedup evidence was not collected".into(),
        ),
        (Evidence::Publishable | Evidence::Native, Some(s)) if s >= threshold => Outcome::Pass { speedup: s },
        (_, Some(s)) => Outcome::Fail { speedup: s },
    };
    Gate { name, threshold, required, outcome }
}

/// Gates of one system from its 1->2 speedup (`None`: a case is missing).
pub fn evaluate(policy: &Policy, accel: &str, speedup_1to2: Option<&Speedup>) -> Vec<Gate> {
    let ev = Evidence::of(accel);
    let no_case = "no verified 1-worker or 2-worker case";
    vec![
        gate(
            "work-1to2",
            policy.work_threshold,
            policy.require_work,
            ev,
            speedup_1to2.map(|s| s.work),
            no_case,
        ),
        gate(
            "total-1to2",
            policy.total_threshold,
            policy.require_total,
            ev,
            speedup_1to2.and_then(|s| s.total),
            "no `total` phase in these rows",
        ),
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
    };

    #[test]
    fn kvm_pass_and_fail() {
        let g = evaluate(&REQ, "kvm", Some(&sp(1.7, Some(1.2))));
        assert_eq!(g[0].outcome, Outcome::Pass { speedup: 1.7 });
        assert!(g[0].blocking_error().is_none());
        assert_eq!(g[1].outcome, Outcome::Fail { speedup: 1.2 });
        assert!(g[1].blocking_error().is_none(), "total gate not required");
        let g = evaluate(&REQ, "kvm", Some(&sp(1.5, None)));
        assert!(g[0].blocking_error().unwrap().contains("1.500x is below 1.60x"));
    }

    #[test]
    fn tcg_is_not_collected_and_fails_closed_when_required() {
        let g = evaluate(&REQ, "tcg", Some(&sp(1.9, Some(1.9))));
        assert!(matches!(g[0].outcome, Outcome::NotCollected(_)));
        assert!(g[0].blocking_error().unwrap().contains("not collected"));
        let relaxed = Policy { require_work: false, ..REQ };
        assert!(evaluate(&relaxed, "tcg", Some(&sp(1.9, None)))
            .iter()
            .all(|g| g.blocking_error().is_none()));
        let g = evaluate(&REQ, "kvm", None);
        assert!(g[0].blocking_error().unwrap().contains("no verified 1-worker"));
        assert!(g[0]
            .describe()
            .starts_with("gate work-1to2 threshold=1.60x required=yes: not collected"));
    }
}
