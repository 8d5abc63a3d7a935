//! Reading a run's measure report from disk: `measure.log` text or the raw
//! record stream, with its contention stacks named for the profile tools.
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
//! addresses), at most 16. The measure crate owns the format; this module
//! only turns `Report::contention_stacks` into named [`ContentionStack`]s.

use std::path::{Path, PathBuf};

use capos_measure::log_parse::{parse_measure_log, ParseError};
use capos_measure::phase::Phase;
use capos_measure::report::{Report, ReportError};
use capos_measure::ContentionClass;

/// Line family of contention stacks in `measure.log`.
pub const CONTENTION_FAMILY: &str = "contention_stack";

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
}

/// Reads `measure.log` text, or a raw record stream when the file is not a
/// `measure:` text log.
pub fn read_report(path: &Path) -> Result<ReportInput, ReportInputError> {
    let bytes = std::fs::read(path)
        .map_err(|source| ReportInputError::Io { path: path.to_path_buf(), source })?;
    if bytes.is_empty() {
        return Err(ReportInputError::Empty { path: path.to_path_buf() });
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) if looks_like_log(text) => parse_report_text(text),
        _ => Ok(ReportInput::from_report(Report::from_bytes(&bytes)?)),
    }
}

fn looks_like_log(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    first.is_some_and(|l| l.starts_with("measure:") || l.starts_with('#'))
}

/// Parses `measure.log` text (the measure crate reads `contention_stack`
/// lines itself).
pub fn parse_report_text(text: &str) -> Result<ReportInput, ReportInputError> {
    Ok(ReportInput::from_report(parse_measure_log(text)?))
}

impl ReportInput {
    /// The report plus its contention stacks, with class and lock by name.
    pub fn from_report(report: Report) -> ReportInput {
        let contention = report
            .contention_stacks
            .iter()
            .filter_map(|((phase, class, lock, frames), &(count, wait_cycles))| {
                let c = ContentionClass::from_id(*class)?;
                Some(ContentionStack {
                    phase: *phase,
                    class: c.name().to_string(),
                    lock: c.lock_name(*lock)?.to_string(),
                    frames: frames.clone(),
                    count,
                    wait_cycles,
                })
            })
            .collect();
        ReportInput { report, contention }
    }
}
