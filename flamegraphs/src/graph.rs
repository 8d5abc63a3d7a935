//! Folded stacks -> `name.folded` + `name.svg` (drawn by `inferno`).
//!
//! Colours use inferno's `java` palette: frames ending in `_[k]` (kernel)
//! are orange, Rust paths (`::`) yellow, the rest red; differential graphs
//! are red (grew) and blue (shrank). A graph with nothing to draw still gets
//! an SVG, one that says why, so links in `index.html` never dangle.

use std::path::{Path, PathBuf};

use inferno::flamegraph::color::{MultiPalette, Palette};
use inferno::flamegraph::{self, Options};

use crate::error::{create_dir, write_file, ProfileError};
use crate::folded::Folded;

/// Titles and units of one graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphStyle {
    pub title: String,
    /// Shown under the title (what was sampled, caveats).
    pub subtitle: Option<String>,
    /// What a unit of weight is (`samples`, `wait cycles`).
    pub count_name: String,
}

impl GraphStyle {
    pub fn new(title: impl Into<String>, count_name: impl Into<String>) -> Self {
        GraphStyle { title: title.into(), subtitle: None, count_name: count_name.into() }
    }

    pub fn with_subtitle(mut self, subtitle: impl Into<String>) -> Self {
        self.subtitle = Some(subtitle.into());
        self
    }
}

/// The two files of one graph.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GraphFiles {
    pub folded: PathBuf,
    pub svg: PathBuf,
    /// Total weight drawn (0: the SVG is a "nothing to draw" page).
    pub total: u64,
    /// Where the data came from, in words.
    pub note: String,
}

/// Writes `dir/stem.folded` (the text as given) and `dir/stem.svg`.
/// `folded_text` may hold one count per line or two (differential).
pub fn write_graph(
    dir: &Path,
    stem: &str,
    style: &GraphStyle,
    folded_text: &str,
    note: &str,
) -> Result<GraphFiles, ProfileError> {
    create_dir(dir)?;
    let folded = dir.join(format!("{stem}.folded"));
    let svg = dir.join(format!("{stem}.svg"));
    let heaviest = column_totals(folded_text).into_iter().max().unwrap_or(0);
    if heaviest > MAX_TOTAL {
        return Err(ProfileError::TooHeavy { path: folded, total: heaviest });
    }
    write_file(&folded, folded_text)?;
    let total = total_weight(folded_text);
    let bytes = if total == 0 { empty_svg(style, note) } else { draw(style, folded_text, &svg)? };
    write_file(&svg, bytes)?;
    Ok(GraphFiles { folded, svg, total, note: note.to_string() })
}

fn draw(style: &GraphStyle, folded_text: &str, svg: &Path) -> Result<Vec<u8>, ProfileError> {
    let mut opt = Options::default();
    opt.title = style.title.clone();
    opt.subtitle = style.subtitle.clone();
    opt.count_name = style.count_name.clone();
    opt.colors = Palette::Multi(MultiPalette::Java);
    // Same name, same colour: graphs of different runs compare at a glance.
    opt.hash = true;
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opt, folded_text.lines(), &mut out)
        .map_err(|source| ProfileError::Flamegraph { path: svg.to_path_buf(), source })?;
    Ok(out)
}

/// Largest column total `inferno` is given (it sums counts in `usize`
/// without overflow checks of its own); [`Folded::scaled_for_drawing`]
/// keeps views under it.
///
/// [`Folded::scaled_for_drawing`]: crate::Folded::scaled_for_drawing
pub const MAX_TOTAL: u64 = 1 << 52;

/// Writes a [`Folded`] view as a graph, scaling its weights down by a power
/// of two first if their total exceeds [`MAX_TOTAL`] (noted in the subtitle).
/// The subtitle is where the data came from, then the style's own subtitle
/// if it has one (the instrument's limits, for views of a measure run).
pub fn write_folded(
    dir: &Path,
    stem: &str,
    style: &GraphStyle,
    folded: &Folded,
) -> Result<GraphFiles, ProfileError> {
    let (scaled, shift) = folded.scaled_for_drawing();
    let mut note = folded.source.describe().to_string();
    if shift > 0 {
        note.push_str(&format!("; weights divided by 2^{shift}"));
    }
    let subtitle = match &style.subtitle {
        Some(extra) => format!("{note}; {extra}"),
        None => note.clone(),
    };
    let style = style.clone().with_subtitle(subtitle);
    write_graph(dir, stem, &style, &scaled.to_text(), &note)
}

/// Per count column (1 or 2), the saturating sum over all lines.
fn column_totals(folded_text: &str) -> Vec<u64> {
    let mut totals = vec![0u64; 2];
    for line in folded_text.lines() {
        let mut words = line.rsplit(' ');
        for total in totals.iter_mut() {
            match words.next().and_then(|w| w.trim().parse::<u64>().ok()) {
                Some(n) => *total = total.saturating_add(n),
                None => break,
            }
        }
    }
    totals
}

/// Sum of the last count of every line (the "after" count of a
/// differential line); lines without a count weigh nothing.
fn total_weight(folded_text: &str) -> u64 {
    folded_text
        .lines()
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, n)| n.trim().parse::<u64>().ok()))
        .fold(0u64, u64::saturating_add)
}

/// A small valid SVG saying there is nothing to draw, and why.
fn empty_svg(style: &GraphStyle, note: &str) -> Vec<u8> {
    let text = format!("{}: nothing to draw ({note})", style.title);
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"1200\" height=\"60\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <text x=\"10\" y=\"34\" font-family=\"Verdana\" font-size=\"14\">{}</text>\n</svg>\n",
        xml_escape(&text)
    )
    .into_bytes()
}

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
