//! Who ran where: per CPU, the samples of each (process, thread, mode), their
//! share of that CPU's samples, and the time they stand for.
//!
//! Samples are counted from PC samples, or from stack samples when those
//! are more (each sample interrupt records one of each, and either table
//! can refuse rows when full; the limits line says how many). The time is
//! `samples / sample_hz`: the sample clock ticks at about `sample_hz` on
//! each CPU, so a sample stands for one period of that CPU's time; without
//! a stated rate there is no time. Written as `who-ran-where.txt` for the
//! work phase and the whole run, and as tables for `index.html`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_measure::record::SampleTag;
use capos_measure::report::Report;
use serde::{Deserialize, Serialize};

use crate::error::{create_dir, write_file, ProfileError};
use crate::index_html::Table;
use crate::stacks::Scope;
use crate::threads::Threads;

/// File name of the text table.
pub const WHO_RAN_FILE: &str = "who-ran-where.txt";

/// One (CPU, process, thread, mode) row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoRanRow {
    pub cpu: u8,
    pub pid: u32,
    pub tid: u64,
    /// [`Report::process_label`].
    pub process: String,
    /// [`Report::thread_label`].
    pub thread: String,
    /// `user`, `kernel`, `idle` or `interrupt`.
    pub mode: String,
    pub samples: u64,
    /// All samples of this CPU in scope.
    pub cpu_samples: u64,
}

impl WhoRanRow {
    /// Share of this CPU's samples, in percent.
    pub fn share_percent(&self) -> f64 {
        if self.cpu_samples == 0 {
            0.0
        } else {
            self.samples as f64 * 100.0 / self.cpu_samples as f64
        }
    }

    /// Estimated time in seconds at `sample_hz` (0: unknown).
    pub fn seconds(&self, sample_hz: u64) -> Option<f64> {
        (sample_hz > 0).then(|| self.samples as f64 / sample_hz as f64)
    }
}

/// Who ran where in one scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoRan {
    /// `work` or `run`.
    pub scope: String,
    /// Which samples were counted, in words.
    pub source: String,
    /// The sample clock's rate per CPU (0: not stated).
    pub sample_hz: u64,
    /// By CPU, then most samples first.
    pub rows: Vec<WhoRanRow>,
}

/// Both scopes, as [`crate::write_run_profile`] writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoRanWhere {
    pub path: PathBuf,
    pub work: WhoRan,
    pub whole_run: WhoRan,
}

/// Samples by tag in `scope` from the larger of the two tables.
fn counts(report: &Report, scope: Scope) -> (BTreeMap<SampleTag, u64>, &'static str) {
    let add = |out: &mut BTreeMap<SampleTag, u64>, tag: &SampleTag, n: u64| {
        let slot = out.entry(*tag).or_default();
        *slot = slot.saturating_add(n);
    };
    let mut pcs = BTreeMap::new();
    let phases = scope.phases(report.pc_samples.keys().map(|(p, _, _)| *p));
    for ((phase, tag, _), n) in &report.pc_samples {
        if phases.contains(phase) {
            add(&mut pcs, tag, *n);
        }
    }
    let mut stacks = BTreeMap::new();
    let phases = scope.phases(report.stack_samples.keys().map(|(p, _, _)| *p));
    for ((phase, tag, _), n) in &report.stack_samples {
        if phases.contains(phase) {
            add(&mut stacks, tag, *n);
        }
    }
    let total = |m: &BTreeMap<SampleTag, u64>| m.values().fold(0u64, |a, n| a.saturating_add(*n));
    if total(&stacks) > total(&pcs) {
        (stacks, "stack samples")
    } else {
        (pcs, "PC samples")
    }
}

