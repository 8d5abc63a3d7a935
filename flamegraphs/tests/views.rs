//! Folded stacks, flamegraph files, contention and differential graphs from
//! synthetic reports resolved against this test binary (loaded as user
//! program `prog` at 0x400000).

#[path = "../../symbolize/tests/common/mod.rs"]
mod common;

use capos_flamegraphs::{
    differential_folded, fold_contention, fold_samples, write_differential, write_run_profile,
    FoldSource, Scope,
};
use capos_measure::log_parse::parse_measure_log;
use capos_measure::phase::Phase;
use capos_measure::record::{SampleMode, SampleTag};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);
use capos_measure::report::{LoadMap, Report};
use capos_symbolize::{Binaries, ContentionStack, ElfPaths, ReportInput, Resolver};
use common::*;

const BASE: u64 = 0x40_0000;

#[inline(never)]
fn flame_probe(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(13) ^ 0x77
}

#[inline(never)]
fn flame_caller(x: u64) -> u64 {
    flame_probe(std::hint::black_box(x)).wrapping_add(1)
}

fn runtime(f: fn(u64) -> u64) -> u64 {
    fn_link_address(f) - link_start() + BASE
}

/// Leaf-first stack: probe's first byte, called from 8 bytes into caller.
fn probe_stack() -> Vec<u64> {
    vec![runtime(flame_probe), runtime(flame_caller) + 8]
}

fn elfs() -> ElfPaths {
    ElfPaths::new().with_program("prog", own_exe())
}

fn base_report() -> Report {
    let mut r = parse_measure_log(
        "measure: begin version=1 cpus=2 tsc_khz=2000000 catalogue=0x0\n\
         measure: scheduler_lock_site phase=work site=timer_select acquisitions=5 contended=2 wait_cycles=1000 hold_cycles=10\n\
         measure: shared_kernel_lock phase=work lock=heap acquisitions=3 contended=1 wait_cycles=300\n\
         measure: scheduler_lock_site phase=aggregate site=timer_select acquisitions=5 contended=2 wait_cycles=1000 hold_cycles=10\n\
         measure: shared_kernel_lock phase=aggregate lock=heap acquisitions=3 contended=1 wait_cycles=300\n",
    )
    .expect("log parses");
    r.load_maps.push(LoadMap { pid: 3, binary: "prog".into(), base: BASE });
    r
}

fn with_stacks(work_probe: u64, work_caller_only: u64) -> Report {
    let mut r = base_report();
    let caller_only = vec![runtime(flame_caller) + 8];
    r.stack_samples.insert((Phase::Work, U, probe_stack()), work_probe);
    r.stack_samples.insert((Phase::Work, U, caller_only), work_caller_only);
    r.stack_samples.insert((Phase::Work, K, vec![0xffff_ffff_8000_1000, 0xffff_ffff_8000_2000]), 2);
    r.stack_samples.insert((Phase::Shutdown, U, probe_stack()), 1);
    r
}

fn fold(report: &Report, scope: Scope) -> capos_flamegraphs::Folded {
    let bins = Binaries::load(&elfs(), report.load_maps.iter().map(|m| m.binary.as_str()));
    fold_samples(report, &Resolver::new(&bins, &report.load_maps), scope)
}

#[test]
fn folded_stacks_are_root_first_with_binary_and_kernel_marks() {
    let f = fold(&with_stacks(5, 0), Scope::Phase(Phase::Work));
    assert_eq!(f.source, FoldSource::Stacks);
    assert_eq!(f.total, 7);
    let (probe_line, n) =
        f.stacks.iter().find(|(s, _)| s.contains("flame_probe")).expect("probe stack");
    assert_eq!(*n, 5);
    let frames: Vec<&str> = probe_line.split(';').collect();
    assert!(
        frames.first().is_some_and(|f| f.starts_with("prog`") && f.ends_with("::flame_caller")),
        "{frames:?}"
    );
    assert!(
        frames.last().is_some_and(|f| f.starts_with("prog`") && f.ends_with("::flame_probe")),
        "{frames:?}"
    );
    // No kernel ELF given: kernel frames are unresolved but marked and kept.
    assert_eq!(f.stacks.get("<no symbols>_[k];<no symbols>_[k]"), Some(&2));
    let text = f.to_text();
    assert!(
        text.lines().all(|l| l.rsplit_once(' ').is_some_and(|(_, n)| n.parse::<u64>().is_ok())),
        "{text}"
    );

    // Whole run without aggregate samples: boot..shutdown summed.
    assert_eq!(fold(&with_stacks(5, 0), Scope::WholeRun).total, 8);
}

