//! Per-worker placement history: for each thread of a user process, which
//! CPU it ran on over the work phase, from the time-ordered samples (every
//! sample carries its CPU and thread). The phase is cut into [`BUCKETS`]
//! equal slices; a cell is the CPU with most of the thread's samples in
//! that slice (`-`: none; `2*`: CPU 2, and others too). `CPU changes`
//! counts consecutive samples of the thread on different CPUs (an upper
//! bound for a sample clock on every CPU cannot see a migration between two
//! samples that land on the same CPU, and a lower bound for moves and back
//! between two samples).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_measure::record::SampleMode;
use capos_measure::report::Report;

use crate::error::ProfileError;
use crate::index_html::Table;

/// Slices of the work phase.
pub const BUCKETS: usize = 10;
/// File name.
pub const FILE: &str = "placement.txt";

/// A thread's pid, the mode of one of its samples, and its (tsc, cpu).
type ThreadSamples = (u32, SampleMode, Vec<(u64, u8)>);

/// One thread's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementRow {
    pub label: String,
    pub samples: u64,
    pub cpu_changes: u64,
    /// Per slice: (CPU with most samples, whether others had some too).
    pub cells: Vec<Option<(u8, bool)>>,
}

/// The placement table of a run's work phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Length of one slice in TSC cycles.
    pub slice_cycles: u64,
    /// TSC kHz (0: unknown).
    pub tsc_khz: u64,
    pub rows: Vec<PlacementRow>,
}

impl Placement {
    /// From `r`'s time-ordered samples of user-process threads in the work
    /// phase; empty without a work phase or samples.
    pub fn of(r: &Report) -> Placement {
        let (Some(&start), Some(&end)) =
            (r.checkpoints.get(&Phase::Work), r.checkpoints.get(&Phase::Shutdown))
        else {
            return Placement::default();
        };
        let len = end.saturating_sub(start).max(1);
        let mut by_thread: BTreeMap<u64, ThreadSamples> = BTreeMap::new();
        for s in &r.timed_samples {
            let Some((tag, _)) = r.stack_defs.get(&s.stack) else { continue };
            if tag.pid == 0 || s.tsc < start || s.tsc >= end {
                continue;
            }
            let e = by_thread.entry(tag.tid).or_insert((tag.pid, tag.mode, Vec::new()));
            e.2.push((s.tsc, s.cpu));
        }
        let mut rows: Vec<PlacementRow> = by_thread
            .into_iter()
            .map(|(tid, (pid, mode, mut samples))| {
                samples.sort_unstable();
                let mut counts = vec![BTreeMap::<u8, u64>::new(); BUCKETS];
                for (tsc, cpu) in &samples {
                    let b = ((tsc - start) as u128 * BUCKETS as u128 / len as u128) as usize;
                    *counts[b.min(BUCKETS - 1)].entry(*cpu).or_default() += 1;
                }
                let cells = counts
                    .iter()
                    .map(|c| {
                        let (&cpu, _) = c.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
                        Some((cpu, c.len() > 1))
                    })
                    .collect();
                let cpu_changes = samples.windows(2).filter(|w| w[0].1 != w[1].1).count() as u64;
                PlacementRow {
                    label: r.thread_label(pid, tid, mode),
                    samples: samples.len() as u64,
                    cpu_changes,
                    cells,
                }
            })
            .collect();
        rows.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.label.cmp(&b.label)));
        let tsc_khz = r.begin.map_or(0, |b| b.tsc_khz);
        Placement { slice_cycles: len / BUCKETS as u64, tsc_khz, rows }
    }

    /// Length of one slice in ms (0 when the TSC rate is unknown).
    pub fn slice_ms(&self) -> f64 {
        if self.tsc_khz == 0 {
            return 0.0;
        }
        self.slice_cycles as f64 / self.tsc_khz as f64
    }

    fn header(&self) -> Vec<String> {
        let mut h = vec!["thread".to_string(), "samples".into(), "CPU changes".into()];
        h.extend((0..BUCKETS).map(|i| {
            if self.tsc_khz > 0 {
                format!("{:.0} ms", i as f64 * self.slice_ms())
            } else {
                format!("slice {i}")
            }
        }));
        h
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut c = vec![r.label.clone(), r.samples.to_string(), r.cpu_changes.to_string()];
                c.extend(r.cells.iter().map(|cell| match cell {
                    None => "-".to_string(),
                    Some((cpu, false)) => cpu.to_string(),
                    Some((cpu, true)) => format!("{cpu}*"),
                }));
                c
            })
            .collect()
    }

    const CAPTION: &'static str = "Placement: the CPU each thread ran on over the work phase \
         (most samples per slice; * = on others too)";

    /// The table for `index.html`.
    pub fn to_table(&self, prefix: &str) -> Table {
        Table {
            caption: format!("{prefix}{}", Self::CAPTION),
            header: self.header(),
            rows: self.cells(),
        }
    }

    /// Aligned text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n\n", Self::CAPTION);
        if self.rows.is_empty() {
            out.push_str("no time-ordered samples of user threads in the work phase\n");
            return out;
        }
        let header = self.header();
        let cells = self.cells();
        let width: Vec<usize> = (0..header.len())
            .map(|i| cells.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
            .collect();
        for row in std::iter::once(&header).chain(&cells) {
            let line: Vec<String> = row
                .iter()
                .zip(&width)
                .enumerate()
                .map(|(i, (c, w))| if i == 0 { format!("{c:<w$}") } else { format!("{c:>w$}") })
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        out
    }

    /// Writes [`FILE`] into `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ProfileError> {
        let path = dir.join(FILE);
        crate::error::write_file(&path, self.to_text())?;
        Ok(path)
    }
}
