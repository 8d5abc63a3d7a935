//! Judging a kernel-test run from its COM1 log.

use std::fmt;

use capos_abi::guest::{parse_ktest_line, GuestExit, KtestLine};

use crate::qemu::ExitKind;

/// What the `ktest:` lines of one run say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KtestReport {
    /// Every `running N tests` line.
    pub running: Vec<u32>,
    pub passed: Vec<String>,
    /// `(name, reason)`.
    pub failed: Vec<(String, String)>,
    /// Every `result: P passed, F failed` line.
    pub results: Vec<(u32, u32)>,
}

impl KtestReport {
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut r = KtestReport::default();
        for line in lines {
            match parse_ktest_line(line) {
                Some(KtestLine::Running(n)) => r.running.push(n),
                Some(KtestLine::Passed(name)) => r.passed.push(name.to_string()),
                Some(KtestLine::Failed { name, reason }) => {
                    r.failed.push((name.to_string(), reason.to_string()))
                }
                Some(KtestLine::Result { passed, failed }) => r.results.push((passed, failed)),
                None => {}
            }
        }
        r
    }
}

/// What the run is supposed to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Every test passes and the guest exits with Success.
    AllPass,
    /// Self-check: the guest exits with Failure and a test whose name
    /// contains the string (any test for `None`) is reported FAILED.
    FailureOf(Option<String>),
}

/// One reason a run is not what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A test reported FAILED (only a problem under [`Expect::AllPass`]).
    TestFailed { name: String, reason: String },
    /// The run itself is wrong: cut short, inconsistent counts, wrong exit.
    Run(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TestFailed { name, reason } => write!(f, "test {name} FAILED: {reason}"),
            Problem::Run(msg) => f.write_str(msg),
        }
    }
}

/// Checks a run; an empty list means it is as expected.
pub fn evaluate(report: &KtestReport, exit: ExitKind, expect: &Expect) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut run = |msg: String| problems.push(Problem::Run(msg));
    let (np, nf) = (report.passed.len() as u32, report.failed.len() as u32);

    match report.running.as_slice() {
        [] => run("no `ktest: running N tests` line".into()),
        [n] if *n != np + nf => run(format!(
            "`running {n} tests` but {} results were reported ({np} ok, {nf} FAILED)",
            np + nf
        )),
        [_] => {}
        more => run(format!("{} `ktest: running` lines; expected one", more.len())),
    }
    match report.results.as_slice() {
        [] => run("no `ktest: result:` line: the run was cut short".into()),
        [(p, f)] => {
            if *p != np {
                run(format!("result line says {p} passed but {np} tests reported ok"));
            }
            if *f != nf {
                run(format!("result line says {f} failed but {nf} tests reported FAILED"));
            }
        }
        more => run(format!("{} `ktest: result:` lines; expected one", more.len())),
    }

    match expect {
        Expect::AllPass => {
            // With failing tests the guest should say Failure; anything else is a run problem too.
            let consistent = if nf == 0 {
                exit == ExitKind::Guest(GuestExit::Success)
            } else {
                exit == ExitKind::Guest(GuestExit::Failure)
            };
            if !consistent {
                run(format!("{}; expected Success", exit.describe()));
            }
            for (name, reason) in &report.failed {
                problems.push(Problem::TestFailed { name: name.clone(), reason: reason.clone() });
            }
        }
        Expect::FailureOf(filter) => {
            if exit != ExitKind::Guest(GuestExit::Failure) {
                run(format!("{}; expected Failure", exit.describe()));
            }
            let named =
                report.failed.iter().any(|(n, _)| filter.as_deref().is_none_or(|f| n.contains(f)));
            if !named {
                run(match filter {
                    Some(f) => format!("no test matching `{f}` was reported FAILED"),
                    None => "no test was reported FAILED".into(),
                });
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSING: &str = "\
boot: capOS PVH loader
kernel: capOS starting, 2 cpus
ktest: running 3 tests
ktest: mm::frames_unique ... ok
!!! EXCEPTION #PF at 0xffffffff80012345
  bt #0 0xffffffff80012345 capos_kernel::ktest::trigger_page_fault+0x1c at kernel/src/ktest.rs:40
ktest: arch::page_fault_reported ... ok
ktest: sched::runs_threads ... ok
ktest: result: 3 passed, 0 failed
";

    const FAILING: &str = "\
kernel: capOS starting, 1 cpus
ktest: running 2 tests
ktest: mm::frames_unique ... ok
ktest: ktest::selfcheck_deliberate_failure ... FAILED: assertion failed: 1 + 1 == 3
ktest: result: 1 passed, 1 failed
";

    const TRUNCATED: &str = "\
kernel: capOS starting, 4 cpus
ktest: running 3 tests
ktest: mm::frames_unique ... ok
panicked at kernel/src/sched.rs:10
";

    const MISCOUNTED: &str = "\
ktest: running 4 tests
ktest: a ... ok
ktest: b ... ok
ktest: result: 3 passed, 0 failed
";

    fn report(log: &str) -> KtestReport {
        KtestReport::parse(log.lines())
    }

    const SUCCESS: ExitKind = ExitKind::Guest(GuestExit::Success);
    const FAILURE: ExitKind = ExitKind::Guest(GuestExit::Failure);

    #[test]
    fn passing_run() {
        let r = report(PASSING);
        assert_eq!(r.passed.len(), 3);
        assert_eq!(evaluate(&r, SUCCESS, &Expect::AllPass), vec![]);
        // Same log, but QEMU merely powered off: not a ktest success.
        let p = evaluate(&r, ExitKind::PoweredOff, &Expect::AllPass);
        assert_eq!(p.len(), 1);
        assert!(p[0].to_string().contains("expected Success"), "{}", p[0]);
    }

    #[test]
    fn failing_run() {
        let r = report(FAILING);
        let p = evaluate(&r, FAILURE, &Expect::AllPass);
        assert_eq!(
            p,
            vec![Problem::TestFailed {
                name: "ktest::selfcheck_deliberate_failure".into(),
                reason: "assertion failed: 1 + 1 == 3".into()
            }]
        );
        // The self-check wants exactly this.
        let want = Expect::FailureOf(Some("ktest::selfcheck_deliberate_failure".into()));
        assert_eq!(evaluate(&r, FAILURE, &want), vec![]);
        // ... and rejects a run that exits with Success or fails another test.
        assert!(!evaluate(&r, SUCCESS, &want).is_empty());
        assert!(!evaluate(&r, FAILURE, &Expect::FailureOf(Some("other".into()))).is_empty());
        assert!(!evaluate(&report(PASSING), SUCCESS, &Expect::FailureOf(None)).is_empty());
    }

    #[test]
    fn truncated_run_has_no_result_line() {
        let r = report(TRUNCATED);
        let p = evaluate(&r, ExitKind::Guest(GuestExit::Panic), &Expect::AllPass);
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("no `ktest: result:` line")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("`running 3 tests` but 1 results")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("Panic")), "{text:?}");
        assert!(evaluate(&report(""), SUCCESS, &Expect::AllPass).len() >= 2);
    }

    #[test]
    fn count_mismatches_are_caught() {
        let r = report(MISCOUNTED);
        let text: Vec<String> =
            evaluate(&r, SUCCESS, &Expect::AllPass).iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("`running 4 tests` but 2 results")), "{text:?}");
        assert!(
            text.iter().any(|t| t.contains("result line says 3 passed but 2 tests reported ok")),
            "{text:?}"
        );
    }
}
