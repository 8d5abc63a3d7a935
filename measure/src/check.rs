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
//!   that has counted `interrupts` but not yet its sample, an acquisition
//!   that has counted `scheduler_lock` but not yet its site) can be split
//!   across the boundary. That is at most one event per CPU per boundary.
//!   A phase that starts at start-up has no start boundary (all zero).
//! * **Holds in progress.** A lock counts its acquisition when taken and its
//!   hold when released; at a snapshot at most one lock of a class is held
//!   per CPU (a CPU holds at most one run-queue lock; see
//!   `kernel/src/sched/dispatch.rs`).

use std::collections::BTreeMap;
use std::fmt;

use crate::catalogue::{
    kernel_pc_samples as kps, scheduler_lock as sl, scheduler_lock_site as site,
    shared_kernel_lock as sk, timer, user_pc_samples as ups, SchedLockSite, SharedLock,
};
use crate::declare::{Counter, Hist, Kind};
use crate::phase::Phase;
use crate::record::{ContentionClass, Mode};
use crate::report::Report;

/// What the check needs to know that the report does not state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    /// The kernel's timer tick rate (kernel command line `tick_hz=`).
    pub tick_hz: u32,
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
        c.samples_per_tick(phase, &mut rows);
        c.sample_lines(phase, &mut rows);
        c.lock_site_sum(phase, &mut rows);
        c.lock_hists(phase, &mut rows);
        c.contention(phase, &mut rows);
    }
    c.final_total(&mut rows);
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
        + r.trace.len()
        + r.trace_dropped.len();
    n as u64
}

struct Ctx<'a> {
    r: &'a Report,
    cpus: u64,
    tsc_khz: u64,
    cfg: &'a CheckConfig,
}

/// A phase's snapshot boundaries: (at its start, at its end), 0 or 1 each.
fn boundaries(r: &Report, phase: Phase) -> (u64, u64) {
    let first_mark = r.checkpoints.keys().copied().find(|p| *p != Phase::Boot);
    match phase {
        Phase::Boot => (0, 1),
        Phase::Aggregate => (0, 1),
        Phase::FinalTotal => (u64::from(first_mark.is_some_and(|p| p < Phase::FinalTotal)), 1),
        _ => (1, 1),
    }
}

/// The phases `final_total` sums: from the first non-boot mark (boot when
/// there is none) up to the `final_total` mark, those with a checkpoint.
fn final_total_members(r: &Report) -> Option<Vec<Phase>> {
    r.checkpoints.get(&Phase::FinalTotal)?;
    let first = [Phase::SpawnReady, Phase::Work, Phase::Shutdown]
        .into_iter()
        .find(|p| r.checkpoints.contains_key(p))
        .unwrap_or(Phase::Boot);
    Some(
        [Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown]
            .into_iter()
            .filter(|p| *p == first || (*p > first && r.checkpoints.contains_key(p)))
            .collect(),
    )
}

fn counter_name(c: Counter) -> String {
    let g = c.group_desc();
    match g.dim.label(c.dim as usize) {
        Some(l) => format!("{}.{} {}={l}", g.name, c.field_desc().name, g.dim.key),
        None => format!("{}.{}", g.name, c.field_desc().name),
    }
}

fn hist_name(h: Hist) -> String {
    let g = h.group_desc();
    match g.dim.label(h.dim as usize) {
        Some(l) => format!("{}_hist kind={} {}={l}", g.name, h.hist_desc().name, g.dim.key),
        None => format!("{}_hist kind={}", g.name, h.hist_desc().name),
    }
}

/// One lock statistics family: `scheduler_lock` or one `shared_kernel_lock`
/// entry, with its contention-stack class and lock indices.
struct LockFamily {
    name: String,
    acquisitions: Counter,
    contended: Counter,
    wait_cycles: Counter,
    wait_max: Counter,
    wait_hist: Hist,
    hold_hist: Hist,
    class: ContentionClass,
    /// Contention-stack lock indices that belong to this family.
    locks: Vec<u8>,
}

