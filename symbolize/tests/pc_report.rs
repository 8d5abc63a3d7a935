//! `user-pc-symbols.log` and the guest symbol map against this test binary,
//! loaded as a user program at 0x400000.

mod common;

use capos_measure::phase::Phase;
use capos_measure::record::{Mode, SampleMode, SampleTag};
use capos_measure::report::{LoadMap, Report};
use capos_symbolize::{write_pc_report, Binaries, ElfPaths, Origin, Resolver};
use common::*;

const BASE: u64 = 0x40_0000;
const PROBE_LINE: u32 = line!() + 3;

#[inline(never)]
fn pc_report_probe(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(7).rotate_left(3) | 1
}

/// Run-time address of the probe when the test binary is loaded at BASE.
fn probe_runtime() -> u64 {
    fn_link_address(pc_report_probe) - link_start() + BASE
}

fn report_with(pcs: &[(Phase, Mode, u64, u64)], maps: Vec<LoadMap>) -> Report {
    let mut r = Report { load_maps: maps, ..Report::default() };
    for (phase, mode, pc, n) in pcs {
        r.pc_samples.insert((*phase, SampleTag::mode_only(SampleMode::from(*mode)), *pc), *n);
    }
    r
}

fn prog_map() -> Vec<LoadMap> {
    vec![LoadMap { pid: 3, binary: "prog".into(), base: BASE }]
}

#[test]
fn resolves_samples_per_phase_with_unmapped_rows_and_lines() {
    let probe = probe_runtime();
    let r = report_with(
        &[
            (Phase::Work, Mode::User, probe, 6),
            (Phase::Work, Mode::User, probe + 2, 2),
            (Phase::Work, Mode::User, 0x10, 2),
            (Phase::Aggregate, Mode::User, probe, 9),
            (Phase::Aggregate, Mode::User, 0x10, 3),
            (Phase::Work, Mode::Kernel, 0xffff_ffff_8000_1000, 4),
        ],
        prog_map(),
    );
    let dir = scratch("pc-report");
    let elfs = ElfPaths::new().with_program("prog", own_exe());
    let paths = write_pc_report(&r, &elfs, &dir).expect("report written");
    let text = std::fs::read_to_string(&paths.report).expect("read report");
    // The instrument's limits head the file, zero losses included.
    assert!(text.contains("\n# losses (whole run): user_pc_overflow=0 "), "{text}");
    assert!(text.contains("# accel=unknown: the report has no instrument record"), "{text}");

    let work = section(&text, "section phase=work mode=user");
    assert!(work[0].contains("samples=10 rows=2"), "{}", work[0]);
    assert!(
        work[2].contains("8") && work[2].contains("80.00%") && work[2].contains("prog"),
        "{work:?}"
    );
    assert!(work[2].trim_end().ends_with("::pc_report_probe"), "{work:?}");
    assert!(
        work[3].contains("20.00%") && work[3].trim_end().ends_with("<unmapped>"),
        "unmapped last: {work:?}"
    );
    let pcs = work.iter().find(|l| l.contains(&format!("{probe:#018x}"))).expect("pc row");
    assert!(pcs.contains("::pc_report_probe+0x0 at "), "{pcs}");
    let line =
        pcs.rsplit(':').next().and_then(|l| l.trim().parse::<u32>().ok()).expect("line number");
    assert!((PROBE_LINE..PROBE_LINE + 3).contains(&line), "line {line}");

    let agg = section(&text, "section phase=aggregate mode=user");
    assert!(agg[0].contains("samples=12"), "{agg:?}");
    // No kernel ELF: kernel PCs are counted as unresolved, with a problem line.
    let kernel = section(&text, "section phase=work mode=kernel");
    assert!(
        kernel[2].contains("kernel") && kernel[2].trim_end().ends_with("<no symbols>"),
        "{kernel:?}"
    );
    assert!(text.contains("problem binary=kernel: no ELF path given"), "{text}");
    assert!(text.contains("load_map pid=3 binary=prog base=0x400000"));

    let map = std::fs::read_to_string(&paths.symbol_map).expect("read map");
    let probe_link = fn_link_address(pc_report_probe);
    let entry =
        map.lines().find(|l| l.ends_with("::pc_report_probe")).expect("probe in symbol map");
    assert!(entry.starts_with(&format!("{probe_link:#018x} ")), "{entry}");
    assert!(map.contains("binary name=prog elf="), "{map}");
}

