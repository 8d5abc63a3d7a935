//! The catalogue as Markdown, and the check that `docs/measure.md` mentions
//! every declared group and field.

use std::fmt::Write;

use crate::catalogue::GROUPS;
use crate::declare::DimLabels;

/// Reference section for `docs/measure.md`: one table per group.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for g in GROUPS {
        let _ = writeln!(out, "### `{}`\n\n{}\n\nCost: {}\n", g.name, g.doc, g.cost);
        match g.dim.labels {
            DimLabels::None => {}
            DimLabels::Named(names) => {
                let labels: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                let _ = writeln!(out, "One line per `{}=`: {}.\n", g.dim.key, labels.join(", "));
            }
            DimLabels::Cpu(n) => {
                let _ = writeln!(
                    out,
                    "One line per `{}=` slot `0..{n}` (up to the reported CPU count).\n",
                    g.dim.key
                );
            }
        }
        let _ = writeln!(out, "| field | kind | meaning |\n|---|---|---|");
        for f in g.fields {
            let _ = writeln!(out, "| `{}` | {} | {} |", f.name, f.kind.name(), f.doc);
        }
        for h in g.hists {
            let _ = writeln!(
                out,
                "| `{}` (`{}_hist kind={}`) | log2 histogram | {} |",
                h.name, g.name, h.name, h.doc
            );
        }
        out.push('\n');
    }
    out
}

/// Names the docs fail to mention, as `group` or `group.field`. A group is
/// documented by a `` ### `group` `` heading; its fields and histograms must
/// appear as `` `field` `` between that heading and the next one.
pub fn missing_from_docs(markdown: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for g in GROUPS {
        let heading = format!("### `{}`", g.name);
        let Some(start) = markdown.find(&heading) else {
            missing.push(g.name.to_string());
            continue;
        };
        let body = &markdown[start + heading.len()..];
        let section = &body[..body.find("\n#").unwrap_or(body.len())];
        let names = g.fields.iter().map(|f| f.name).chain(g.hists.iter().map(|h| h.name));
        for name in names {
            if !section.contains(&format!("`{name}`")) {
                missing.push(format!("{}.{name}", g.name));
            }
        }
    }
    missing
}
