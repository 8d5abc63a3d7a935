//! Work-phase flamegraphs of one process (`flamegraph-work-pid<pid>`) and of
//! one thread (`flamegraph-work-t<index>`) each, beside the all-threads
//! `flamegraph-work`.
//!
//! A sample belongs to the thread and process of its tag; a thread's
//! kernel-mode samples are in its graph too, and the kernel's own threads
//! (idle, interrupts) are process `kernel` (pid 0). The samples are the
//! ones the all-threads graph draws (stacks, else PC samples), so a
//! process's total is the sum of its threads' totals, and the processes'
//! totals sum to the all-threads graph's. Only the [`MAX_THREAD_GRAPHS`]
//! threads (and [`MAX_PROCESS_GRAPHS`] processes) with the most samples
//! get a graph; [`PerThreadGraphs`] says how many were left out.
//!
//! [`fold_by_thread`] is the all-threads view with two root frames more,
//! `[process label]` and `[thread label]`, drawn as
//! `flamegraph-work-threads` beside the plain `flamegraph-work` (whose
//! lines tools and checks read unchanged).
//!
//! A thread's file is named by its slot index; when two threads drawn share
//! an index (a slot reused by a later generation) both files add the
//! generation: `flamegraph-work-t5g1`.

use std::collections::BTreeMap;
use std::path::Path;

use capos_measure::phase::Phase;
use capos_measure::record::SampleMode;
use capos_measure::report::Report;
use capos_symbolize::Resolver;
use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::folded::{fold_samples_where, FoldSource, Folded, Namer};
use crate::graph::{write_folded, GraphFiles, GraphStyle};
use crate::stacks::{tag_counts, Scope};
use crate::threads::{thread_index, Threads};

/// Most per-thread graphs written for one run.
pub const MAX_THREAD_GRAPHS: usize = 64;
/// Most per-process graphs written for one run.
pub const MAX_PROCESS_GRAPHS: usize = 64;

/// One graph of one process or thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewGraph {
    /// Process or thread label (`thread_scale:3`, `worker-1 (t5)`).
    pub label: String,
    pub pid: u32,
    /// The thread ref, `None` for a process graph.
    pub tid: Option<u64>,
    /// Samples of this process or thread in the work phase.
    pub samples: u64,
    pub files: GraphFiles,
}

/// What [`write_per_thread`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerThreadGraphs {
    /// Most samples first.
    pub processes: Vec<ViewGraph>,
    /// Most samples first.
    pub threads: Vec<ViewGraph>,
    /// Processes with samples but no graph (over [`MAX_PROCESS_GRAPHS`]).
    pub processes_left_out: usize,
    /// Threads with samples but no graph (over [`MAX_THREAD_GRAPHS`]).
    pub threads_left_out: usize,
    /// Samples of the threads left out.
    pub threads_left_out_samples: u64,
}

/// Work-phase samples per process and per thread (the samples the
/// all-threads work graph draws): `(pid -> n, tid -> n)`.
pub fn work_sample_counts(report: &Report) -> (BTreeMap<u32, u64>, BTreeMap<u64, u64>) {
    let (tags, _) = tag_counts(report, Scope::Phase(Phase::Work));
    let (mut pids, mut tids): (BTreeMap<u32, u64>, BTreeMap<u64, u64>) = Default::default();
    for (tag, n) in tags {
        let p = pids.entry(tag.pid).or_default();
        *p = p.saturating_add(n);
        let t = tids.entry(tag.tid).or_default();
        *t = t.saturating_add(n);
    }
    (pids, tids)
}

/// (key, samples), most samples first, then by key.
fn heaviest<K: Copy + Ord>(counts: &BTreeMap<K, u64>) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = counts.iter().map(|(k, n)| (*k, *n)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    all
}