/// Who ran where in `scope`.
pub fn who_ran(report: &Report, threads: &Threads, scope: Scope) -> WhoRan {
    let (tags, source) = counts(report, scope);
    // (cpu, pid, tid, mode) -> samples; the lock held does not matter here.
    let mut by: BTreeMap<(u8, u32, u64, capos_measure::record::SampleMode), u64> = BTreeMap::new();
    let mut per_cpu: BTreeMap<u8, u64> = BTreeMap::new();
    for (tag, n) in tags {
        let slot = by.entry((tag.cpu, tag.pid, tag.tid, tag.mode)).or_default();
        *slot = slot.saturating_add(n);
        let cpu = per_cpu.entry(tag.cpu).or_default();
        *cpu = cpu.saturating_add(n);
    }
    let mut rows: Vec<WhoRanRow> = by
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((cpu, pid, tid, mode), samples)| {
            // The thread's own label when this row is its usual process;
            // a sample of a thread in another pid is labelled by that pid.
            let thread = match threads.get(tid) {
                Some(t) if t.pid == pid => t.label.clone(),
                _ => report.thread_label(pid, tid, mode),
            };
            WhoRanRow {
                cpu,
                pid,
                tid,
                process: report.process_label(pid),
                thread,
                mode: mode.name().to_string(),
                samples,
                cpu_samples: per_cpu.get(&cpu).copied().unwrap_or(0),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.cpu
            .cmp(&b.cpu)
            .then(b.samples.cmp(&a.samples))
            .then(a.process.cmp(&b.process))
            .then(a.thread.cmp(&b.thread))
            .then(a.mode.cmp(&b.mode))
    });
    WhoRan {
        scope: scope.name().to_string(),
        source: source.to_string(),
        sample_hz: report.instrument.map_or(0, |i| i.sample_hz),
        rows,
    }
}

fn scope_title(scope: &str) -> String {
    if scope == "run" {
        "whole run".to_string()
    } else {
        format!("{scope} phase")
    }
}

fn time_text(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_string(), |s| format!("{:.3} ms", s * 1000.0))
}

impl WhoRan {
    const HEADER: [&'static str; 7] =
        ["cpu", "process", "thread", "mode", "samples", "share", "est. time"];

    /// Cells of every row, as the text file and the page show them.
    fn cells(&self) -> Vec<[String; 7]> {
        self.rows
            .iter()
            .map(|r| {
                [
                    r.cpu.to_string(),
                    r.process.clone(),
                    r.thread.clone(),
                    r.mode.clone(),
                    r.samples.to_string(),
                    format!("{:.2}%", r.share_percent()),
                    time_text(r.seconds(self.sample_hz)),
                ]
            })
            .collect()
    }

    /// What was counted and how time is estimated.
    pub fn caption(&self) -> String {
        let time = if self.sample_hz > 0 {
            format!("est. time = samples / sample_hz ({} Hz per CPU)", self.sample_hz)
        } else {
            "sample_hz not stated: no time estimate".to_string()
        };
        format!(
            "Who ran where, {} ({}; share of each CPU's samples; {time})",
            scope_title(&self.scope),
            self.source
        )
    }

    /// This scope as a page table (`caption` prefixed by `prefix`).
    pub fn to_table(&self, prefix: &str) -> Table {
        Table {
            caption: format!("{prefix}{}", self.caption()),
            header: Self::HEADER.map(String::from).to_vec(),
            rows: self.cells().into_iter().map(|c| c.to_vec()).collect(),
        }
    }

    /// Aligned text: the caption, the header, one line per row (numbers
    /// right-aligned), and nothing-sampled said in words.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n\n", self.caption());
        let cells = self.cells();
        if cells.is_empty() {
            out.push_str("no samples in scope\n");
            return out;
        }
        let mut width = Self::HEADER.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: [&str; 7], out: &mut String| {
            let mut text = String::new();
            for (i, (c, w)) in cells.iter().zip(width).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                // Text columns left-aligned, numbers right-aligned.
                if (1..=3).contains(&i) {
                    let _ = write!(text, "{c}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(text, "{}{c}  ", " ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(Self::HEADER, &mut out);
        for row in &cells {
            line(row.each_ref().map(String::as_str), &mut out);
        }
        let mut totals: BTreeMap<u8, u64> = BTreeMap::new();
        for r in &self.rows {
            totals.insert(r.cpu, r.cpu_samples);
        }
        for (cpu, n) in totals {
            let time = if self.sample_hz > 0 {
                format!(" ({})", time_text(Some(n as f64 / self.sample_hz as f64)))
            } else {
                String::new()
            };
            let _ = writeln!(out, "cpu {cpu}: {n} samples{time}");
        }
        out
    }
}

/// Writes `dir/who-ran-where.txt` (work phase, then whole run).
pub fn write_who_ran(
    report: &Report,
    threads: &Threads,
    dir: &Path,
) -> Result<WhoRanWhere, ProfileError> {
    create_dir(dir)?;
    let work = who_ran(report, threads, Scope::Phase(Phase::Work));
    let whole_run = who_ran(report, threads, Scope::WholeRun);
    let path = dir.join(WHO_RAN_FILE);
    write_file(&path, format!("{}\n{}", work.to_text(), whole_run.to_text()))?;
    Ok(WhoRanWhere { path, work, whole_run })
}