fn lock_families() -> Vec<LockFamily> {
    let mut out = vec![LockFamily {
        name: "scheduler_lock".into(),
        acquisitions: sl::acquisitions.into(),
        contended: sl::contended.into(),
        wait_cycles: sl::wait_cycles.into(),
        wait_max: sl::wait_max.into(),
        wait_hist: sl::wait.into(),
        hold_hist: sl::hold.into(),
        class: ContentionClass::SchedulerLock,
        locks: (0..SchedLockSite::ALL.len() as u8).collect(),
    }];
    for (i, l) in SharedLock::ALL.iter().enumerate() {
        out.push(LockFamily {
            name: format!("shared_kernel_lock lock={}", l.label()),
            acquisitions: sk::acquisitions.at(*l),
            contended: sk::contended.at(*l),
            wait_cycles: sk::wait_cycles.at(*l),
            wait_max: sk::wait_max.at(*l),
            wait_hist: sk::wait.at(*l),
            hold_hist: sk::hold.at(*l),
            class: ContentionClass::SharedKernelLock,
            locks: vec![i as u8],
        });
    }
    out
}

impl Ctx<'_> {
    fn get(&self, phase: Phase, c: impl Into<Counter>) -> u64 {
        self.r.counter(phase, c)
    }

    fn hist_entries(&self, phase: Phase, h: Hist) -> u64 {
        self.r.hists.get(&(phase, h)).map_or(0, |b| b.values().sum())
    }

    /// Events that may straddle this phase's boundaries: one per CPU each.
    fn straddle(&self, phase: Phase) -> u64 {
        let (s, e) = boundaries(self.r, phase);
        (s + e) * self.cpus
    }

    /// `timer.interrupts` = tick rate x CPUs x phase seconds. Checked on the
    /// phases after start-up: during `boot` the application processors
    /// start their timers one by one, and `aggregate` includes `boot`.
    fn timer_rate(&self, phase: Phase, rows: &mut Vec<Row>) {
        if matches!(phase, Phase::Boot | Phase::Aggregate) {
            return;
        }
        let subject = "timer.interrupts = tick_hz x cpus x seconds";
        let Some(&cycles) = self.r.phase_cycles.get(&phase) else {
            return rows.push(Row::skip(
                "timer_rate",
                Some(phase),
                subject,
                "no phase length".into(),
            ));
        };
        if self.tsc_khz == 0 {
            let why = "tsc_khz unknown".to_string();
            return rows.push(Row::skip("timer_rate", Some(phase), subject, why));
        }
        let seconds = cycles as f64 / (self.tsc_khz as f64 * 1000.0);
        let exact = f64::from(self.cfg.tick_hz) * self.cpus as f64 * seconds;
        let rate = exact * f64::from(self.cfg.rate_permille) / 1000.0;
        let lost = exact * f64::from(self.cfg.lost_tick_permille) / 1000.0;
        // Each CPU's periodic timer gives floor or ceil of its share in any
        // window: under one tick per CPU for the whole phase, plus one per
        // CPU per snapshot boundary for the tick in flight while it is read.
        let window = (self.cpus + self.straddle(phase)) as f64;
        let expected = exact.round() as u64;
        let lo = (exact - rate - lost - window).floor().max(0.0) as u64;
        let hi = (exact + rate + window).ceil() as u64;
        let measured = self.get(phase, timer::interrupts);
        rows.push(Row::new(
            "timer_rate",
            Some(phase),
            subject,
            expected,
            measured,
            (expected - lo.min(expected), hi.saturating_sub(expected)),
        ));
    }

    /// Every tick lands in user or kernel mode.
    fn timer_split(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        rows.push(Row::new(
            "timer_split",
            Some(phase),
            "timer.user_scheduler + kernel_only",
            self.get(phase, timer::interrupts),
            self.get(phase, timer::user_scheduler) + self.get(phase, timer::kernel_only),
            (t, t),
        ));
    }

    /// Every tick takes one PC sample and one stack sample (kept or lost
    /// to a full table).
    fn samples_per_tick(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let ticks = self.get(phase, timer::interrupts);
        let pcs = self.get(phase, ups::samples)
            + self.get(phase, ups::overflow)
            + self.get(phase, kps::samples)
            + self.get(phase, kps::overflow);
        rows.push(Row::new(
            "samples_per_tick",
            Some(phase),
            "user + kernel pc samples (+ overflow)",
            ticks,
            pcs,
            (t, t),
        ));
        let stacks = self.get(phase, ups::stacks)
            + self.get(phase, ups::stack_overflow)
            + self.get(phase, kps::stacks)
            + self.get(phase, kps::stack_overflow);
        rows.push(Row::new(
            "stacks_per_tick",
            Some(phase),
            "user + kernel stack samples (+ overflow)",
            ticks,
            stacks,
            (t, t),
        ));
    }

    /// The sample lines of a phase add up to its sample counters. Samples
    /// carry the phase that was current when taken, which changes after
    /// the mark's snapshot: one per CPU per boundary may differ.
    fn sample_lines(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        for (mode, samples, stacks, name) in [
            (Mode::User, Counter::from(ups::samples), Counter::from(ups::stacks), "user"),
            (Mode::Kernel, kps::samples.into(), kps::stacks.into(), "kernel"),
        ] {
            let pcs: u64 = (self.r.pc_samples.iter())
                .filter(|((p, m, _), _)| *p == phase && *m == mode)
                .map(|(_, n)| n)
                .sum();
            rows.push(Row::new(
                "pc_sample_lines",
                Some(phase),
                format!("{name}_pc_sample counts"),
                self.get(phase, samples),
                pcs,
                (t, t),
            ));
            let st: u64 = (self.r.stack_samples.iter())
                .filter(|((p, m, _), _)| *p == phase && *m == mode)
                .map(|(_, n)| n)
                .sum();
            rows.push(Row::new(
                "stack_sample_lines",
                Some(phase),
                format!("{name}_stack_sample counts"),
                self.get(phase, stacks),
                st,
                (t, t),
            ));
        }
    }

    /// `scheduler_lock` = the sum over its `scheduler_lock_site` sites.
    fn lock_site_sum(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let wait_max = self.get(Phase::Aggregate, sl::wait_max);
        let hold_max = self.get(Phase::Aggregate, sl::hold_max);
        let pairs: [(Counter, _, u64); 4] = [
            (sl::acquisitions.into(), site::acquisitions, 1),
            (sl::contended.into(), site::contended, 1),
            (sl::wait_cycles.into(), site::wait_cycles, wait_max),
            (sl::hold_cycles.into(), site::hold_cycles, hold_max),
        ];
        for (total, per_site, unit) in pairs {
            let sum: u64 =
                SchedLockSite::ALL.iter().map(|s| self.get(phase, per_site.at(*s))).sum();
            rows.push(Row::new(
                "lock_site_sum",
                Some(phase),
                format!("scheduler_lock_site.{} (all sites)", per_site.desc().name),
                self.get(phase, total),
                sum,
                (t * unit, t * unit),
            ));
        }
    }

    /// Wait histogram entries = contended acquisitions; hold histogram
    /// entries = acquisitions, less holds still in progress at the end,
    /// plus those in progress at the start.
    fn lock_hists(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let (s, e) = boundaries(self.r, phase);
        for f in lock_families() {
            let contended = self.get(phase, f.contended);
            let acq = self.get(phase, f.acquisitions);
            let waits = self.hist_entries(phase, f.wait_hist);
            let holds = self.hist_entries(phase, f.hold_hist);
            if contended + acq + waits + holds == 0 {
                continue;
            }
            rows.push(Row::new(
                "hist_wait",
                Some(phase),
                format!("{} contended", f.name),
                contended,
                waits,
                (t, t),
            ));
            let (below, above) = (t + e * self.cpus, t + s * self.cpus);
            rows.push(Row::new(
                "hist_hold",
                Some(phase),
                format!("{} acquisitions", f.name),
                acq,
                holds,
                (below, above),
            ));
        }
    }

    /// Contention stacks' counts and waits add up to the lock counters,
    /// unless the contention table overflowed.
    fn contention(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let overflow = self.get(phase, kps::contention_overflow);
        let mut by: BTreeMap<(u8, u8), (u64, u64)> = BTreeMap::new();
        for ((p, class, lock, _), (n, w)) in &self.r.contention_stacks {
            if *p == phase {
                let e = by.entry((*class, *lock)).or_default();
                e.0 += n;
                e.1 += w;
            }
        }
        let all: u64 = by.values().map(|(n, _)| n).sum();
        rows.push(Row::new(
            "contention_stacks",
            Some(phase),
            "kernel_pc_samples.contention_stacks",
            self.get(phase, kps::contention_stacks),
            all,
            (t, t),
        ));
        for f in lock_families() {
            let (n, w) = f
                .locks
                .iter()
                .filter_map(|l| by.get(&(f.class as u8, *l)))
                .fold((0, 0), |(n, w), (a, b)| (n + a, w + b));
            let contended = self.get(phase, f.contended);
            let wait = self.get(phase, f.wait_cycles);
            if n + w + contended + wait == 0 {
                continue;
            }
            if overflow > 0 {
                let why = format!("{overflow} contention stacks overflowed");
                rows.push(Row::skip("contention_wait", Some(phase), &f.name, why));
                continue;
            }
            let unit = self.get(Phase::Aggregate, f.wait_max);
            rows.push(Row::new(
                "contention_count",
                Some(phase),
                format!("{} contended", f.name),
                contended,
                n,
                (t, t),
            ));
            rows.push(Row::new(
                "contention_wait",
                Some(phase),
                format!("{} wait_cycles", f.name),
                wait,
                w,
                (t * unit, t * unit),
            ));
        }
    }

    /// `final_total` is the sum (for `max` fields the maximum, for
    /// histograms the bucket-wise sum) of the phases it covers. Both sides
    /// come from the same snapshots, so this is exact. `min` fields are not
    /// checked: a phase that saw nothing reports 0, indistinguishable from
    /// a seen 0.
    fn final_total(&self, rows: &mut Vec<Row>) {
        let Some(members) = final_total_members(self.r) else { return };
        let ft = Phase::FinalTotal;
        for c in Counter::all() {
            let values = members.iter().map(|p| self.get(*p, c));
            let expected = match c.kind {
                Kind::Sum => values.fold(0u64, u64::wrapping_add),
                Kind::Max => values.max().unwrap_or(0),
                Kind::Min => continue,
            };
            let measured = self.get(ft, c);
            if expected == 0 && measured == 0 {
                continue;
            }
            let id = if c.kind == Kind::Sum { "final_total_sum" } else { "final_total_max" };
            rows.push(Row::new(id, Some(ft), counter_name(c), expected, measured, (0, 0)));
        }
        for h in Hist::all() {
            let mut sum: BTreeMap<u8, u64> = BTreeMap::new();
            for p in &members {
                for (b, n) in self.r.hists.get(&(*p, h)).into_iter().flatten() {
                    *sum.entry(*b).or_default() += n;
                }
            }
            let got = self.r.hists.get(&(ft, h)).cloned().unwrap_or_default();
            if sum.is_empty() && got.is_empty() {
                continue;
            }
            let mut row = Row::new(
                "final_total_hist",
                Some(ft),
                hist_name(h),
                sum.values().sum(),
                got.values().sum(),
                (0, 0),
            );
            if sum != got {
                row.verdict = Verdict::Fail;
            }
            rows.push(row);
        }
    }
}
