//! Reading a run's measure report from disk: `measure.log` text or the raw
//! record stream, plus the contention stacks that `measure.log` may carry
//! before the measure crate knows them.
//!
//! # Contention stacks (input shape until `capos-measure` has a record)
//!
//! ```text
//! measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=3 wait_cycles=120000 frames=0xffffffff80012345,0xffffffff80023456
//! ```
//!
//! One line per distinct (phase, lock, stack): `class` is the lock family
//! (`scheduler_lock` with a `scheduler_lock_site` site name as `lock`, or
//! `shared_kernel_lock` with its `lock=` name), `count` the contended
//! acquisitions with this stack, `wait_cycles` their summed wait, `frames`
//! leaf first (frame 0 the PC in the acquire path, later frames return
//! addresses), at most 16. These lines are taken out before the rest goes to
//! [`capos_measure::log_parse::parse_measure_log`].

use std::path::{Path, PathBuf};

use capos_measure::log_parse::{parse_measure_log, ParseError};
use capos_measure::phase::Phase;
use capos_measure::report::{Report, ReportError};

/// Line family of contention stacks in `measure.log`.
pub const CONTENTION_FAMILY: &str = "contention_stack";
const MAX_FRAMES: usize = 16;

/// Stacks at contended lock acquisitions, weighted by wait cycles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ContentionStack {
    pub phase: Phase,
    /// `scheduler_lock` or `shared_kernel_lock`.
    pub class: String,
    /// Site (`timer_select`, ...) or lock name (`heap`, ...).
    pub lock: String,
    /// Leaf first.
    pub frames: Vec<u64>,
    pub count: u64,
    pub wait_cycles: u64,
}

/// A report read from disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportInput {
    pub report: Report,
    pub contention: Vec<ContentionStack>,
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportInputError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: the file is empty", path.display())]
    Empty { path: PathBuf },
    #[error(transparent)]
    Log(#[from] ParseError),
    #[error("record stream: {0}")]
    Records(#[from] ReportError),
    #[error("measure.log line {line}: contention_stack: {reason}")]
    Contention { line: usize, reason: String },
}

/// Reads `measure.log` text, or a raw record stream when the file is not a
/// `measure:` text log.
pub fn read_report(path: &Path) -> Result<ReportInput, ReportInputError> {
    let bytes = std::fs::read(path).map_err(|source| ReportInputError::Io { path: path.to_path_buf(), source })?;
    if bytes.is_empty() {
        return Err(ReportInputError::Empty { path: path.to_path_buf() });
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) if looks_like_log(text) => parse_report_text(text),
        _ => Ok(ReportInput { report: Report::from_bytes(&bytes)?, contention: Vec::new() }),
    }
}

fn looks_like_log(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    first.is_some_and(|l| l.starts_with("measure:") || l.starts_with('#'))
}

/// Parses `measure.log` text, taking `contention_stack` lines out first.
pub fn parse_report_text(text: &str) -> Result<ReportInput, ReportInputError> {
    let mut rest = String::with_capacity(text.len());
    let mut contention = Vec::new();
    let prefix = format!("measure: {CONTENTION_FAMILY} ");
    for (i, line) in text.lines().enumerate() {
        match line.trim().strip_prefix(&prefix) {
            Some(body) => {
                let stack =
                    parse_contention(body).map_err(|reason| ReportInputError::Contention { line: i + 1, reason })?;
                contention.push(stack);
                // Keep line numbers of later errors right.
                rest.push('\n');
            }
            None => {
                rest.push_str(line);
                rest.push('\n');
            }
        }
    }
    Ok(ReportInput { report: parse_measure_log(&rest)?, contention })
}

fn parse_contention(body: &str) -> Result<ContentionStack, String> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for token in body.split_whitespace() {
        let (k, v) = token.split_once('=').ok_or_else(|| format!("token `{token}` is not key=value"))?;
        if fields.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("key `{k}` given twice"));
        }
        fields.push((k, v));
    }
    let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(format!("missing key `{key}`"));
    let num = |key: &str| get(key).and_then(|v| parse_num(v).ok_or(format!("`{key}={v}` is not a number")));
    if let Some((k, _)) =
        fields.iter().find(|(k, _)| !["phase", "class", "lock", "count", "wait_cycles", "frames"].contains(k))
    {
        return Err(format!("unknown key `{k}`"));
    }
    let phase_name = get("phase")?;
    let phase = Phase::from_name(phase_name).ok_or(format!("unknown phase `{phase_name}`"))?;
    let frames_text = get("frames")?;
    let frames = if frames_text.is_empty() {
        Vec::new()
    } else {
        frames_text
            .split(',')
            .map(|f| parse_num(f).ok_or(format!("frame `{f}` is not a number")))
            .collect::<Result<Vec<u64>, String>>()?
    };
    if frames.len() > MAX_FRAMES {
        return Err(format!("more than {MAX_FRAMES} frames"));
    }
    Ok(ContentionStack {
        phase,
        class: get("class")?.to_string(),
        lock: get("lock")?.to_string(),
        frames,
        count: num("count")?,
        wait_cycles: num("wait_cycles")?,
    })
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}