/// Writes the per-process and per-thread work graphs into `dir`. `limits`
/// is the subtitle the all-threads graphs carry (the instrument's limits).
pub fn write_per_thread(
    report: &Report,
    resolver: &Resolver<'_>,
    threads: &Threads,
    limits: &str,
    dir: &Path,
) -> Result<PerThreadGraphs, ProfileError> {
    let scope = Scope::Phase(Phase::Work);
    let (pids, tids) = work_sample_counts(report);
    let style = |label: &str, samples: u64| {
        GraphStyle::new(format!("{label}: work phase"), "samples")
            .with_subtitle(format!("{samples} samples; {limits}"))
    };
    let mut out = PerThreadGraphs::default();
    let mut drawn = heaviest(&pids);
    let rest = drawn.split_off(drawn.len().min(MAX_PROCESS_GRAPHS));
    out.processes_left_out = rest.len();
    for (pid, samples) in drawn {
        let label = report.process_label(pid);
        let folded = fold_samples_where(report, resolver, scope, |t| t.pid == pid);
        let files = write_folded(
            dir,
            &format!("flamegraph-work-pid{pid}"),
            &style(&label, samples),
            &folded,
        )?;
        out.processes.push(ViewGraph { label, pid, tid: None, samples, files });
    }
    let mut drawn = heaviest(&tids);
    let rest = drawn.split_off(drawn.len().min(MAX_THREAD_GRAPHS));
    out.threads_left_out = rest.len();
    out.threads_left_out_samples = rest.iter().map(|r| r.1).fold(0, u64::saturating_add);
    let mut per_index: BTreeMap<u32, usize> = BTreeMap::new();
    for (tid, _) in &drawn {
        *per_index.entry(thread_index(*tid)).or_default() += 1;
    }
    for (tid, samples) in drawn {
        let index = thread_index(tid);
        let stem = if per_index.get(&index).copied().unwrap_or(0) > 1 {
            format!("flamegraph-work-t{index}g{}", tid >> 32)
        } else {
            format!("flamegraph-work-t{index}")
        };
        let (label, pid) = match threads.get(tid) {
            Some(t) => (t.label.clone(), t.pid),
            None => (threads.label(tid), 0),
        };
        let folded = fold_samples_where(report, resolver, scope, |t| t.tid == tid);
        let files = write_folded(dir, &stem, &style(&label, samples), &folded)?;
        out.threads.push(ViewGraph { label, pid, tid: Some(tid), samples, files });
    }
    Ok(out)
}

/// A label as one folded frame: in brackets, `;` (the frame separator)
/// replaced, and no line breaks.
fn label_frame(label: &str) -> String {
    let clean: String =
        label.chars().map(|c| if c == ';' || c.is_control() { '_' } else { c }).collect();
    format!("[{clean}]")
}

/// The samples of `scope` folded under `[process];[thread]` root frames
/// (stacks when there are any, else PCs, as [`crate::fold_samples`]).
pub fn fold_by_thread(
    report: &Report,
    resolver: &Resolver<'_>,
    threads: &Threads,
    scope: Scope,
) -> Folded {
    // (pid, tid, frames leaf first) -> samples, from one table.
    let mut by: BTreeMap<(u32, u64, Vec<u64>), u64> = BTreeMap::new();
    let add = |by: &mut BTreeMap<_, u64>, pid: u32, tid: u64, frames: Vec<u64>, n: u64| {
        let slot = by.entry((pid, tid, frames)).or_default();
        *slot = slot.saturating_add(n);
    };
    let phases = scope.phases(report.stack_samples.keys().map(|(p, _, _)| *p));
    for ((phase, tag, frames), n) in &report.stack_samples {
        if phases.contains(phase) {
            add(&mut by, tag.pid, tag.tid, frames.clone(), *n);
        }
    }
    let mut source = FoldSource::Stacks;
    if by.is_empty() {
        source = FoldSource::PcSamples;
        let phases = scope.phases(report.pc_samples.keys().map(|(p, _, _)| *p));
        for ((phase, tag, pc), n) in &report.pc_samples {
            if phases.contains(phase) {
                add(&mut by, tag.pid, tag.tid, vec![*pc], *n);
            }
        }
    }
    let mut namer = Namer::new(resolver);
    let mut folded = Folded::new(source);
    let mut labels: BTreeMap<(u32, u64), [String; 2]> = BTreeMap::new();
    for ((pid, tid, frames), n) in by {
        let root = labels.entry((pid, tid)).or_insert_with(|| {
            let thread = match threads.get(tid) {
                Some(t) if t.pid == pid => t.label.clone(),
                _ => report.thread_label(pid, tid, SampleMode::Kernel),
            };
            [label_frame(&report.process_label(pid)), label_frame(&thread)]
        });
        let mut all = root.to_vec();
        all.extend(namer.stack_in(Some(u64::from(pid)), &frames));
        folded.add(&all, n);
    }
    if folded.total == 0 {
        folded.source = FoldSource::Empty;
    }
    folded
}
