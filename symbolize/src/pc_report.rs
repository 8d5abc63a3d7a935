//! `user-pc-symbols.log` and the guest symbol map from a measure report.
//!
//! Every sampled PC of a section (one phase, one mode) is located
//! ([`Resolver`]) and counted under its binary and nearest symbol; PCs no
//! binary covers are counted in an explicit `<unmapped>` row, never dropped,
//! so the rows of a section always add up to its sample total. The text
//! layout is in `report_text.rs`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use capos_measure::phase::Phase;
use capos_measure::record::Mode;
use capos_measure::report::Report;

use crate::address::{Location, Resolver};
use crate::binaries::{Binaries, ElfPaths};
use crate::{report_text, symbol_map};

/// File name of the resolved PC report (as results.csv `user_pc_symbol_report`).
pub const PC_REPORT_FILE: &str = "user-pc-symbols.log";
/// File name of the symbol table dump (as results.csv `guest_symbol_map`).
pub const SYMBOL_MAP_FILE: &str = "guest-symbol-map.txt";

/// Phases reported, in print order; `aggregate` and `work` always print.
const SECTION_PHASES: [Phase; 6] = [
    Phase::Aggregate,
    Phase::Boot,
    Phase::SpawnReady,
    Phase::Work,
    Phase::Shutdown,
    Phase::FinalTotal,
];

/// Where [`write_pc_report`] put its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcReportPaths {
    /// `user-pc-symbols.log`.
    pub report: PathBuf,
    /// `guest-symbol-map.txt`.
    pub symbol_map: PathBuf,
}

/// Why the report files could not be written. ELF problems are not errors:
/// they are listed inside the report.
#[derive(Debug, thiserror::Error)]
pub enum PcReportError {
    #[error("cannot create output directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Writes `user-pc-symbols.log` and `guest-symbol-map.txt` into `out_dir`
/// (created if needed) for every PC sample in `report`, resolved against
/// `elfs`.
pub fn write_pc_report(
    report: &Report,
    elfs: &ElfPaths,
    out_dir: &Path,
) -> Result<PcReportPaths, PcReportError> {
    let bins = Binaries::load(elfs, report.load_maps.iter().map(|m| m.binary.as_str()));
    let resolver = Resolver::new(&bins, &report.load_maps);
    write_pc_report_resolved(report, &bins, &resolver, out_dir)
}

/// [`write_pc_report`] with ELFs already loaded (to share them with other
/// views of the same run).
pub fn write_pc_report_resolved(
    report: &Report,
    bins: &Binaries,
    resolver: &Resolver<'_>,
    out_dir: &Path,
) -> Result<PcReportPaths, PcReportError> {
    std::fs::create_dir_all(out_dir)
        .map_err(|source| PcReportError::CreateDir { path: out_dir.to_path_buf(), source })?;
    let paths = PcReportPaths {
        report: out_dir.join(PC_REPORT_FILE),
        symbol_map: out_dir.join(SYMBOL_MAP_FILE),
    };
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|source| PcReportError::Write { path: path.to_path_buf(), source })
    };
    write(&paths.report, pc_report_text(report, bins, resolver))?;
    write(&paths.symbol_map, symbol_map::symbol_map_text(bins))?;
    Ok(paths)
}

/// The text of `user-pc-symbols.log` (no file I/O).
pub fn pc_report_text(report: &Report, bins: &Binaries, resolver: &Resolver<'_>) -> String {
    let mut sections = Vec::new();
    for mode in [Mode::User, Mode::Kernel] {
        for phase in SECTION_PHASES {
            let pcs = samples(report, phase, mode, resolver);
            let always = mode == Mode::User && matches!(phase, Phase::Aggregate | Phase::Work);
            if pcs.is_empty() && !always {
                continue;
            }
            sections.push(Section::build(phase, mode, &pcs, resolver));
        }
    }
    report_text::render(report, bins, resolver, &sections)
}

/// (process, PC) -> count for one phase and mode, summed over the other
/// tags. The process is `Some(pid)` for a user PC of a process with a load
/// map (it resolves in that process's binary), `None` otherwise (resolved by
/// address alone). A report that carries per-phase samples but no
/// `aggregate` ones (a synthetic report) gets the sum of `boot`..`shutdown`
/// as its aggregate.
fn samples(
    report: &Report,
    phase: Phase,
    mode: Mode,
    resolver: &Resolver<'_>,
) -> BTreeMap<(Option<u64>, u64), u64> {
    let mut out: BTreeMap<(Option<u64>, u64), u64> = BTreeMap::new();
    let pick = |p: Phase| {
        report.pc_samples.iter().filter(move |((q, t, _), _)| *q == p && t.family() == mode)
    };
    let phases: &[Phase] = if phase == Phase::Aggregate && pick(phase).next().is_none() {
        &[Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown]
    } else {
        std::slice::from_ref(&phase)
    };
    for p in phases {
        for ((_, tag, pc), n) in pick(*p) {
            let pid = u64::from(tag.pid);
            let process = (mode == Mode::User && resolver.knows_pid(pid)).then_some(pid);
            let slot = out.entry((process, *pc)).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
    out
}

/// One row: samples that fell in one symbol of one binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SymbolRow {
    pub count: u64,
    pub binary: String,
    pub symbol: String,
    pub unmapped: bool,
}

/// One sampled PC with its full resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PcRow {
    pub count: u64,
    pub location: Location,
}

/// One phase and mode of the report.
#[derive(Debug)]
pub(crate) struct Section {
    pub phase: Phase,
    pub mode: Mode,
    pub total: u64,
    /// By count, descending; `<unmapped>` rows last.
    pub rows: Vec<SymbolRow>,
    /// By count, descending, then address.
    pub pcs: Vec<PcRow>,
}

impl Section {
    fn build(
        phase: Phase,
        mode: Mode,
        pcs: &BTreeMap<(Option<u64>, u64), u64>,
        resolver: &Resolver<'_>,
    ) -> Section {
        let mut by_symbol: BTreeMap<(bool, String, String), u64> = BTreeMap::new();
        let mut pc_rows = Vec::with_capacity(pcs.len());
        let mut total = 0u64;
        for (&(process, pc), &count) in pcs {
            let location = match process {
                Some(pid) => resolver.locate_frame_in(pid, 0, pc),
                None => resolver.locate(pc),
            };
            let symbol = location.symbol_name();
            let unmapped = symbol == "<unmapped>";
            let slot = by_symbol.entry((unmapped, location.binary_label(), symbol)).or_default();
            *slot = slot.saturating_add(count);
            total = total.saturating_add(count);
            pc_rows.push(PcRow { count, location });
        }
        let mut rows: Vec<SymbolRow> = by_symbol
            .into_iter()
            .map(|((unmapped, binary, symbol), count)| SymbolRow {
                count,
                binary,
                symbol,
                unmapped,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.unmapped, std::cmp::Reverse(a.count), &a.binary, &a.symbol).cmp(&(
                b.unmapped,
                std::cmp::Reverse(b.count),
                &b.binary,
                &b.symbol,
            ))
        });
        pc_rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.location.addr.cmp(&b.location.addr)));
        Section { phase, mode, total, rows, pcs: pc_rows }
    }
}
