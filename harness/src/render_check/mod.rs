//! `render-check`: loads HTML pages (a benchmark run's `index.html`) from
//! disk in headless Chromium and fails on what a reader would see broken.
//!
//! A page fails when, while it loads and settles:
//! - it logs a console error (`console.error`, a failed `console.assert`,
//!   a browser error such as a blocked resource) or throws an uncaught
//!   exception, in the page or in a document it embeds;
//! - a resource fails to load (`Network.loadingFailed`, an HTTP status of
//!   400 or more), or a local file the page references (`<img>`,
//!   `<object>`, `<embed>`, `<iframe>`, `<link>`, `<script>`, `<a href>`)
//!   does not exist;
//! - an `<img>` does not decode (`HTMLImageElement.decode()` rejects, or
//!   its `naturalWidth` is 0), for example an SVG that is not well-formed;
//! - an embedded document (`<object>`, `<embed>`, `<iframe>`) has no
//!   frame, or its document holds a `parsererror` (XML that is not
//!   well-formed), or an `.svg` one's root is not `<svg>`.
//!
//! Every local `.svg` the page only links (`<a href>`) is then opened too,
//! with the same checks (inferno's flamegraphs run scripts).
//!
//! Mechanism: the Chrome DevTools protocol over `--remote-debugging-pipe`
//! (JSON messages ended by NUL; the browser reads fd 3 and writes fd 4).
//! `sh` moves our stdin/stdout pipes onto fds 3 and 4 before it `exec`s
//! Chromium, so there is no port, no websocket and no `unsafe`. Each page
//! gets its own tab; page scripts are inspected from an isolated world,
//! so the check's own script cannot disturb the page or be counted.

mod browser;
#[cfg(test)]
mod tests;
mod urls;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use self::browser::Browser;

#[derive(Args, Debug)]
pub struct RenderCheckArgs {
    /// HTML pages to check (e.g. a benchmark run's index.html).
    #[arg(required = true, value_name = "HTML")]
    pub pages: Vec<PathBuf>,
    /// The Chromium binary (default: $CAPOS_CHROMIUM, else `chromium`,
    /// `chromium-browser`, `google-chrome` or `google-chrome-stable` on PATH).
    #[arg(long, value_name = "PATH")]
    pub chromium: Option<PathBuf>,
    /// Most seconds one page, with the SVGs it links, may take.
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = crate::cli::parse_timeout)]
    pub timeout: Duration,
}

/// The environment variable naming the Chromium binary.
pub const CHROMIUM_ENV: &str = "CAPOS_CHROMIUM";

/// Binary names looked for on PATH, in order.
const CHROMIUM_NAMES: [&str; 4] =
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// `render-check`: checks every page; false when any has a problem.
pub fn run(a: &RenderCheckArgs) -> Result<bool> {
    let exe = find_chromium(a.chromium.as_deref())?;
    let mut browser = Browser::launch(&exe)?;
    let mut failed = 0;
    for page in &a.pages {
        match browser.check_page(page, a.timeout) {
            Ok(report) => {
                print!("{report}");
                if !report.ok() {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("render-check: {}: FAILED: {e:#}", page.display());
                failed += 1;
            }
        }
    }
    let pages = a.pages.len();
    if failed == 0 {
        println!("render-check: all {pages} pages rendered without problems");
    } else {
        println!("render-check: {failed} of {pages} pages have problems");
    }
    Ok(failed == 0)
}

/// The Chromium binary: `explicit`, else `$CAPOS_CHROMIUM`, else the first
/// of [`CHROMIUM_NAMES`] on PATH. The error says how to install it.
pub fn find_chromium(explicit: Option<&Path>) -> Result<PathBuf> {
    find_chromium_in(
        explicit,
        std::env::var_os(CHROMIUM_ENV).as_deref(),
        std::env::var_os("PATH").as_deref(),
    )
}

fn find_chromium_in(
    explicit: Option<&Path>,
    from_env: Option<&OsStr>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf> {
    const HINT: &str = "install it with `make deps` (Debian package `chromium`), \
                        or name the binary with --chromium or CAPOS_CHROMIUM";
    let given = explicit
        .map(|p| (p.to_path_buf(), "--chromium"))
        .or_else(|| from_env.filter(|v| !v.is_empty()).map(|v| (PathBuf::from(v), CHROMIUM_ENV)));
    if let Some((exe, what)) = given {
        if exe.is_file() {
            return Ok(exe);
        }
        if exe.components().count() == 1 {
            if let Some(found) = on_path(exe.as_os_str(), path_var) {
                return Ok(found);
            }
        }
        bail!("headless Chromium not found: {} ({what}) is not a file; {HINT}", exe.display());
    }
    for name in CHROMIUM_NAMES {
        if let Some(found) = on_path(OsStr::new(name), path_var) {
            return Ok(found);
        }
    }
    bail!("headless Chromium not found: none of {} is on PATH; {HINT}", CHROMIUM_NAMES.join(", "))
}

fn on_path(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// An `<img>` that decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub url: String,
    pub width: f64,
    pub height: f64,
}

/// A document the page embeds (`<object>`, `<embed>`, `<iframe>`) that
/// loaded and parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    pub tag: String,
    pub url: String,
    /// The local name of its root element (`svg`, `html`).
    pub root: String,
    /// Its root element's size as laid out, in CSS pixels.
    pub width: f64,
    pub height: f64,
}

/// What one page showed.
#[derive(Clone, Debug, Default)]
pub struct PageReport {
    pub page: PathBuf,
    pub images: Vec<Image>,
    pub embedded: Vec<Embedded>,
    /// Local links (`<a href>`) whose file exists.
    pub links: usize,
    /// Links to other schemes (http:, mailto:, ...), not followed.
    pub external_links: usize,
    /// Local `.svg` files that are only linked, opened and checked.
    pub svgs_opened: usize,
    /// Console messages of every level, browser messages and uncaught
    /// exceptions included.
    pub console_messages: usize,
    /// Console messages below error level (shown, not failed).
    pub notes: Vec<String>,
    /// Why the page fails; empty when it passes.
    pub problems: Vec<String>,
    /// The page's DOM after loading (`outerHTML` of its root element).
    pub dom: String,
}

impl PageReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// What was checked, in one line.
    pub fn counts(&self) -> String {
        format!(
            "{} images decoded, {} embedded documents parsed, {} links resolved \
             ({} linked SVGs opened, {} external links not followed), {} console messages",
            self.images.len(),
            self.embedded.len(),
            self.links,
            self.svgs_opened,
            self.external_links,
            self.console_messages
        )
    }
}

impl std::fmt::Display for PageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.ok() {
            "ok".to_string()
        } else {
            format!("FAILED, {} problems", self.problems.len())
        };
        writeln!(f, "render-check: {}: {verdict}: {}", self.page.display(), self.counts())?;
        for p in &self.problems {
            writeln!(f, "  problem: {p}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}