#[test]
fn pc_samples_stand_in_when_there_are_no_stacks() {
    let mut r = base_report();
    r.pc_samples.insert((Phase::Work, U, runtime(flame_probe)), 4);
    r.pc_samples.insert((Phase::Work, U, 0x10), 1);
    let f = fold(&r, Scope::Phase(Phase::Work));
    assert_eq!(f.source, FoldSource::PcSamples);
    assert_eq!(f.stacks.get("<unmapped>"), Some(&1));
    assert_eq!(f.total, 5);
    assert_eq!(fold(&base_report(), Scope::Phase(Phase::Work)).source, FoldSource::Empty);
}

#[test]
fn contention_uses_stacks_or_falls_back_to_site_counters() {
    let r = base_report();
    let bins = Binaries::load(&elfs(), ["prog"]);
    let resolver = Resolver::new(&bins, &r.load_maps);
    let fallback = fold_contention(&r, &[], &resolver, Scope::Phase(Phase::Work));
    assert_eq!(fallback.source, FoldSource::LockCounters);
    assert_eq!(fallback.stacks.get("[lock scheduler_lock_site];timer_select"), Some(&1000));
    assert_eq!(fallback.stacks.get("[lock shared_kernel_lock];heap"), Some(&300));

    let stacks = vec![ContentionStack {
        phase: Phase::Work,
        class: "scheduler_lock".into(),
        lock: "timer_select".into(),
        frames: probe_stack(),
        count: 2,
        wait_cycles: 4000,
    }];
    let f = fold_contention(&r, &stacks, &resolver, Scope::Phase(Phase::Work));
    assert_eq!(f.source, FoldSource::ContentionStacks);
    assert_eq!(f.total, 4000);
    let (line, _) = f.stacks.iter().next().expect("one stack");
    assert!(
        line.starts_with("[lock scheduler_lock timer_select];prog`")
            && line.ends_with("::flame_probe"),
        "{line}"
    );
}

#[test]
fn run_profile_writes_every_view_with_folded_beside_svg() {
    // (the TCG caveat's subtitle is checked in `tcg_subtitles_name_the_hottest_share`)
    let dir = scratch("flame-run");
    let input = ReportInput { report: with_stacks(5, 3), contention: Vec::new() };
    let p = write_run_profile(&input, &elfs(), &dir).expect("profile written");
    for g in [&p.work, &p.whole_run, &p.contention] {
        assert_eq!(g.folded.parent(), g.svg.parent());
        assert_eq!(g.folded.file_stem(), g.svg.file_stem());
        let svg = std::fs::read_to_string(&g.svg).expect("svg");
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"), "{}", g.svg.display());
    }
    let svg = std::fs::read_to_string(&p.work.svg).expect("svg");
    assert!(svg.contains("flame_probe"));
    // The subtitle states where the data came from and the losses.
    assert!(
        svg.contains("frame-pointer stack samples; losses: 0 samples, 0 trace events"),
        "{svg}"
    );
    assert_eq!(p.work.total, 10);
    assert_eq!(p.contention.total, 1300);
    assert!(
        p.pc_report.report.is_file() && p.pc_report.symbol_map.is_file() && p.timeline.is_file()
    );
    assert_eq!(p.lock_sites.first().map(|s| s.site.as_str()), Some("timer_select"));

    // Nothing sampled: the SVG says so instead of failing.
    let empty = write_run_profile(&ReportInput::default(), &ElfPaths::new(), &dir.join("empty"))
        .expect("empty");
    let svg = std::fs::read_to_string(&empty.work.svg).expect("svg");
    assert!(svg.contains("nothing to draw (no samples in scope)"), "{svg}");
}

