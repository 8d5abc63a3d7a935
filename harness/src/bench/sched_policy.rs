//! The capOS run-queue policy a benchmark boots (`CAPOS_SCHED_POLICY` /
//! `--sched-policy`): the kernel's `sched=` word. A list runs every policy
//! as its own rows; Linux rows have none.

use anyhow::{bail, Result};

/// `CAPOS_SCHED_POLICY`: `percpu`, `global` or a comma list.
pub const ENV: &str = "CAPOS_SCHED_POLICY";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedPolicy {
    /// Per-CPU run queues (the kernel's default).
    PerCpu,
    /// One global run queue under one lock (`sched=global`).
    Global,
}

impl SchedPolicy {
    /// The `sched=` value and the `sched_policy` column.
    pub fn name(self) -> &'static str {
        match self {
            SchedPolicy::PerCpu => "percpu",
            SchedPolicy::Global => "global",
        }
    }

    /// The kernel command-line word; none for the default, so per-CPU runs
    /// boot exactly the command line they always did.
    pub fn kernel_word(self) -> Option<String> {
        (self != SchedPolicy::PerCpu).then(|| format!("sched={}", self.name()))
    }

    /// What a case id gains under this policy (`smp4-w4-global`); the
    /// default policy keeps the plain id.
    pub fn case_suffix(self) -> String {
        match self {
            SchedPolicy::PerCpu => String::new(),
            p => format!("-{}", p.name()),
        }
    }
}

/// Parses `percpu`, `global` or a comma list of them (order kept,
/// duplicates dropped); an empty string is the default (`percpu`).
pub fn parse_list(s: &str) -> Result<Vec<SchedPolicy>> {
    let mut out = Vec::new();
    for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let p = match word {
            "percpu" => SchedPolicy::PerCpu,
            "global" => SchedPolicy::Global,
            other => bail!("scheduler policy `{other}`: expected percpu, global or a comma list"),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        out.push(SchedPolicy::PerCpu);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_words_and_suffixes() {
        use SchedPolicy::*;
        assert_eq!(parse_list("").unwrap(), [PerCpu]);
        assert_eq!(parse_list("global").unwrap(), [Global]);
        assert_eq!(parse_list("percpu, global,percpu").unwrap(), [PerCpu, Global]);
        assert_eq!(parse_list("global,percpu").unwrap(), [Global, PerCpu]);
        let e = parse_list("percpu,fifo").unwrap_err().to_string();
        assert!(e.contains("`fifo`"), "{e}");
        assert_eq!(
            (PerCpu.kernel_word(), Global.kernel_word().as_deref()),
            (None, Some("sched=global"))
        );
        assert_eq!((PerCpu.case_suffix(), Global.case_suffix()), (String::new(), "-global".into()));
    }
}