/// The lines of one section, header first, up to the next blank line.
fn section<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(header))
        .unwrap_or_else(|| panic!("no `{header}` in\n{text}"));
    lines[start..].iter().take_while(|l| !l.is_empty()).copied().collect()
}

#[test]
fn under_tcg_the_header_gives_the_hottest_pcs_share() {
    let probe = probe_runtime();
    let mut r = report_with(
        &[(Phase::Aggregate, Mode::User, probe, 9), (Phase::Aggregate, Mode::User, 0x10, 3)],
        prog_map(),
    );
    r.instrument = Some(capos_measure::InstrumentInfo {
        accel: capos_measure::Accel::Tcg,
        ..Default::default()
    });
    r.trace_dropped.insert(1, 7);
    let dir = scratch("pc-report-tcg");
    let elfs = ElfPaths::new().with_program("prog", own_exe());
    let text = std::fs::read_to_string(write_pc_report(&r, &elfs, &dir).unwrap().report).unwrap();
    let header: Vec<&str> = text.lines().filter(|l| l.starts_with("# ")).collect();
    let header = header.join("\n");
    assert!(header.contains("translation-block starts"), "{header}");
    assert!(header.contains(&format!("user {probe:#x} holds 75.00% of 12 samples")), "{header}");
    assert!(header.contains("trace_dropped=7 (cpu1:7)"), "{header}");
}

#[test]
fn work_and_aggregate_sections_print_even_without_samples() {
    let dir = scratch("empty");
    let paths = write_pc_report(&Report::default(), &ElfPaths::new(), &dir).expect("report");
    let text = std::fs::read_to_string(paths.report).expect("read");
    assert!(
        text.contains("section phase=aggregate mode=user samples=0 rows=0\n   (no samples)"),
        "{text}"
    );
    assert!(text.contains("section phase=work mode=user samples=0"), "{text}");
    assert!(text.contains("note: the report has no load maps"), "{text}");
}

#[test]
fn missing_garbage_and_stripped_elfs_are_reported_not_fatal() {
    let dir = scratch("bad-elfs");
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, b"#!/bin/sh\necho not an elf\n").expect("write");
    let stripped = dir.join("stripped");
    std::fs::write(&stripped, empty_elf()).expect("write");
    let maps = vec![
        LoadMap { pid: 1, binary: "init".into(), base: BASE },
        LoadMap { pid: 2, binary: "garbage".into(), base: 0x80_0000 },
        LoadMap { pid: 3, binary: "stripped".into(), base: 0x100_0000 },
    ];
    let r = report_with(
        &[(Phase::Work, Mode::User, BASE + 0x10, 1), (Phase::Work, Mode::User, 0x100_0010, 1)],
        maps,
    );
    let elfs = ElfPaths::new()
        .with_program("garbage", &garbage)
        .with_program("stripped", &stripped)
        .with_kernel(dir.join("no-such-kernel"));
    let paths = write_pc_report(&r, &elfs, &dir).expect("report");
    let text = std::fs::read_to_string(paths.report).expect("read");
    assert!(text.contains("problem binary=init: no ELF path given"), "{text}");
    assert!(
        text.contains("problem binary=garbage: cannot load ELF:")
            && text.contains("not an ELF file"),
        "{text}"
    );
    assert!(text.contains("problem binary=kernel: cannot load ELF: cannot read"), "{text}");
    assert!(
        text.contains("binary name=stripped") && text.contains("status=ok symbols=0 dwarf=no"),
        "{text}"
    );
    let work = section(&text, "section phase=work mode=user");
    assert!(work[0].contains("samples=2"), "{work:?}");
    assert!(work.iter().any(|l| l.contains("init") && l.ends_with("<no symbols>")), "{work:?}");
    assert!(work.iter().any(|l| l.contains("stripped") && l.ends_with("<no symbols>")), "{work:?}");
}

