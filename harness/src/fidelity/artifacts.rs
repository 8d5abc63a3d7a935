//! Reading what a fidelity run produced the way a person would: the
//! workload's `planted` console line, `user-pc-symbols.log` sections and
//! folded stacks (`*.folded`, the source of every flamegraph SVG).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use capos_abi::guest::user_text;

/// The `k=v` values of `[<name>] planted ...`, printed by process `name`
/// (`capos_smokes::fidelity::print_planted`).
pub fn planted(lines: &[String], name: &str) -> Result<BTreeMap<String, u64>> {
    let prefix = format!("[{name}] planted");
    let text = lines
        .iter()
        .find_map(|l| user_text(l, name).and_then(|t| t.strip_prefix(&prefix)))
        .with_context(|| format!("no `{prefix}` line from process {name}"))?;
    let mut out = BTreeMap::new();
    for word in text.split_whitespace() {
        let (k, v) = word.split_once('=').with_context(|| format!("`{word}` is not k=v"))?;
        let v: u64 = v.parse().with_context(|| format!("`{word}`: not a number"))?;
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

/// A planted value that must be there.
pub fn value(planted: &BTreeMap<String, u64>, key: &str) -> Result<u64> {
    planted.get(key).copied().with_context(|| format!("the planted line has no `{key}=`"))
}

/// One `section` of `user-pc-symbols.log`: its sample total and its rows
/// (count, symbol).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PcSection {
    pub samples: u64,
    pub rows: Vec<(u64, String)>,
    /// The binary of each row, in the order of `rows`.
    pub binaries: Vec<String>,
}

impl PcSection {
    /// Samples of rows whose symbol satisfies `pred`.
    pub fn count(&self, pred: impl Fn(&str) -> bool) -> u64 {
        self.rows.iter().filter(|(_, s)| pred(s)).map(|(n, _)| n).sum()
    }

    /// Samples of rows of `binary` whose symbol satisfies `pred`.
    pub fn count_in(&self, binary: &str, pred: impl Fn(&str) -> bool) -> u64 {
        let rows = self.rows.iter().zip(&self.binaries);
        rows.filter(|((_, s), b)| *b == binary && pred(s)).map(|((n, _), _)| n).sum()
    }
}

/// The section `phase=<phase> mode=<mode>` of a `user-pc-symbols.log` text.
pub fn pc_section(text: &str, phase: &str, mode: &str) -> Result<PcSection> {
    let head = format!("section phase={phase} mode={mode} ");
    let mut lines = text.lines();
    let Some(first) = lines.by_ref().find(|l| l.starts_with(&head)) else {
        bail!("user-pc-symbols.log has no `{}` section", head.trim_end());
    };
    let samples = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("samples="))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("bad section line `{first}`"))?;
    let (mut rows, mut binaries) = (Vec::new(), Vec::new());
    for l in lines {
        if l.starts_with("pcs ") || l.starts_with("section ") || l.trim().is_empty() {
            break;
        }
        // `   count    share  binary  symbol` (the symbol may hold spaces).
        let mut w = l.split_whitespace();
        let (Some(count), Some(_share), Some(binary)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else { continue }; // the column header
        rows.push((count, w.collect::<Vec<_>>().join(" ")));
        binaries.push(binary.to_string());
    }
    Ok(PcSection { samples, rows, binaries })
}

/// Folded stacks (`root;...;leaf weight` per line), frames root first.
pub fn folded(text: &str) -> Result<Vec<(Vec<String>, u64)>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (stack, w) =
                l.rsplit_once(' ').with_context(|| format!("bad folded line `{l}`"))?;
            let w = w.parse().with_context(|| format!("bad weight in `{l}`"))?;
            Ok((stack.split(';').map(String::from).collect(), w))
        })
        .collect()
}

/// Total weight of the stacks with some frame satisfying `pred`.
pub fn weight_with_frame(stacks: &[(Vec<String>, u64)], pred: impl Fn(&str) -> bool) -> u64 {
    stacks.iter().filter(|(f, _)| f.iter().any(|x| pred(x))).map(|(_, w)| w).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_values_come_only_from_the_named_process() {
        let lines: Vec<String> =
            ["user 3 evil: [fid-x] planted a=9", "user 2 fid-x: [fid-x] planted a=10 b=20"]
                .map(String::from)
                .to_vec();
        let p = planted(&lines, "fid-x").unwrap();
        assert_eq!((value(&p, "a").unwrap(), value(&p, "b").unwrap()), (10, 20));
        assert!(value(&p, "c").is_err());
        assert!(planted(&lines[..1], "fid-x").is_err());
        let bad = vec!["user 2 fid-x: [fid-x] planted a=x".to_string()];
        assert!(planted(&bad, "fid-x").is_err());
    }

    #[test]
    fn sections_rows_and_folded_stacks_parse() {
        let text = "begin cpus=1 tsc_khz=1\n\nsection phase=work mode=user samples=10 rows=2\n   count    share  binary  symbol\n       7   70.00%  fid-x   fid_x::planted_share_a\n       3   30.00%  -       <unmapped>\npcs phase=work mode=user distinct=1\n       7  0x1  fid-x  x\n";
        let s = pc_section(text, "work", "user").unwrap();
        assert_eq!(s.samples, 10);
        assert_eq!(s.rows, vec![(7, "fid_x::planted_share_a".into()), (3, "<unmapped>".into())]);
        assert_eq!(s.count(|x| x.ends_with("planted_share_a")), 7);
        assert!(pc_section(text, "work", "kernel").is_err());
        let f = folded("a;b;c 5\na;d 2\n").unwrap();
        assert_eq!(weight_with_frame(&f, |x| x == "b"), 5);
        assert_eq!(weight_with_frame(&f, |x| x == "a"), 7);
        assert!(folded("a;b x\n").is_err());
    }
}