#[test]
fn tcg_subtitles_name_the_hottest_share() {
    let dir = scratch("flame-tcg");
    let mut report = with_stacks(5, 3);
    report.pc_samples.insert((Phase::Work, U, runtime(flame_probe)), 3);
    report.pc_samples.insert((Phase::Work, U, runtime(flame_caller)), 1);
    report.instrument = Some(capos_measure::InstrumentInfo {
        accel: capos_measure::Accel::Tcg,
        ..Default::default()
    });
    let input = ReportInput { report, contention: Vec::new() };
    let p = write_run_profile(&input, &elfs(), &dir).expect("profile written");
    let svg = std::fs::read_to_string(&p.work.svg).expect("svg");
    assert!(
        svg.contains("TCG: samples land at translation-block starts (hottest PC: user 75.0%)"),
        "{svg}"
    );
}

#[test]
fn differential_compares_one_worker_with_n() {
    let before = with_stacks(10, 10);
    let after = with_stacks(30, 10);
    let text = differential_folded(
        &fold(&before, Scope::Phase(Phase::Work)),
        &fold(&after, Scope::Phase(Phase::Work)),
    )
    .expect("diff");
    let probe = text.lines().find(|l| l.contains("flame_probe")).expect("probe line");
    let nums: Vec<u64> = probe.rsplitn(3, ' ').take(2).map(|n| n.parse().expect("count")).collect();
    // after=30; before 10 normalised from a total of 22 to 42: 19.
    assert_eq!(nums, vec![30, 19], "{probe}");
    let dir = scratch("flame-diff");
    let g = write_differential(
        &before,
        &after,
        &elfs(),
        Scope::Phase(Phase::Work),
        ("1 worker", "4 workers"),
        &dir,
        "diff-work",
    )
    .expect("diff graph");
    let svg = std::fs::read_to_string(&g.svg).expect("svg");
    assert!(svg.contains("<svg") && svg.contains("1 worker vs 4 workers"));
    assert_eq!(std::fs::read_to_string(&g.folded).expect("folded"), text);
}

#[test]
fn stacks_of_two_programs_at_one_address_fold_per_process() {
    let elfs = ElfPaths::new().with_program("a", own_exe()).with_program("b", own_exe());
    let mut r = base_report();
    r.load_maps = vec![
        LoadMap { pid: 1, binary: "a".into(), base: BASE },
        LoadMap { pid: 2, binary: "b".into(), base: BASE },
    ];
    let of = |pid: u32| SampleTag { pid, tid: u64::from(pid) << 32 | 1, ..U };
    r.stack_samples.insert((Phase::Work, of(1), probe_stack()), 4);
    r.stack_samples.insert((Phase::Work, SampleTag { cpu: 1, ..of(1) }, probe_stack()), 1);
    r.stack_samples.insert((Phase::Work, of(2), probe_stack()), 3);
    // A process without a load map: its frames are ambiguous, not guessed.
    r.stack_samples.insert((Phase::Work, of(9), probe_stack()), 2);
    let bins = Binaries::load(&elfs, r.load_maps.iter().map(|m| m.binary.as_str()));
    let f = fold_samples(&r, &Resolver::new(&bins, &r.load_maps), Scope::Phase(Phase::Work));
    let weight = |binary: &str| -> u64 {
        let mine = format!("{binary}`");
        f.stacks
            .iter()
            .filter(|(s, _)| s.split(';').all(|fr| fr.starts_with(&mine)))
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!((weight("a"), weight("b")), (5, 3), "{:?}", f.stacks);
    let ambiguous: u64 =
        f.stacks.iter().filter(|(s, _)| s.contains("<ambiguous a|b>")).map(|(_, n)| n).sum();
    assert_eq!(ambiguous, 2, "{:?}", f.stacks);
    assert_eq!(f.total, 10);
}