#[test]
fn overlapping_images_without_pid_are_ambiguous_and_link_addresses_are_assumed_without_maps() {
    let elfs = ElfPaths::new().with_program("a", own_exe()).with_program("b", own_exe());
    let maps = vec![
        LoadMap { pid: 1, binary: "a".into(), base: BASE },
        LoadMap { pid: 2, binary: "b".into(), base: BASE },
    ];
    let bins = Binaries::load(&elfs, maps.iter().map(|m| m.binary.as_str()));
    let loc = Resolver::new(&bins, &maps).locate(probe_runtime());
    assert_eq!(loc.origin, Origin::Ambiguous(vec!["a".into(), "b".into()]));
    assert_eq!(loc.symbol_name(), "<ambiguous>");
    assert_eq!(loc.frame_names(), vec!["<ambiguous a|b>".to_string()]);

    let one = ElfPaths::new().with_program("prog", own_exe());
    let bins = Binaries::load(&one, std::iter::empty());
    let resolver = Resolver::new(&bins, &[]);
    assert!(resolver.assumed_link_addresses());
    let loc = resolver.locate(fn_link_address(pc_report_probe));
    assert_eq!(loc.origin, Origin::Program("prog".into()));
    assert!(loc.symbol_name().ends_with("::pc_report_probe"));
    assert!(loc.frame_names().last().expect("frame").starts_with("prog`"));
}

#[test]
fn kernel_half_addresses_use_the_kernel_elf_and_are_marked() {
    let elfs = ElfPaths::new().with_kernel(own_exe());
    let bins = Binaries::load(&elfs, std::iter::empty());
    let loc = Resolver::new(&bins, &[]).locate(0xffff_ffff_8000_0000);
    assert_eq!(loc.origin, Origin::Kernel);
    assert_eq!(loc.frame_names(), vec!["<unmapped>_[k]".to_string()]);
}

#[test]
fn two_programs_at_one_address_resolve_per_process() {
    let elfs = ElfPaths::new().with_program("a", own_exe()).with_program("b", own_exe());
    let maps = vec![
        LoadMap { pid: 1, binary: "a".into(), base: BASE },
        LoadMap { pid: 2, binary: "b".into(), base: BASE },
    ];
    let bins = Binaries::load(&elfs, maps.iter().map(|m| m.binary.as_str()));
    let resolver = Resolver::new(&bins, &maps);
    let probe = probe_runtime();
    for (pid, binary) in [(1, "a"), (2, "b")] {
        let loc = resolver.locate_frame_in(pid, 0, probe);
        assert_eq!(loc.origin, Origin::Program(binary.into()));
        assert!(loc.symbol_name().ends_with("::pc_report_probe"), "{}", loc.symbol_name());
        // A return address one past the probe's first byte is the probe too.
        let ret = resolver.locate_frame_in(pid, 1, probe + 1);
        assert_eq!(ret.origin, Origin::Program(binary.into()));
        // Past the image: no binary of this process covers it.
        assert_eq!(resolver.locate_frame_in(pid, 0, 0x7fff_0000_0000).origin, Origin::Unmapped);
    }
    // A process without a load map resolves by address alone.
    assert!(!resolver.knows_pid(9));
    assert!(matches!(resolver.locate_frame_in(9, 0, probe).origin, Origin::Ambiguous(_)));

    // The report: each process's samples under its own binary, none ambiguous.
    let mut r = Report { load_maps: maps, ..Report::default() };
    let tag = |pid: u32| SampleTag {
        cpu: 0,
        pid,
        tid: u64::from(pid) << 32 | 1,
        ..SampleTag::mode_only(SampleMode::User)
    };
    r.pc_samples.insert((Phase::Work, tag(1), probe), 5);
    r.pc_samples.insert((Phase::Work, tag(2), probe), 3);
    let dir = scratch("same-address");
    let text = std::fs::read_to_string(write_pc_report(&r, &elfs, &dir).expect("report").report)
        .expect("read");
    let work = section(&text, "section phase=work mode=user");
    assert!(work[0].contains("samples=8"), "{work:?}");
    let row = |b: &str| work.iter().find(|l| l.contains(b) && l.ends_with("::pc_report_probe"));
    assert!(row(" a ").is_some_and(|l| l.trim_start().starts_with('5')), "{work:?}");
    assert!(row(" b ").is_some_and(|l| l.trim_start().starts_with('3')), "{work:?}");
    assert!(!text.contains("ambiguous"), "{text}");
    assert!(!text.contains("without a load map"), "{text}");

    // A sample of a process without a load map: resolved by address alone,
    // and the report says so.
    r.pc_samples.insert((Phase::Work, tag(9), probe), 2);
    let text = std::fs::read_to_string(write_pc_report(&r, &elfs, &dir).expect("report").report)
        .expect("read");
    assert!(
        text.contains("note: 2 user PC samples (all phases) of processes without a load map (pid 9) are resolved by address alone"),
        "{text}"
    );
    assert!(text.contains("<ambiguous>"), "{text}");
}
