//! The placement table from known time-ordered samples.

use capos_flamegraphs::placement::{Placement, BUCKETS};
use capos_measure::phase::Phase;
use capos_measure::record::{SampleMode, SampleTag};
use capos_measure::report::{Begin, LoadMap, Report, ThreadName, TimedSample};

fn report() -> Report {
    let mut r = Report {
        begin: Some(Begin { cpus: 2, tsc_khz: 1_000, catalogue: 0 }),
        ..Report::default()
    };
    r.checkpoints.insert(Phase::Work, 10_000);
    r.checkpoints.insert(Phase::Shutdown, 20_000);
    r.load_maps.push(LoadMap { pid: 3, binary: "thread_scale".into(), base: 0x40_0000 });
    let (a, b) = (1u64 << 32 | 4, 1u64 << 32 | 5);
    r.thread_names.insert(a, ThreadName { thread: a, pid: 3, name: "worker-0".into() });
    let tag = |tid, cpu| SampleTag { cpu, pid: 3, tid, mode: SampleMode::User, lock: None };
    r.stack_defs.insert(1, (tag(a, 0), vec![0x40_1000]));
    r.stack_defs.insert(2, (tag(a, 1), vec![0x40_1000]));
    r.stack_defs.insert(3, (tag(b, 1), vec![0x40_2000]));
    let idle = SampleTag { cpu: 0, pid: 0, tid: 1, mode: SampleMode::Idle, lock: None };
    r.stack_defs.insert(4, (idle, vec![0xffff_ffff_8000_0000]));
    // worker-0: CPU 0 for the first half, CPU 1 for the second (one change);
    // the other thread on CPU 1 in the first half only; samples every 500.
    for i in 0..20u64 {
        let t = 10_000 + i * 500;
        let (cpu, stack) = if i < 10 { (0, 1) } else { (1, 2) };
        r.timed_samples.push(TimedSample { cpu, tsc: t, stack });
        if i < 10 {
            r.timed_samples.push(TimedSample { cpu: 1, tsc: t + 1, stack: 3 });
        } else {
            r.timed_samples.push(TimedSample { cpu: 0, tsc: t + 1, stack: 4 });
        }
    }
    // Outside the work phase: ignored.
    r.timed_samples.push(TimedSample { cpu: 0, tsc: 25_000, stack: 3 });
    r
}

#[test]
fn each_thread_gets_its_cpu_per_slice_and_its_changes() {
    let p = Placement::of(&report());
    assert_eq!(p.rows.len(), 2, "the idle thread is not a worker");
    assert_eq!(p.slice_ms(), 1.0);
    let w = &p.rows[0];
    assert_eq!((w.label.as_str(), w.samples, w.cpu_changes), ("worker-0 (t4)", 20, 1));
    let cpus: Vec<Option<u8>> = w.cells.iter().map(|c| c.map(|(cpu, _)| cpu)).collect();
    assert_eq!(cpus, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1].map(Some));
    let other = &p.rows[1];
    assert_eq!(
        (other.label.as_str(), other.samples, other.cpu_changes),
        ("thread_scale:3/t5", 10, 0)
    );
    assert_eq!(other.cells[..5], [Some((1, false)); 5]);
    assert_eq!(other.cells[5..], [None; 5]);
    let text = p.to_text();
    assert!(text.contains("worker-0 (t4)"), "{text}");
    let t = p.to_table("");
    assert_eq!(t.header.len(), 3 + BUCKETS);
    assert_eq!(t.rows[1][3 + 5], "-");
}

#[test]
fn a_slice_with_two_cpus_is_starred_and_no_work_phase_is_empty() {
    let mut r = report();
    // worker-0 also once on CPU 1 in the first slice.
    r.timed_samples.push(TimedSample { cpu: 1, tsc: 10_100, stack: 2 });
    r.timed_samples.sort_by_key(|s| s.tsc);
    let p = Placement::of(&r);
    assert_eq!(p.rows[0].cells[0], Some((0, true)));
    assert_eq!(p.to_table("").rows[0][3], "0*");
    r.checkpoints.remove(&Phase::Shutdown);
    assert!(Placement::of(&r).rows.is_empty());
    assert!(Placement::of(&r).to_text().contains("no time-ordered samples"));
}
