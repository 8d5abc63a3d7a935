//! The benchmark run's `index.html`: one plain page (no network, no
//! external scripts or styles) that shows the summary tables, the gates,
//! capOS vs Linux, the top lock-contention sites, embeds the flamegraph
//! SVGs by relative path (`<object>`, so their own search and zoom work),
//! and per measured run links every per-process and per-thread flamegraph
//! by its label, with the who-ran-where tables ([`ThreadViews`]).
//!
//! The harness fills an [`IndexInput`] (also readable as JSON by the CLI).
//! All text is HTML-escaped; paths are written relative to the page and
//! percent-encoded. A referenced file that does not exist is shown as
//! "missing" instead of a dead link, and listed in [`IndexOutcome::missing`].

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{write_file, ProfileError};
use crate::graph::xml_escape as esc;
use crate::lock_pairs::LockPair;
use crate::lock_sites::LockSite;

/// File name of the page.
pub const INDEX_FILE: &str = "index.html";

/// Everything the page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexInput {
    pub title: String,
    /// Free lines under the title (benchmark, accel, commit, time).
    pub notes: Vec<String>,
    /// Tables in order: the speedup table, capOS vs Linux, ...
    pub tables: Vec<Table>,
    pub gates: Vec<GateResult>,
    /// Top contention sites (see [`crate::lock_sites`]), already trimmed.
    pub lock_sites: Vec<LockSite>,
    /// Top waiter -> holder pairs (see [`crate::lock_pairs`]), already trimmed.
    pub lock_pairs: Vec<LockPair>,
    /// SVGs to embed, relative to the page's directory (or absolute inside it).
    pub graphs: Vec<Artifact>,
    /// Other files to link: timeline.json, measure.log, results.csv, ...
    pub files: Vec<Artifact>,
    /// Preformatted text blocks (summary.log): (heading, text).
    pub preformatted: Vec<(String, String)>,
    /// Per measured run: its per-process and per-thread graphs and who ran
    /// where (see [`crate::RunProfile::thread_views`]).
    pub thread_views: Vec<ThreadViews>,
}

/// One run's per-process and per-thread graphs and who-ran-where tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThreadViews {
    /// The run (case label).
    pub heading: String,
    pub processes: Vec<GraphLink>,
    pub threads: Vec<GraphLink>,
    /// Threads with samples but no graph, and their samples.
    pub threads_left_out: usize,
    pub threads_left_out_samples: u64,
    /// Processes with samples but no graph.
    pub processes_left_out: usize,
    /// Most threads graphed (to say why some were left out).
    pub max_threads: usize,
    pub who_ran: Vec<Table>,
    /// `who-ran-where.txt`.
    pub who_ran_file: Option<PathBuf>,
    /// Each thread's CPU over the work phase.
    pub placement: Option<Table>,
}

/// A graph linked by its process or thread label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphLink {
    pub label: String,
    pub samples: u64,
    pub svg: PathBuf,
    pub folded: PathBuf,
}

/// A table of text cells.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads the first Markdown pipe table in `markdown` (header row,
    /// `|---|` separator, body rows). `None` when there is none.
    pub fn from_markdown(caption: impl Into<String>, markdown: &str) -> Option<Table> {
        let cells = |line: &str| -> Vec<String> {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|c| c.trim().to_string()).collect()
        };
        let lines: Vec<&str> = markdown.lines().collect();
        let start = lines.windows(2).position(|w| {
            w[0].trim_start().starts_with('|')
                && w[1].trim().starts_with('|')
                && w[1].contains("---")
        })?;
        let header = cells(lines[start]);
        let rows = lines[start + 2..]
            .iter()
            .take_while(|l| l.trim_start().starts_with('|'))
            .map(|l| cells(l))
            .collect();
        Some(Table { caption: caption.into(), header, rows })
    }
}

/// One gate's outcome, as the harness decided it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    /// `pass`, `fail`, `not collected`, ...
    pub status: String,
    pub detail: String,
}

/// A file the page embeds or links.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub title: String,
    pub path: PathBuf,
}

impl Artifact {
    pub fn new(title: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Artifact { title: title.into(), path: path.into() }
    }
}

/// What [`write_index`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexOutcome {
    pub path: PathBuf,
    /// Referenced files that did not exist (shown as missing on the page).
    pub missing: Vec<PathBuf>,
}

