//! The text layout of `user-pc-symbols.log`.
//!
//! ```text
//! # user-pc-symbols.log: sampled PCs by binary and nearest symbol (capos-symbolize)
//! begin cpus=4 tsc_khz=2000000
//! # losses (whole run): user_pc_overflow=0 ... trace_dropped=0 (cpu0:0,...)
//! # accel=tcg: QEMU TCG takes interrupts only at translation-block starts, ...; hottest PC ...
//! binary name=kernel elf=target/kernel status=ok symbols=2210 dwarf=yes
//! binary name=thread-scale elf=boot/thread-scale status=ok symbols=180 dwarf=yes
//! load_map pid=3 binary=thread-scale base=0x400000
//! problem binary=init: no ELF path given; its addresses stay unresolved
//!
//! section phase=work mode=user samples=9 rows=3
//!    count    share  binary        symbol
//!        5   55.56%  thread-scale  thread_scale::worker_entry
//!        3   33.33%  thread-scale  capos_rt::ring::RingClient::wait
//!        1   11.11%  -             <unmapped>
//! pcs phase=work mode=user distinct=4
//!    count  pc                  binary        resolution
//!        4  0x0000000000401234  thread-scale  thread_scale::worker_entry+0x34 at workloads/src/thread.rs:40
//! ```
//!
//! The `#` lines after `begin` are the instrument's limits (the same
//! statements as `measure.log`'s header, from `capos_measure::limits`).
//! Sections come per mode (user, then kernel) and phase (`aggregate`, then
//! `boot`..`final_total`); user `aggregate` and `work` always print, other
//! sections only when they have samples. Rows are by count, `<unmapped>`
//! last; shares are of the section's samples. The symbol is the last column
//! because demangled names may contain spaces.

use std::fmt::Write as _;

use capos_measure::phase::Phase;
use capos_measure::report::Report;

use crate::address::Resolver;
use crate::binaries::Binaries;
use crate::pc_report::Section;

pub(crate) fn render(
    report: &Report,
    bins: &Binaries,
    resolver: &Resolver<'_>,
    sections: &[Section],
) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; results are ignored throughout.
    let _ = writeln!(
        out,
        "# user-pc-symbols.log: sampled PCs by binary and nearest symbol (capos-symbolize)"
    );
    let _ = writeln!(
        out,
        "# user PCs are looked up at pc - load_map base + ELF link start; kernel PCs as they are"
    );
    if let Some(b) = &report.begin {
        let _ = writeln!(out, "begin cpus={} tsc_khz={}", b.cpus, b.tsc_khz);
    }
    for line in report.limits(Phase::Aggregate).lines() {
        let _ = writeln!(out, "# {line}");
    }
    for status in bins.all() {
        let _ = writeln!(out, "binary {status}");
    }
    for m in &report.load_maps {
        let _ = writeln!(out, "load_map pid={} binary={} base={:#x}", m.pid, m.binary, m.base);
    }
    for status in bins.all() {
        if let Some(problem) = status.problem() {
            let _ = writeln!(out, "problem binary={}: {problem}", status.name);
        }
    }
    if resolver.assumed_link_addresses() {
        let _ = writeln!(
            out,
            "note: the report has no load maps; programs are assumed at their link addresses"
        );
    } else {
        let mut orphans: std::collections::BTreeMap<u32, u64> = Default::default();
        for ((_, tag, _), n) in &report.pc_samples {
            if tag.family() == capos_measure::Mode::User && !resolver.knows_pid(tag.pid.into()) {
                let slot = orphans.entry(tag.pid).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
        if !orphans.is_empty() {
            let pids: Vec<String> = orphans.keys().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "note: {} user PC samples (all phases) of processes without a load map (pid {}) are resolved by address alone",
                orphans.values().fold(0u64, |a, n| a.saturating_add(*n)),
                pids.join(",")
            );
        }
    }
    for s in sections {
        render_section(&mut out, s);
    }
    out
}

fn render_section(out: &mut String, s: &Section) {
    let (phase, mode) = (s.phase.name(), s.mode.name());
    let _ = writeln!(
        out,
        "\nsection phase={phase} mode={mode} samples={} rows={}",
        s.total,
        s.rows.len()
    );
    if s.rows.is_empty() {
        let _ = writeln!(out, "   (no samples)");
        return;
    }
    let width = s.rows.iter().map(|r| r.binary.len()).max().unwrap_or(0).max("binary".len());
    let _ = writeln!(out, "{:>8} {:>8}  {:<width$}  symbol", "count", "share", "binary");
    for r in &s.rows {
        let _ = writeln!(
            out,
            "{:>8} {:>8}  {:<width$}  {}",
            r.count,
            share(r.count, s.total),
            r.binary,
            r.symbol
        );
    }
    let labels: Vec<String> = s.pcs.iter().map(|p| p.location.binary_label()).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0).max("binary".len());
    let _ = writeln!(out, "pcs phase={phase} mode={mode} distinct={}", s.pcs.len());
    let _ = writeln!(out, "{:>8}  {:<18}  {:<width$}  resolution", "count", "pc", "binary");
    for (p, label) in s.pcs.iter().zip(&labels) {
        let _ = writeln!(
            out,
            "{:>8}  {:#018x}  {:<width$}  {}",
            p.count,
            p.location.addr,
            label,
            p.location.describe()
        );
    }
}

/// `count / total` as a percentage with two decimals.
pub(crate) fn share(count: u64, total: u64) -> String {
    if total == 0 {
        return "0.00%".into();
    }
    format!("{:.2}%", count as f64 * 100.0 / total as f64)
}
