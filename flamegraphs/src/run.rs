//! Every per-run view in one call: `user-pc-symbols.log`,
//! `guest-symbol-map.txt`, the work-phase and whole-run flamegraphs, the
//! whole-run contention graph and the timeline, all in one directory and
//! sharing one load of the ELFs.
//!
//! | file | what |
//! |---|---|
//! | `user-pc-symbols.log` | PC samples by binary and nearest symbol |
//! | `guest-symbol-map.txt` | symbol tables of the ELFs used |
//! | `flamegraph-work.folded` / `.svg` | stacks sampled in the `work` phase |
//! | `flamegraph-work-threads.folded` / `.svg` | the same stacks under `[process];[thread]` root frames |
//! | `flamegraph-work-pid<pid>.folded` / `.svg` | work-phase stacks of one process (see [`crate::per_thread`]) |
//! | `flamegraph-work-t<index>.folded` / `.svg` | work-phase stacks of one thread (the 64 with the most samples) |
//! | `flamegraph-run.folded` / `.svg` | stacks of the whole run |
//! | `contention-run.folded` / `.svg` | stacks at contended lock acquisitions over the whole run, by wait cycles (the syscall-free work phase of a CPU-bound benchmark usually has none) |
//! | `contention-work.folded` / `.svg` | the same, work phase only (the call paths behind a scaling loss's locks) |
//! | `samples.perf.txt` | the time-ordered samples as `perf script` text (see [`crate::perf_script`]) |
//! | `lock-pairs.txt` | the top waiter -> holder pairs of contended lock acquisitions, work phase and whole run (see [`crate::lock_pairs`]) |
//! | `offcpu-run.folded` / `.svg` | kernel stacks where threads blocked over the whole run, under `[blocked <reason>]` root frames, weighted by blocked cycles (see [`crate::offcpu`]) |
//! | `placement.txt` | per thread of a user process, the CPU it ran on in each tenth of the work phase and its CPU changes (see [`crate::placement`](mod@crate::placement)) |
//! | `who-ran-where.txt` | per CPU, samples by process, thread and mode, their share and estimated time, for the work phase and the whole run (see [`crate::who_ran`](mod@crate::who_ran)) |
//! | `timeline.json` | per-CPU scheduling timeline, and per-thread tracks with the samples as a flame chart (Perfetto) |

use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_symbolize::{
    write_pc_report_resolved, Binaries, ElfPaths, PcReportPaths, ReportInput, Resolver,
};

use crate::contention::fold_contention;
use crate::error::ProfileError;
use crate::folded::fold_samples;
use crate::graph::{write_folded, GraphFiles, GraphStyle};
use crate::index_html::{GraphLink, ThreadViews};
use crate::lock_pairs::{lock_pairs, write_lock_pairs, LockPair};
use crate::lock_sites::{lock_sites, LockSite};
use crate::per_thread::{
    fold_by_thread, write_per_thread, PerThreadGraphs, ViewGraph, MAX_THREAD_GRAPHS,
};
use crate::placement::Placement;
use crate::stacks::Scope;
use crate::threads::Threads;
use crate::timeline::write_timeline_resolved;
use crate::who_ran::{write_who_ran, WhoRanWhere};

/// What [`write_run_profile`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunProfile {
    pub pc_report: PcReportPaths,
    pub work: GraphFiles,
    /// The work-phase graph under process and thread root frames.
    pub work_by_thread: GraphFiles,
    /// Per-process and per-thread work-phase graphs.
    pub per_thread: PerThreadGraphs,
    pub whole_run: GraphFiles,
    pub contention: GraphFiles,
    /// The work phase's lock contention graph.
    pub contention_work: GraphFiles,
    /// Blocked time by reason and kernel stack, whole run.
    pub offcpu: GraphFiles,
    pub timeline: std::path::PathBuf,
    /// `who-ran-where.txt` and its rows.
    pub who_ran: WhoRanWhere,
    /// Contention sites of the `work` phase, most wait cycles first.
    pub lock_sites: Vec<LockSite>,
    /// `lock-pairs.txt`.
    pub lock_pairs_file: PathBuf,
    /// Waiter -> holder pairs of the whole run, most wait cycles first.
    pub lock_pairs: Vec<LockPair>,
    /// Per-thread placement over the work phase (`placement.txt`).
    pub placement: Placement,
}