/// Writes `dir/index.html`.
pub fn write_index(input: &IndexInput, dir: &Path) -> Result<IndexOutcome, ProfileError> {
    crate::error::create_dir(dir)?;
    let (html, missing) = render_index(input, dir);
    let path = dir.join(INDEX_FILE);
    write_file(&path, html)?;
    Ok(IndexOutcome { path, missing })
}

/// The page's HTML, and the referenced files that do not exist under `dir`.
pub fn render_index(input: &IndexInput, dir: &Path) -> (String, Vec<PathBuf>) {
    let mut missing = Vec::new();
    let mut h = String::new();
    let title = if input.title.is_empty() { "capOS benchmark run" } else { &input.title };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    for n in &input.notes {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(n));
    }
    if !input.gates.is_empty() {
        let rows = input
            .gates
            .iter()
            .map(|g| vec![g.name.clone(), g.status.clone(), g.detail.clone()])
            .collect();
        let t = Table {
            caption: "Gates".into(),
            header: vec!["gate".into(), "status".into(), "detail".into()],
            rows,
        };
        table(&mut h, &t, Some(1));
    }
    for t in &input.tables {
        table(&mut h, t, None);
    }
    if !input.lock_sites.is_empty() {
        let header = ["family", "site", "acquisitions", "contended", "wait cycles", "hold cycles"];
        let rows = input
            .lock_sites
            .iter()
            .map(|s| {
                let n = [s.acquisitions, s.contended, s.wait_cycles, s.hold_cycles]
                    .map(|v| v.to_string());
                vec![
                    s.family.clone(),
                    s.site.clone(),
                    n[0].clone(),
                    n[1].clone(),
                    n[2].clone(),
                    n[3].clone(),
                ]
            })
            .collect();
        let t = Table {
            caption: "Top lock-contention sites".into(),
            header: header.map(String::from).to_vec(),
            rows,
        };
        table(&mut h, &t, None);
    }
    if !input.lock_pairs.is_empty() {
        let header = ["class", "waiter", "holder", "count", "wait cycles", "cross-CPU"];
        let rows = input
            .lock_pairs
            .iter()
            .map(|p| {
                let mut row = vec![p.class.clone(), p.waiter.clone(), p.holder.clone()];
                row.extend([p.count, p.wait_cycles, p.cross_cpu].map(|v| v.to_string()));
                row
            })
            .collect();
        let t = Table {
            caption: "Contended with: top waiter -> holder pairs".into(),
            header: header.map(String::from).to_vec(),
            rows,
        };
        table(&mut h, &t, None);
    }
    if !input.graphs.is_empty() {
        let _ = writeln!(h, "<h2>Flamegraphs</h2>");
    }
    for g in &input.graphs {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&g.title));
        match link(dir, &g.path, &mut missing) {
            Some(href) => {
                let _ = writeln!(
                    h,
                    "<p><a href=\"{href}\">{}</a></p>\n<object class=\"graph\" type=\"image/svg+xml\" data=\"{href}\">{}</object>",
                    esc(&g.path.display().to_string()),
                    esc(&g.title)
                );
            }
            None => {
                let _ = writeln!(
                    h,
                    "<p class=\"missing\">missing: {}</p>",
                    esc(&g.path.display().to_string())
                );
            }
        }
    }
    if !input.files.is_empty() {
        let _ = writeln!(h, "<h2>Files</h2>\n<ul>");
        for f in &input.files {
            let shown = esc(&f.path.display().to_string());
            match link(dir, &f.path, &mut missing) {
                Some(href) => {
                    let _ =
                        writeln!(h, "<li>{}: <a href=\"{href}\">{shown}</a></li>", esc(&f.title));
                }
                None => {
                    let _ = writeln!(
                        h,
                        "<li class=\"missing\">{}: missing {shown}</li>",
                        esc(&f.title)
                    );
                }
            }
        }
        let _ = writeln!(h, "</ul>\n<p class=\"note\">Open <code>timeline.json</code> at ui.perfetto.dev (\"Open trace file\") or chrome://tracing.</p>");
    }
    if !input.thread_views.is_empty() {
        let _ = writeln!(h, "<h2>Per-thread flamegraphs</h2>");
    }
    for v in &input.thread_views {
        thread_views(&mut h, v, dir, &mut missing);
    }
    for (heading, text) in &input.preformatted {
        let _ = writeln!(h, "<h2>{}</h2>\n<pre>{}</pre>", esc(heading), esc(text));
    }
    h.push_str("</body>\n</html>\n");
    (h, missing)
}

