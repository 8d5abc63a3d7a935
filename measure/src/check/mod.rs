//! `measure check`: counter identities that every report must satisfy.
//!
//! Each identity compares a value the report states (`measured`) with the
//! value another part of the same report implies (`expected`), within a
//! tolerance derived from how the kernel takes its figures (the derivations
//! are in `docs/measure.md`, "Checking a report"). The result is a table of
//! [`Row`]s; [`CheckResult`] prints it and a last line `measure check: ok`
//! or `measure check: FAILED (n of m)`.
//!
//! Two effects set most tolerances:
//!
//! * **Snapshot boundaries.** A phase value is the difference of two
//!   snapshots; a snapshot reads the per-CPU slots one after another while
//!   the other CPUs keep running, so one event in flight on each CPU (a tick
//!   that has counted `sample_interrupts` but not yet its sample, an acquisition
//!   that has counted `scheduler_lock` but not yet its site) can be split
//!   across the boundary. That is at most one event per CPU per boundary.
//!   A phase that starts at start-up has no start boundary (all zero).
//! * **Holds in progress.** A lock counts its acquisition when taken and its
//!   hold when released; at a snapshot at most one lock of a class is held
//!   per CPU (a CPU holds at most one run-queue lock; see
//!   `kernel/src/sched/dispatch.rs`).

use std::fmt;

use crate::phase::Phase;
use crate::report::Report;

mod identities;
mod lock_pairs;
mod thread_time;
use identities::Ctx;

/// What the check needs to know that the report does not state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    /// The kernel's timer tick rate (kernel command line `tick_hz=`), when
    /// the report does not state it (no `instrument` record, or one
    /// from before the record carried it: `tick_hz=0`).
    pub tick_hz: u32,
    /// The sample clock's rate per CPU (kernel `sample_hz=`), on the same
    /// terms.
    pub sample_hz: u32,
    /// Relative error allowed between the nominal tick rate and the one the
    /// LAPIC timer runs at, in parts per thousand (calibration error).
    pub rate_permille: u32,
    /// Of the expected ticks, how many parts per thousand may be missing
    /// (ticks the host never delivered: under TCG a vCPU that does not run
    /// for a whole period has its pending timer interrupt coalesced).
    pub lost_tick_permille: u32,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            tick_hz: capos_abi::guest::DEFAULT_TICK_HZ,
            sample_hz: capos_abi::guest::DEFAULT_SAMPLE_HZ,
            rate_permille: DEFAULT_RATE_PERMILLE,
            lost_tick_permille: DEFAULT_LOST_TICK_PERMILLE,
        }
    }
}

impl CheckConfig {
    /// The defaults for a guest of `vcpus` on a host of `host_cpus`, under
    /// TCG or not. Under TCG the host's timer thread delivers the ticks and
    /// a vCPU that does not run for a whole period has its ticks coalesced,
    /// so no lower bound follows from the kernel: it is not checked (a
    /// loaded 2-CPU host lost 48% of a 2-vCPU smoke's ticks), and the upper
    /// bound (no tick counted twice) still is. Otherwise, with more vCPUs
    /// than host CPUs, each vCPU runs at most `host_cpus / vcpus` of the
    /// time when the host shares fairly, so up to `1 - host_cpus / vcpus`
    /// of the ticks may be lost.
    pub fn for_run(vcpus: u32, host_cpus: u32, tcg: bool) -> Self {
        let d = CheckConfig::default();
        let share = if tcg {
            1000
        } else if vcpus > host_cpus && vcpus > 0 {
            1000 - (1000 * u64::from(host_cpus) / u64::from(vcpus)) as u32
        } else {
            0
        };
        CheckConfig { lost_tick_permille: d.lost_tick_permille.max(share), ..d }
    }
}

/// Calibration error allowed by default: the LAPIC count per tick comes
/// from a 20 ms window against the TSC, which came from 10 ms windows
/// against the PIT; each window's two ends are read a few microseconds
/// (under TCG, up to ~100 us) apart from the clock they time.
pub const DEFAULT_RATE_PERMILLE: u32 = 20;
/// Ticks the host may fail to deliver, by default (with hardware
/// virtualization; see [`CheckConfig::for_run`] for TCG).
pub const DEFAULT_LOST_TICK_PERMILLE: u32 = 100;

/// A row's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not checkable on this report, and why.
    Skip(String),
}

/// One identity on one phase and subject. `{}` prints it as a table row,
/// `{:#}` as one unpadded line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The identity's name (`timer_rate`, `lock_site_sum`, ...).
    pub identity: &'static str,
    /// The phase it was checked on (`None` for whole-report identities).
    pub phase: Option<Phase>,
    /// What was compared (`scheduler_lock.acquisitions`, `lock=heap`, ...).
    pub subject: String,
    pub expected: u64,
    pub measured: u64,
    /// Accepted range: `expected - below ..= expected + above`.
    pub below: u64,
    pub above: u64,
    pub verdict: Verdict,
}

impl Row {
    fn new(
        identity: &'static str,
        phase: Option<Phase>,
        subject: impl Into<String>,
        expected: u64,
        measured: u64,
        (below, above): (u64, u64),
    ) -> Row {
        let ok = measured >= expected.saturating_sub(below)
            && measured <= expected.saturating_add(above);
        Row {
            identity,
            phase,
            subject: subject.into(),
            expected,
            measured,
            below,
            above,
            verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        }
    }

