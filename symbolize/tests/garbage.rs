//! Garbage in, errors out: bad measure.log lines, truncated record streams,
//! garbage ELFs, and a seeded mutation loop over all three feeding the PC
//! report. Nothing here may panic.

mod common;

use capos_measure::phase::Phase;
use capos_measure::record::{encode, Record, SampleMode, SampleTag};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
use capos_measure::report::{LoadMap, Report};
use capos_measure::{decode_all, FINGERPRINT};
use capos_symbolize::{
    parse_report_text, pc_report_text, read_report, Binaries, ElfPaths, ReportInputError, Resolver,
    Symbolizer,
};
use common::*;

fn sample_records() -> Vec<Record> {
    vec![
        Record::Begin { cpus: 2, tsc_khz: 1_000_000, catalogue: FINGERPRINT },
        Record::PhaseMark { phase: Phase::Work, tsc: 100 },
        Record::PcSample { phase: Phase::Work, tag: U, pc: 0x40_1000, count: 3 },
        Record::StackSample {
            phase: Phase::Work,
            tag: U,
            frames: vec![0x40_1000, 0x40_2000],
            count: 2,
        },
        Record::LoadMap { pid: 3, binary: "prog".into(), base: 0x40_0000 },
        Record::End { tsc: 500, records: 4 },
    ]
}

fn sample_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    for r in sample_records() {
        encode(&r, &mut out);
    }
    out
}

fn sample_log() -> String {
    let mut text = Report::from_bytes(&sample_bytes()).expect("sample report").to_measure_log();
    text.push_str("measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=2 wait_cycles=900 frames=0xffffffff80001000,0xffffffff80002000\n");
    text
}

#[test]
fn bad_measure_log_lines_are_errors_with_line_numbers() {
    for (text, want) in [
        ("measure: nonsense x=1\n", "line 1"),
        ("\nmeasure: user_pc_sample phase=work cpu=0 pid=1 tid=0x1 mode=user lock=- pc=zz count=1\n", "line 2"),
        ("hello\n", "not a `measure:` line"),
        ("measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=1 wait_cycles=x frames=\n", "not a number"),
        ("measure: contention_stack phase=nope class=scheduler_lock lock=timer_select count=1 wait_cycles=1 frames=\n", "unknown phase"),
        ("measure: contention_stack phase=work class=scheduler_lock count=1 wait_cycles=1 frames=\n", "missing key `lock`"),
    ] {
        let err = parse_report_text(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
    let ok = parse_report_text(&sample_log()).expect("sample log parses");
    assert_eq!(ok.contention.len(), 1);
    assert_eq!(ok.contention[0].frames.len(), 2);
}

#[test]
fn truncated_record_streams_are_errors() {
    let bytes = sample_bytes();
    let whole = decode_all(&bytes).expect("whole stream decodes");
    assert_eq!(whole.len(), sample_records().len());
    for cut in 1..bytes.len() {
        let part = &bytes[..cut];
        // A cut on a record boundary is a shorter valid stream; anything
        // else must be an error, never a panic.
        if let Ok(records) = decode_all(part) {
            assert!(records.len() < whole.len());
        }
        let _ = Report::from_bytes(part);
    }
    let dir = scratch("truncated");
    let path = dir.join("records.bin");
    std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
    let err = read_report(&path).expect_err("truncated stream");
    assert!(matches!(err, ReportInputError::Records(_)), "{err}");
    std::fs::write(&path, b"").expect("write");
    assert!(read_report(&path).expect_err("empty").to_string().contains("empty"));
    assert!(read_report(&dir.join("absent"))
        .expect_err("absent")
        .to_string()
        .contains("cannot read"));
}

#[test]
fn garbage_elfs_are_errors() {
    for bytes in
        [Vec::new(), b"MZ\x90\x00".to_vec(), b"\x7fELF".to_vec(), empty_elf()[..40].to_vec()]
    {
        assert!(Symbolizer::from_bytes(bytes.clone()).is_err(), "{bytes:?}");
    }
    let sym = Symbolizer::from_bytes(empty_elf()).expect("header-only ELF loads");
    assert_eq!(sym.symbol_count(), 0);
    assert!(sym.load_range().is_none());
}

/// Mutated logs, record streams and ELFs through the whole PC report.
#[test]
fn seeded_mutation_loop_never_panics() {
    let mut m = Mutator::new(0x5eed_cafe);
    let own = std::fs::read(own_exe()).expect("own ELF");
    let dir = scratch("fuzz");
    let log = sample_log();
    let bytes = sample_bytes();
    let elf_path = dir.join("prog");
    for i in 0..400 {
        let report = if i % 2 == 0 {
            let text = String::from_utf8_lossy(&m.mutate(log.as_bytes())).into_owned();
            parse_report_text(&text).map(|r| r.report).ok()
        } else {
            Report::from_bytes(&m.mutate(&bytes)).ok()
        };
        let mut report = report.unwrap_or_default();
        report.load_maps.push(LoadMap {
            pid: 9,
            binary: "prog".into(),
            base: m.next() & 0xffff_ffff,
        });
        report.pc_samples.insert((Phase::Work, U, m.next()), m.next());
        report.pc_samples.insert((Phase::Work, U, m.next()), u64::MAX);
        // ELF: mostly small mutated prefixes, sometimes the whole binary.
        let prefix = own.len().min(4096 + m.below(60_000));
        let elf = if i % 40 == 0 { m.mutate(&own) } else { m.mutate(&own[..prefix]) };
        std::fs::write(&elf_path, &elf).expect("write mutated ELF");
        let elfs = ElfPaths::new().with_program("prog", &elf_path).with_kernel(&elf_path);
        let bins = Binaries::load(&elfs, report.load_maps.iter().map(|l| l.binary.as_str()));
        let resolver = Resolver::new(&bins, &report.load_maps);
        let text = pc_report_text(&report, &bins, &resolver);
        assert!(text.contains("section phase=work mode=user"));
    }
}
