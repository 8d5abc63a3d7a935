//! Field coverage over the suite: every catalogue entry (field, named
//! label, histogram; `capos_measure::coverage`) must be raised by some
//! fidelity run, so a probe that is removed or never wired fails the suite
//! (issue 12, "no dead counters").

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use capos_measure::coverage::Coverage;
use capos_measure::report::Report;

/// Entries the suite may leave unraised: none. An entry goes here only
/// with a comment saying which workload (on which branch) will raise it,
/// and leaves at that workload's merge (the suite says when an allowed
/// entry is raised after all). The three syscall numbers `fid-syscalls`
/// raises were here until it was merged.
pub const ALLOWED_UNRAISED: &[&str] = &[];

/// The verdict of the suite's coverage: the matrix text and the entries
/// never raised outside `allowed`. An `allowed` name that is no catalogue
/// entry is an error (a stale or misspelt allowance would hide nothing and
/// mislead).
pub struct Verdict {
    pub text: String,
    pub missing: Vec<String>,
    /// Allowed entries that were raised after all (the allowance can go).
    pub raised_anyway: Vec<String>,
}

pub fn judge(reports: &[Report], labels: &[String], allowed: &[&str]) -> Result<Verdict> {
    let coverage = Coverage::of(reports);
    for a in allowed {
        if !coverage.entries.iter().any(|e| e.name == *a) {
            bail!("coverage allowance {a:?} names no catalogue entry");
        }
    }
    let never = coverage.never_raised();
    let missing =
        never.iter().filter(|m| !allowed.contains(m)).map(|m| m.to_string()).collect::<Vec<_>>();
    let raised_anyway =
        allowed.iter().filter(|a| !never.contains(a)).map(|a| a.to_string()).collect();
    Ok(Verdict { text: coverage.to_text(labels), missing, raised_anyway })
}

/// Reads `logs` (every measure.log of the run), prints the matrix and the
/// verdict; `Ok(false)` when an entry outside [`ALLOWED_UNRAISED`] was
/// never raised.
pub fn run(logs: &[PathBuf]) -> Result<bool> {
    let mut reports = Vec::new();
    for p in logs {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        reports.push(
            capos_measure::log_parse::parse_measure_log(&text)
                .with_context(|| format!("{} does not parse", p.display()))?,
        );
    }
    let labels: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
    let v = judge(&reports, &labels, ALLOWED_UNRAISED)?;
    println!("\nfidelity: field coverage over {} measure.log files:", logs.len());
    print!("{}", v.text);
    for a in &v.raised_anyway {
        println!("fidelity: coverage: allowed entry {a} is raised now: drop its allowance");
    }
    if v.missing.is_empty() {
        let unraised: Vec<&str> = ALLOWED_UNRAISED
            .iter()
            .copied()
            .filter(|a| !v.raised_anyway.iter().any(|r| r == a))
            .collect();
        println!(
            "fidelity: coverage ok ({} allowed unraised{}{})",
            unraised.len(),
            if unraised.is_empty() { "" } else { ": " },
            unraised.join(", ")
        );
        Ok(true)
    } else {
        println!(
            "fidelity: coverage FAILED: {} entries never raised: {}",
            v.missing.len(),
            v.missing.join(", ")
        );
        Ok(false)
    }
}