    fn skip(identity: &'static str, phase: Option<Phase>, subject: &str, why: String) -> Row {
        Row {
            identity,
            phase,
            subject: subject.to_string(),
            expected: 0,
            measured: 0,
            below: 0,
            above: 0,
            verdict: Verdict::Skip(why),
        }
    }

    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }

    fn tolerance(&self) -> String {
        match (self.below, self.above) {
            (0, 0) => "exact".to_string(),
            (b, a) if a == b => format!("±{a}"),
            (b, a) => format!("-{b}/+{a}"),
        }
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = self.phase.map_or("-", Phase::name);
        if f.alternate() {
            // One line without column padding (for summaries).
            write!(f, "{} {} {}: ", self.identity, phase, self.subject)?;
        } else {
            write!(f, "{:<20} {:<11} {:<44} ", self.identity, phase, self.subject)?;
        }
        match &self.verdict {
            Verdict::Skip(why) => write!(f, "skipped: {why}"),
            v => write!(
                f,
                "expected={} measured={} tolerance={} {}",
                self.expected,
                self.measured,
                self.tolerance(),
                if *v == Verdict::Pass { "ok" } else { "FAILED" }
            ),
        }
    }
}

/// The whole table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckResult {
    pub rows: Vec<Row>,
}

impl CheckResult {
    /// Rows that were checked (not skipped).
    pub fn checked(&self) -> usize {
        self.rows.iter().filter(|r| !matches!(r.verdict, Verdict::Skip(_))).count()
    }

    pub fn failures(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.failed())
    }

    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The last line: `measure check: ok` or `measure check: FAILED (n of m)`.
    pub fn verdict_line(&self) -> String {
        let failed = self.failures().count();
        if failed == 0 {
            format!("measure check: ok ({} identities)", self.checked())
        } else {
            format!("measure check: FAILED ({failed} of {})", self.checked())
        }
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.rows {
            writeln!(f, "{row}")?;
        }
        writeln!(f, "{}", self.verdict_line())
    }
}

/// Why a report cannot be checked at all.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("the report is empty (no `measure: begin` line)")]
    NoBegin,
    #[error("the report is truncated (no `measure: end` line)")]
    NoEnd,
    #[error("the report has no phase checkpoints")]
    NoCheckpoints,
}

/// Reads a `measure.log` text and checks it.
pub fn check_log_text(text: &str, cfg: &CheckConfig) -> Result<CheckResult, CheckLogError> {
    if text.trim().is_empty() {
        return Err(CheckLogError::Empty);
    }
    let report = crate::log_parse::parse_measure_log(text)?;
    Ok(check(&report, cfg)?)
}

/// Why a `measure.log` text cannot be checked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckLogError {
    #[error("the file is empty")]
    Empty,
    #[error(transparent)]
    Parse(#[from] crate::log_parse::ParseError),
    #[error(transparent)]
    Report(#[from] CheckError),
}

/// Checks every identity on `report`.
pub fn check(report: &Report, cfg: &CheckConfig) -> Result<CheckResult, CheckError> {
    let begin = report.begin.ok_or(CheckError::NoBegin)?;
    let end = report.end.ok_or(CheckError::NoEnd)?;
    if report.checkpoints.is_empty() {
        return Err(CheckError::NoCheckpoints);
    }
    let c = Ctx { r: report, cpus: u64::from(begin.cpus.max(1)), tsc_khz: begin.tsc_khz, cfg };
    let mut rows = Vec::new();
    for phase in report.phases() {
        c.timer_rate(phase, &mut rows);
        c.timer_split(phase, &mut rows);
        c.scheduler_choice(phase, &mut rows);
        c.sample_rate(phase, &mut rows);
        c.samples_per_interrupt(phase, &mut rows);
        c.idle_samples(phase, &mut rows);
        c.sample_lines(phase, &mut rows);
        c.lock_site_sum(phase, &mut rows);
        c.lock_hists(phase, &mut rows);
        c.contention(phase, &mut rows);
        c.lock_pairs(phase, &mut rows);
        c.handoff_bound(phase, &mut rows);
    }
    c.final_total(&mut rows);
    c.timed_samples(&mut rows);
    c.cpu_time(&mut rows);
    c.thread_time(&mut rows);
    c.run_delay(&mut rows);
    let decoded = record_count(report);
    rows.push(Row::new(
        "end_records",
        None,
        "records in the log = end records - lost",
        end.records.saturating_sub(end.lost),
        decoded,
        (0, 0),
    ));
    rows.push(Row::new("records_lost", None, "end lost", 0, end.lost, (0, 0)));
    Ok(CheckResult { rows })
}

/// Records the report holds, counted the way the guest counts what it sends
/// before `End` (load maps are sent on their own and not counted). A new
/// record kind must be counted here; the test
/// `record_count_matches_what_the_guest_sends` fails until it is.
pub fn record_count(r: &Report) -> u64 {
    let n = usize::from(r.begin.is_some())
        + r.checkpoints.len()
        + r.counters.len()
        + r.hists.len()
        + r.pc_samples.len()
        + r.stack_samples.len()
        + r.contention_stacks.len()
        + r.lock_pairs.len()
        + r.trace.len()
        + r.trace_dropped.len()
        + r.thread_ops.len()
        + r.thread_names.len()
        + r.stack_defs.len()
        + r.cpu_time.len()
        + r.thread_time.len()
        + r.run_delay.len()
        + r.run_delay_worst.len()
        + r.offcpu_stacks.len()
        + timed_batches(r)
        + usize::from(r.instrument.is_some());
    n as u64
}

/// `TimedSamples` records: each CPU's samples in batches of
/// [`crate::record::TIMED_BATCH`].
fn timed_batches(r: &Report) -> usize {
    let mut per_cpu: std::collections::BTreeMap<u8, usize> = Default::default();
    for s in &r.timed_samples {
        *per_cpu.entry(s.cpu).or_default() += 1;
    }
    per_cpu.values().map(|n| n.div_ceil(crate::record::TIMED_BATCH)).sum()
}