/// One run's graph links (processes, then threads) and who-ran tables.
fn thread_views(h: &mut String, v: &ThreadViews, dir: &Path, missing: &mut Vec<PathBuf>) {
    let _ = writeln!(h, "<h3>{}</h3>", esc(&v.heading));
    for (caption, what, list) in [
        ("Processes, work phase", "process", &v.processes),
        ("Threads, work phase", "thread", &v.threads),
    ] {
        if list.is_empty() {
            let _ = writeln!(h, "<p class=\"note\">{caption}: no samples.</p>");
            continue;
        }
        let _ = writeln!(
            h,
            "<table>\n<caption>{}</caption>\n<tr><th>{what}</th><th>samples</th><th>flamegraph</th></tr>",
            esc(caption)
        );
        for g in list {
            let files: Vec<String> = [(&g.svg, "svg"), (&g.folded, "folded")]
                .into_iter()
                .map(|(path, kind)| match link(dir, path, missing) {
                    Some(href) => format!("<a href=\"{href}\">{kind}</a>"),
                    None => format!("<span class=\"missing\">missing {kind}</span>"),
                })
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.label),
                g.samples,
                files.join(" ")
            );
        }
        let _ = writeln!(h, "</table>");
    }
    if v.threads_left_out > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more threads with samples ({} samples) have no graph: only the {} with the most samples are drawn.</p>",
            v.threads_left_out, v.threads_left_out_samples, v.max_threads
        );
    }
    if v.processes_left_out > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more processes with samples have no graph.</p>",
            v.processes_left_out
        );
    }
    for t in &v.who_ran {
        table(h, t, None);
    }
    if let Some(t) = &v.placement {
        table(h, t, None);
    }
    if let Some(path) = &v.who_ran_file {
        let shown = esc(&path.display().to_string());
        match link(dir, path, missing) {
            Some(href) => {
                let _ = writeln!(h, "<p>who ran where as text: <a href=\"{href}\">{shown}</a></p>");
            }
            None => {
                let _ = writeln!(h, "<p class=\"missing\">missing: {shown}</p>");
            }
        }
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;max-width:110em}\
table{border-collapse:collapse;margin:1em 0}caption{text-align:left;font-weight:bold;padding:.3em 0}\
th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left}th{background:#eee}\
.pass{background:#dfd}.fail{background:#fdd}.missing{color:#a00}.note{color:#444}\
object.graph{width:100%;min-height:30em;border:1px solid #ccc}pre{background:#f6f6f6;padding:.5em;overflow:auto}";

/// Writes a table; `status_col` marks cells `pass`/`fail` by class.
fn table(h: &mut String, t: &Table, status_col: Option<usize>) {
    let _ = writeln!(h, "<table>\n<caption>{}</caption>", esc(&t.caption));
    if !t.header.is_empty() {
        let cells: String = t.header.iter().map(|c| format!("<th>{}</th>", esc(c))).collect();
        let _ = writeln!(h, "<tr>{cells}</tr>");
    }
    for row in &t.rows {
        let cells: String = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let class = match (status_col == Some(i), c.as_str()) {
                    (true, "pass") => " class=\"pass\"",
                    (true, "fail") => " class=\"fail\"",
                    _ => "",
                };
                format!("<td{class}>{}</td>", esc(c))
            })
            .collect();
        let _ = writeln!(h, "<tr>{cells}</tr>");
    }
    let _ = writeln!(h, "</table>");
}

/// The page-relative, percent-encoded href of `path`, or `None` (recorded
/// in `missing`) when the file does not exist. Relative paths are relative
/// to `dir`; absolute ones are rewritten relative to it (`../` as needed).
fn link(dir: &Path, path: &Path, missing: &mut Vec<PathBuf>) -> Option<String> {
    let on_disk = if path.is_absolute() { path.to_path_buf() } else { dir.join(path) };
    if !on_disk.is_file() {
        missing.push(path.to_path_buf());
        return None;
    }
    let rel = if path.is_absolute() { relative_to(dir, path)? } else { path.to_path_buf() };
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::ParentDir => Some("..".to_string()),
            Component::Normal(s) => Some(percent_encode(&s.to_string_lossy())),
            _ => None,
        })
        .collect();
    Some(parts.join("/"))
}

/// `path` relative to `dir` (both made absolute first).
fn relative_to(dir: &Path, path: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    let path = std::path::absolute(path).ok()?;
    let (d, p): (Vec<Component>, Vec<Component>) =
        (dir.components().collect(), path.components().collect());
    let common = d.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &p[common..] {
        rel.push(c.as_os_str());
    }
    Some(rel)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
