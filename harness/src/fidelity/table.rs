//! The fidelity table: one row per planted quantity (expected, measured,
//! tolerance, verdict, and where the tolerance comes from), and the
//! tolerance rules the workloads share.

use std::fmt::Write as _;

/// Standard deviations allowed for a sampled share. A run checks about a
/// dozen sampled quantities; at 4 sd a correct instrument fails one of them
/// with probability about 12 x 6.3e-5 < 0.1%, while a share that is off by
/// a few percent at n = 2000 samples still fails.
pub const SHARE_SDS: f64 = 4.0;

/// One planted quantity and what the report made of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub workload: String,
    pub quantity: String,
    pub expected: f64,
    pub measured: f64,
    /// Largest allowed |measured - expected|.
    pub tolerance: f64,
    /// How the tolerance was derived (shown in the table).
    pub basis: String,
    /// For a named (not numeric) quantity: expected and found names, and
    /// whether they match; shown instead of the numbers.
    pub names: Option<(String, String, bool)>,
}

impl Row {
    pub fn new(
        workload: &str,
        quantity: impl Into<String>,
        expected: f64,
        measured: f64,
        tolerance: f64,
        basis: impl Into<String>,
    ) -> Row {
        Row {
            workload: workload.to_string(),
            quantity: quantity.into(),
            expected,
            measured,
            tolerance,
            basis: basis.into(),
            names: None,
        }
    }

    /// A named quantity (a lock, a call path): `matches` says whether
    /// `found` is the `expected` one.
    pub fn name(
        workload: &str,
        quantity: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
        matches: bool,
    ) -> Row {
        let mut r = Row::new(workload, quantity, f64::NAN, f64::NAN, 0.0, "same name");
        r.names = Some((expected.into(), found.into(), matches));
        r
    }

    /// An exact count: expected == measured, tolerance 0.
    pub fn exact(workload: &str, quantity: impl Into<String>, expected: u64, measured: u64) -> Row {
        Row::new(workload, quantity, expected as f64, measured as f64, 0.0, "exact")
    }

    /// A sampled share `k / n` against the expected probability `p`, within
    /// [`SHARE_SDS`] binomial standard deviations `sqrt(p (1 - p) / n)`.
    pub fn share(workload: &str, quantity: impl Into<String>, p: f64, k: u64, n: u64) -> Row {
        let (measured, tolerance) = if n == 0 {
            (f64::NAN, 0.0)
        } else {
            (k as f64 / n as f64, SHARE_SDS * (p * (1.0 - p) / n as f64).sqrt())
        };
        Row::new(
            workload,
            quantity,
            p,
            measured,
            tolerance,
            format!("{SHARE_SDS} sd binomial, n={n}"),
        )
    }

    /// A lower bound: `measured >= min` (for effects the program makes
    /// overwhelmingly likely but cannot force on cue, such as lock
    /// contention).
    pub fn at_least(workload: &str, quantity: impl Into<String>, min: u64, measured: u64) -> Row {
        Row::name(workload, quantity, format!(">= {min}"), measured.to_string(), measured >= min)
    }

    /// A failed precondition (the quantity could not be read at all).
    pub fn missing(workload: &str, quantity: impl Into<String>, why: impl Into<String>) -> Row {
        Row::new(workload, quantity, f64::NAN, f64::NAN, 0.0, why)
    }

    pub fn pass(&self) -> bool {
        match &self.names {
            Some((_, _, matches)) => *matches,
            // NaN (nothing measured) never passes.
            None => (self.measured - self.expected).abs() <= self.tolerance,
        }
    }
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

/// The table as printed by `make fidelity` (and copied into docs/measure.md).
pub fn render(rows: &[Row]) -> String {
    let head = ["workload", "quantity", "expected", "measured", "tolerance", "verdict", "basis"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let (expected, measured, tolerance) = match &r.names {
                Some((e, f, _)) => (e.clone(), f.clone(), "-".to_string()),
                None => (num(r.expected), num(r.measured), format!("±{}", num(r.tolerance))),
            };
            [
                r.workload.clone(),
                r.quantity.clone(),
                expected,
                measured,
                tolerance,
                if r.pass() { "ok" } else { "FAIL" }.into(),
                r.basis.clone(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String]| {
        let parts: Vec<String> =
            c.iter().zip(width).map(|(s, w)| format!("{s:<w$}", w = w)).collect();
        let _ = writeln!(out, "| {} |", parts.join(" | "));
    };
    line(&mut out, &head.map(String::from));
    line(&mut out, &width.map(|w| "-".repeat(w)));
    for c in &cells {
        line(&mut out, c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_use_the_binomial_sd_and_fail_outside_it() {
        // p = 0.6, n = 2400: sd = sqrt(0.24 / 2400) = 0.01, 4 sd = 0.04.
        let ok = Row::share("w", "a", 0.6, 1500, 2400); // 0.625
        assert!((ok.tolerance - 0.04).abs() < 1e-12);
        assert!(ok.pass());
        let bad = Row::share("w", "a", 0.6, 1560, 2400); // 0.65
        assert!(!bad.pass());
        assert!(!Row::share("w", "a", 0.6, 0, 0).pass(), "no samples is a failure");
    }

    #[test]
    fn exact_rows_and_missing_rows() {
        assert!(Row::exact("w", "x", 5, 5).pass());
        assert!(!Row::exact("w", "x", 5, 6).pass());
        assert!(!Row::missing("w", "x", "no line").pass());
        assert!(Row::name("w", "lock", "heap", "heap", true).pass());
        let t = render(&[Row::name("w", "lock", "heap", "cap_table", false)]);
        assert!(t.contains("| heap ") && t.contains("| cap_table ") && t.contains("FAIL"), "{t}");
    }

    #[test]
    fn the_table_has_every_row_and_verdict() {
        let t = render(&[Row::exact("w", "x", 5, 5), Row::share("w", "a", 0.6, 1560, 2400)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("| workload"));
        assert!(lines[2].contains("| ok "), "{}", lines[2]);
        assert!(lines[3].contains("0.6500") && lines[3].contains("FAIL"), "{}", lines[3]);
    }
}