impl RunProfile {
    /// The run's per-thread section of `index.html`, under `heading`, with
    /// every path passed through `rel` (made relative to the page).
    pub fn thread_views(&self, heading: &str, rel: impl Fn(&Path) -> PathBuf) -> ThreadViews {
        let links = |list: &[ViewGraph]| -> Vec<GraphLink> {
            list.iter()
                .map(|g| GraphLink {
                    label: g.label.clone(),
                    samples: g.samples,
                    svg: rel(&g.files.svg),
                    folded: rel(&g.files.folded),
                })
                .collect()
        };
        let t = &self.per_thread;
        ThreadViews {
            heading: heading.to_string(),
            processes: links(&t.processes),
            threads: links(&t.threads),
            threads_left_out: t.threads_left_out,
            threads_left_out_samples: t.threads_left_out_samples,
            processes_left_out: t.processes_left_out,
            max_threads: MAX_THREAD_GRAPHS,
            who_ran: [&self.who_ran.work, &self.who_ran.whole_run]
                .into_iter()
                .map(|w| w.to_table(""))
                .collect(),
            who_ran_file: Some(rel(&self.who_ran.path)),
            placement: Some(self.placement.to_table("")),
        }
    }
}

/// Writes all per-run views of `input` into `dir`.
pub fn write_run_profile(
    input: &ReportInput,
    elfs: &ElfPaths,
    dir: &Path,
) -> Result<RunProfile, ProfileError> {
    let report = &input.report;
    let bins = Binaries::load(elfs, report.load_maps.iter().map(|m| m.binary.as_str()));
    let resolver = Resolver::new(&bins, &report.load_maps);
    let pc_report = write_pc_report_resolved(report, &bins, &resolver, dir)?;
    // Every graph states the instrument's limits for its scope.
    let style = |title: &str, unit: &str, scope: Scope| {
        GraphStyle::new(title, unit).with_subtitle(report.limits(scope.phase()).summary())
    };
    let work_scope = Scope::Phase(Phase::Work);
    let work = fold_samples(report, &resolver, work_scope);
    let work = write_folded(
        dir,
        "flamegraph-work",
        &style("capOS work phase", "samples", work_scope),
        &work,
    )?;
    let threads = Threads::of(report);
    let limits = report.limits(Phase::Work).summary();
    let by_thread = fold_by_thread(report, &resolver, &threads, work_scope);
    let work_by_thread = write_folded(
        dir,
        "flamegraph-work-threads",
        &style("capOS work phase by process and thread", "samples", work_scope),
        &by_thread,
    )?;
    let per_thread = write_per_thread(report, &resolver, &threads, &limits, dir)?;
    let run = fold_samples(report, &resolver, Scope::WholeRun);
    let whole_run = write_folded(
        dir,
        "flamegraph-run",
        &style("capOS whole run", "samples", Scope::WholeRun),
        &run,
    )?;
    let lock = fold_contention(report, &input.contention, &resolver, Scope::WholeRun);
    let contention = write_folded(
        dir,
        "contention-run",
        &style("capOS lock contention, whole run", "wait cycles", Scope::WholeRun),
        &lock,
    )?;
    let work_lock = fold_contention(report, &input.contention, &resolver, work_scope);
    let contention_work = write_folded(
        dir,
        "contention-work",
        &style("capOS lock contention, work phase", "wait cycles", work_scope),
        &work_lock,
    )?;
    let blocked = crate::offcpu::fold_offcpu(report, &resolver, Scope::WholeRun);
    let offcpu = write_folded(
        dir,
        "offcpu-run",
        &style("capOS off-CPU time, whole run", "blocked cycles", Scope::WholeRun),
        &blocked,
    )?;
    let timeline = write_timeline_resolved(report, &resolver, dir)?;
    crate::error::write_file(
        &dir.join(crate::PERF_SCRIPT_FILE),
        crate::perf_script(report, &resolver),
    )?;
    let who_ran = write_who_ran(report, &threads, dir)?;
    let placement = Placement::of(report);
    placement.write(dir)?;
    let lock_pairs_file = write_lock_pairs(report, dir)?;
    Ok(RunProfile {
        pc_report,
        work,
        work_by_thread,
        per_thread,
        whole_run,
        contention,
        contention_work,
        offcpu,
        timeline,
        who_ran,
        lock_sites: lock_sites(report, Phase::Aggregate),
        lock_pairs_file,
        lock_pairs: lock_pairs(report, Phase::Aggregate),
        placement,
    })
}
