//! Host-side profiling views of one capOS measure report (and of two, for a
//! differential), for the benchmark harness and for people.
//!
//! Design principles:
//!
//! 1. **Every sample lands somewhere.** Addresses resolve through
//!    [`capos_symbolize::Resolver`]; what no ELF covers becomes an explicit
//!    `<unmapped>` frame, so a graph's total equals the report's samples.
//! 2. **Folded text is the source of every SVG** and is kept beside it
//!    (`name.folded` + `name.svg`), so graphs can be re-drawn or diffed with
//!    any FlameGraph-compatible tool.
//! 3. **Bad input is an error or a note, never a panic**: a missing or
//!    stripped ELF shows up in the names, an empty graph gets an SVG that
//!    says so, and I/O failures are [`ProfileError`]s.
//!
//! Modules: [`stacks`] (which samples a view uses), [`threads`] (which
//! process a thread belongs to, and its label), [`folded`] (samples ->
//! folded stacks), [`per_thread`] (one graph per process and per thread),
//! [`who_ran`](mod@who_ran) (per-CPU samples by process and thread), [`graph`] (folded
//! -> `.folded` + `.svg` via `inferno`), [`contention`] (lock-wait graph),
//! [`differential`] (1 vs N workers), [`lock_pairs`] (top waiter -> holder
//! pairs, `lock-pairs.txt`), [`lock_sites`] (top contention sites
//! from counters), [`timeline`] (Chrome trace-event JSON for Perfetto) with
//! [`flame_chart`] (samples in time order per thread), [`index_html`] (the
//! run's `index.html`), [`run`] (all per-run views in one call).
#![forbid(unsafe_code)]

pub mod contention;
pub mod counters;
pub mod differential;
mod error;
pub mod flame_chart;
pub mod folded;
pub mod graph;
pub mod index_html;
pub mod lock_pairs;
pub mod lock_sites;
pub mod offcpu;
pub mod per_thread;
pub mod perf_script;
pub mod placement;
pub mod plots;
pub mod run;
pub mod stacks;
pub mod threads;
pub mod timeline;
pub mod wake_flows;
pub mod who_ran;

pub use contention::{fold_contention, hottest_path};
pub use differential::{differential_folded, write_differential};
pub use error::ProfileError;
pub use folded::{fold_samples, fold_samples_where, FoldSource, Folded};
pub use graph::{write_folded, write_graph, GraphFiles, GraphStyle, MAX_TOTAL};
pub use index_html::{
    render_index, write_index, Artifact, GateResult, GraphLink, IndexInput, IndexOutcome, Table,
    ThreadViews, INDEX_FILE,
};
pub use lock_pairs::{lock_pairs, LockPair};
pub use lock_sites::{lock_sites, LockSite};
pub use per_thread::{PerThreadGraphs, ViewGraph, MAX_THREAD_GRAPHS};
pub use perf_script::{perf_script, PERF_SCRIPT_FILE};
pub use plots::{
    lock_hist_svg, loss_bars_svg, speedup_svg, stacked_bars_svg, write_lock_hists, write_loss_bars,
    write_speedup, write_state_bars, HistSeries, LossBar, SpeedupSeries,
};
pub use run::{write_run_profile, RunProfile};
pub use stacks::Scope;
pub use timeline::{
    timeline_json, timeline_json_resolved, write_timeline, write_timeline_resolved, TIMELINE_FILE,
};
pub use who_ran::{who_ran, WhoRan, WhoRanRow, WhoRanWhere, WHO_RAN_FILE};
