//! Guest measurement on the host: COM2 defmt frames -> measure records ->
//! `measure.log` (text), `measure.json`.
//!
//! The kernel sends each measure record as the byte payload of one defmt
//! `info!("{=[u8]}", ..)` frame. Frames are decoded with `defmt-decoder`
//! against the measure kernel's ELF; the payload is the rendered byte list.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_measure::report::{Report, ReportBuilder};
use capos_measure::Phase;
use defmt_decoder::{DecodeError, Table};

/// What decoding a COM2 capture found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Com2Stats {
    pub frames: usize,
    pub malformed: usize,
    /// Bytes left at the end that did not form a whole frame.
    pub truncated_tail: bool,
}

/// Parses the message of a `{=[u8]}` frame: `[1, 2, 255]`.
pub fn parse_byte_list(msg: &str) -> Result<Vec<u8>> {
    let inner = msg
        .trim()
        .strip_prefix('[')
        .and_then(|m| m.strip_suffix(']'))
        .with_context(|| format!("not a byte list: {msg:.60}"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|x| {
            x.trim().parse::<u8>().with_context(|| format!("bad byte `{x}` in a measure frame"))
        })
        .collect()
}

/// Decodes every defmt frame of `stream` against `elf`; returns the payloads.
pub fn decode_frames(elf: &[u8], stream: &[u8]) -> Result<(Vec<Vec<u8>>, Com2Stats)> {
    let table = Table::parse(elf)
        .context("cannot read the kernel's defmt table")?
        .context("the kernel ELF has no .defmt section (not a measure kernel?)")?;
    let mut dec = table.new_stream_decoder();
    dec.received(stream);
    let mut out = Vec::new();
    let mut stats = Com2Stats::default();
    loop {
        match dec.decode() {
            Ok(frame) => {
                stats.frames += 1;
                match parse_byte_list(&frame.display_message().to_string()) {
                    Ok(p) => out.push(p),
                    Err(_) => stats.malformed += 1,
                }
            }
            Err(DecodeError::UnexpectedEof) => {
                stats.truncated_tail = !stream.is_empty() && stream.last() != Some(&0);
                break;
            }
            Err(DecodeError::Malformed) => {
                stats.malformed += 1;
                if stats.malformed > 10_000 {
                    bail!("COM2 stream is not defmt frames (too many malformed frames)");
                }
            }
        }
    }
    Ok((out, stats))
}

/// Builds the report from a COM2 capture.
pub fn report_from_com2(kernel_elf: &Path, com2: &Path) -> Result<(Report, Com2Stats)> {
    let elf = std::fs::read(kernel_elf)
        .with_context(|| format!("cannot read {}", kernel_elf.display()))?;
    let stream = std::fs::read(com2).with_context(|| format!("cannot read {}", com2.display()))?;
    let (payloads, stats) = decode_frames(&elf, &stream)?;
    if payloads.is_empty() {
        bail!("{} holds no measure records ({} frames decoded)", com2.display(), stats.frames);
    }
    let mut b = ReportBuilder::new();
    for (i, p) in payloads.iter().enumerate() {
        b.push_bytes(p)
            .with_context(|| format!("measure record {i} of {} is invalid", payloads.len()))?;
    }
    Ok((b.finish(), stats))
}

/// The phases a benchmark, smoke or fidelity program marks (and so its
/// measure.log must hold), `aggregate` included.
pub const MARKED_PHASES: &[Phase] =
    &[Phase::SpawnReady, Phase::Work, Phase::Shutdown, Phase::FinalTotal, Phase::Aggregate];

/// Checks a written measure.log the way a reader would use it: it parses
/// back, every phase of `phases` is present, and the counters that must
/// move in any run did (timer interrupts, scheduler-lock acquisitions,
/// kernel PC samples).
pub fn validate_measure_log(text: &str, phases: &[Phase]) -> Result<()> {
    use capos_measure::catalogue::{kernel_pc_samples, scheduler_lock, timer};
    let r = capos_measure::log_parse::parse_measure_log(text)
        .map_err(|e| anyhow::anyhow!("measure.log does not parse back: {e}"))?;
    let present = r.phases();
    for &p in phases {
        if !present.contains(&p) {
            bail!("measure.log has no `{}` phase (phases: {:?})", p.name(), present);
        }
    }
    for (what, v) in [
        ("timer interrupts", r.counter(Phase::Aggregate, timer::interrupts)),
        ("scheduler_lock acquisitions", r.counter(Phase::Aggregate, scheduler_lock::acquisitions)),
        ("kernel PC samples", r.counter(Phase::Aggregate, kernel_pc_samples::samples)),
    ] {
        if v == 0 {
            bail!("measure.log: no {what} in the whole run");
        }
    }
    Ok(())
}

/// Names of the report's own emission: a kernel sample or stack frame in
/// one of these means the report was read while it was being sent.
const EMISSION_NAMES: [&str; 5] =
    ["emit_report", "measure::com2", "defmt", "capos_measure::emit", "capos_measure::freeze"];

/// Checks that the report is one consistent snapshot (docs/measure.md,
/// "The final snapshot"): in `aggregate`, every measured lock family's
/// hold-histogram entries plus the holds in progress at the freeze equal
/// its acquisitions (at most one hold in progress per CPU), and no kernel
/// PC or stack sample of any phase lies in the report's own emission
/// (symbolized against `kernel_elf`).
pub fn check_snapshot(report: &Report, kernel_elf: &Path) -> Result<()> {
    use capos_measure::catalogue::{scheduler_lock, shared_kernel_lock, SharedLock};
    use capos_measure::{Counter, Hist, Mode, Phase};
    let cpus = report.begin.map_or(1, |b| u64::from(b.cpus.max(1)));
    let entries = |h: Hist| -> u64 {
        report.hists.get(&(Phase::Aggregate, h)).map_or(0, |b| b.values().sum())
    };
    let mut families: Vec<(String, Counter, Hist)> = vec![(
        "scheduler_lock".into(),
        scheduler_lock::acquisitions.into(),
        scheduler_lock::hold.into(),
    )];
    for &l in SharedLock::ALL {
        families.push((
            format!("shared_kernel_lock lock={}", l.label()),
            shared_kernel_lock::acquisitions.at(l),
            shared_kernel_lock::hold.at(l),
        ));
    }
    for (name, acq, hold) in families {
        let (a, h) = (report.counter(Phase::Aggregate, acq), entries(hold));
        if h > a || a - h > cpus {
            bail!(
                "{name}: {a} acquisitions but {h} hold-histogram entries in aggregate \
                 (holds in progress at the freeze may be 0..={cpus})"
            );
        }
    }
    let elfs = capos_symbolize::ElfPaths::new().with_kernel(kernel_elf.to_path_buf());
    let bins = capos_symbolize::Binaries::load(&elfs, std::iter::empty::<&str>());
    if let Some(problem) = bins.all().next().and_then(|k| k.problem()) {
        bail!("cannot check samples against the kernel ELF: {problem}");
    }
    let resolver = capos_symbolize::Resolver::new(&bins, &report.load_maps);
    let kernel_stacks =
        report.stack_samples.iter().filter(|((_, t, _), _)| t.family() == Mode::Kernel);
    let kernel_pcs = report.pc_samples.keys().filter(|(_, t, _)| t.family() == Mode::Kernel);
    let stacks = kernel_stacks.map(|((p, _, frames), _)| (*p, frames.clone()));
    for (phase, frames) in kernel_pcs.map(|(p, _, pc)| (*p, vec![*pc])).chain(stacks) {
        for (i, addr) in frames.iter().enumerate() {
            if let Some(n) = emission_frame(resolver.locate_frame(i, *addr).frame_names()) {
                bail!(
                    "kernel sample in phase {} at {addr:#x} lies in the report's own emission ({n})",
                    phase.name()
                );
            }
        }
    }
    Ok(())
}

/// The first frame name (inlined frames included) that belongs to the
/// report's emission.
fn emission_frame(names: Vec<String>) -> Option<String> {
    names.into_iter().find(|n| EMISSION_NAMES.iter().any(|e| n.contains(e)))
}

/// Writes `measure.log` and `measure.json` into `dir`; returns the log path.
pub fn write_measure_files(report: &Report, dir: &Path) -> Result<PathBuf> {
    let log = dir.join("measure.log");
    std::fs::write(&log, report.to_measure_log())
        .with_context(|| format!("cannot write {}", log.display()))?;
    let json = dir.join("measure.json");
    let text = report.to_json().context("cannot serialize the report")?;
    std::fs::write(&json, text).with_context(|| format!("cannot write {}", json.display()))?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_lists_parse_and_garbage_is_refused() {
        assert_eq!(parse_byte_list("[1, 2, 255]").unwrap(), vec![1, 2, 255]);
        assert_eq!(parse_byte_list("[]").unwrap(), Vec::<u8>::new());
        assert!(parse_byte_list("[1, 256]").is_err());
        assert!(parse_byte_list("hello").is_err());
        assert!(parse_byte_list("[1, x]").is_err());
    }

    #[test]
    fn hold_entries_must_match_acquisitions_up_to_one_hold_per_cpu() {
        use capos_measure::catalogue::{scheduler_lock, shared_kernel_lock, SharedLock};
        use capos_measure::report::Begin;
        use capos_measure::Phase;
        let kernel = std::env::current_exe().unwrap();
        let mut r = Report {
            begin: Some(Begin { cpus: 2, tsc_khz: 1, catalogue: 0 }),
            ..Report::default()
        };
        let agg = Phase::Aggregate;
        r.set_counter(agg, scheduler_lock::acquisitions.into(), 10);
        r.set_bucket(agg, scheduler_lock::hold.into(), 3, 9);
        r.set_counter(agg, shared_kernel_lock::acquisitions.at(SharedLock::Heap), 4);
        r.set_bucket(agg, shared_kernel_lock::hold.at(SharedLock::Heap), 2, 4);
        check_snapshot(&r, &kernel).expect("one hold in progress is allowed");
        r.set_bucket(agg, scheduler_lock::hold.into(), 3, 11);
        let e = check_snapshot(&r, &kernel).unwrap_err().to_string();
        assert!(e.contains("scheduler_lock: 10 acquisitions but 11"), "{e}");
        r.set_bucket(agg, scheduler_lock::hold.into(), 3, 7);
        assert!(check_snapshot(&r, &kernel).is_err(), "3 holds in progress on 2 CPUs");
        r.set_bucket(agg, scheduler_lock::hold.into(), 3, 10);
        r.set_bucket(agg, shared_kernel_lock::hold.at(SharedLock::Heap), 2, 5);
        let e = check_snapshot(&r, &kernel).unwrap_err().to_string();
        assert!(e.contains("lock=heap"), "{e}");
        let missing = std::path::Path::new("/nonexistent/kernel");
        r.set_bucket(agg, shared_kernel_lock::hold.at(SharedLock::Heap), 2, 4);
        assert!(check_snapshot(&r, missing).is_err(), "no ELF, no check");
    }

    #[test]
    fn emission_frames_are_recognised() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for hit in [
            "capos_kernel::measure::probes::emit_report_[k]",
            "_defmt_release_[k]",
            "capos_kernel::measure::com2::put_[k]",
            "capos_measure::emit::<impl capos_measure::freeze::Frozen>::report_[k]",
        ] {
            assert!(emission_frame(names(&["kmain_[k]", hit])).is_some(), "{hit}");
        }
        assert_eq!(emission_frame(names(&["kmain_[k]", "capos_kernel::sched::idle_[k]"])), None);
    }

    #[test]
    fn an_elf_without_defmt_is_a_clear_error() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let e = decode_frames(&me, &[1, 2, 3]).unwrap_err().to_string();
        assert!(e.contains(".defmt") || e.contains("defmt"), "{e}");
        assert!(decode_frames(b"garbage", &[]).is_err());
    }
}
