//! The final snapshot: after `stop` no probe changes what is reported, the
//! frozen copy does not follow the live state, and lock histograms agree
//! with acquisitions up to the holds in progress at the freeze.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use capos_measure::catalogue::{kernel_pc_samples, scheduler_lock, user_pc_samples};
use capos_measure::report::Report;
use capos_measure::{
    ContentionClass, Frozen, MarkError, Measure, Phase, Record, ReportInfo, SampleMode, SampleTag,
    TraceEvent, TraceKind,
};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);

const INFO: ReportInfo =
    ReportInfo { cpus: 2, tsc_khz: 1_000_000, end_tsc: 9_000, instrument: None };

fn records(f: &Frozen<'_>) -> Vec<Record> {
    let mut out = Vec::new();
    f.report(&INFO, &mut |r| out.push(r.clone()));
    out
}

/// One probe of every kind, on `cpu`, with values derived from `v`.
fn probe_everything(m: &Measure, cpu: usize, v: u64) {
    m.add(cpu, scheduler_lock::acquisitions, 1);
    m.min(cpu, scheduler_lock::hold_min, v);
    m.max(cpu, scheduler_lock::hold_max, v * 10);
    m.hist(cpu, scheduler_lock::hold, v);
    m.sample_pc(cpu, &U, 0x40_1000 + v * 4);
    m.sample_pc(cpu, &K, 0xffff_ffff_8000_1000 + v * 4);
    m.sample_stack(cpu, &K, &[0xffff_ffff_8000_1000, v], v);
    m.contention_stack(cpu, ContentionClass::SharedKernelLock as u8, 1, &[v], 100 + v);
    m.trace(
        cpu,
        &TraceEvent { tsc: v, kind: TraceKind::Wakeup, cpu: cpu as u8, flags: 0, a: v, b: 1 },
    );
}

#[test]
fn nothing_after_stop_changes_the_report() {
    static M: Measure = Measure::new();
    M.mark(Phase::Boot, 1).unwrap();
    probe_everything(&M, 0, 3);
    M.mark(Phase::Work, 100).unwrap();
    probe_everything(&M, 1, 5);

    M.stop();
    assert!(M.is_stopped());
    let before = records(&M.freeze());
    for v in 6..50 {
        probe_everything(&M, (v % 2) as usize, v);
    }
    assert_eq!(M.mark(Phase::Shutdown, 200), Err(MarkError::Stopped));
    M.stop(); // idempotent: does not wait for itself
    let after = records(&M.freeze());
    assert_eq!(before, after, "a probe after stop changed the report");

    let r = Report::from_records(after).unwrap();
    assert_eq!(r.counter(Phase::Aggregate, scheduler_lock::acquisitions), 2);
    assert_eq!(r.counter(Phase::Aggregate, scheduler_lock::hold_max), 50);
    assert_eq!(r.counter(Phase::Work, scheduler_lock::hold_min), 5);
    assert_eq!(r.counter(Phase::Aggregate, user_pc_samples::samples), 2);
    assert_eq!(r.counter(Phase::Aggregate, kernel_pc_samples::contention_stacks), 2);
    assert_eq!(r.trace.len(), 2);
    assert!(!r.checkpoints.contains_key(&Phase::Shutdown));
}

#[test]
fn a_frozen_copy_does_not_follow_late_updates() {
    static M: Measure = Measure::new();
    M.mark(Phase::Boot, 1).unwrap();
    probe_everything(&M, 0, 3);
    let frozen = M.freeze();
    assert!(M.is_stopped(), "freezing stops measurement");
    let first = records(&frozen);
    // A probe another CPU began before the stop lands after the copy (it
    // writes the shards directly, past the stop check it already made).
    M.shards.add(1, scheduler_lock::acquisitions, 5);
    M.shards.hist(1, scheduler_lock::hold, 9);
    assert_eq!(records(&frozen), first, "the copy followed a late update");
    let late = Report::from_records(records(&M.freeze())).unwrap();
    assert_eq!(late.counter(Phase::Aggregate, scheduler_lock::acquisitions), 6);
    let old = Report::from_records(first).unwrap();
    assert_eq!(old.counter(Phase::Aggregate, scheduler_lock::acquisitions), 1);
}

/// Lock bookkeeping as the kernel does it: `acquisitions` at acquire, the
/// hold histogram at release. Threads play CPUs; the main thread stops
/// measurement mid-run, waits until every thread has seen the stop (as the
/// kernel waits for every CPU's next ticks), then freezes.
#[test]
fn hold_histogram_plus_holds_in_progress_equals_acquisitions() {
    static M: Measure = Measure::new();
    static GO: AtomicBool = AtomicBool::new(false);
    static SEEN_STOP: AtomicUsize = AtomicUsize::new(0);
    const CPUS: usize = 4;
    let threads: Vec<_> = (0..CPUS)
        .map(|cpu| {
            std::thread::spawn(move || {
                while !GO.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let mut i = 0u64;
                while !M.is_stopped() {
                    M.add(cpu, scheduler_lock::acquisitions, 1);
                    i += 1;
                    M.add(cpu, scheduler_lock::hold_cycles, i % 50);
                    M.hist(cpu, scheduler_lock::hold, i % 50);
                }
                SEEN_STOP.fetch_add(1, Ordering::AcqRel);
            })
        })
        .collect();
    GO.store(true, Ordering::Release);
    std::thread::sleep(std::time::Duration::from_millis(20));
    M.stop();
    while SEEN_STOP.load(Ordering::Acquire) < CPUS {
        std::hint::spin_loop();
    }
    let r = Report::from_records(records(&M.freeze())).unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let acquisitions = r.counter(Phase::Aggregate, scheduler_lock::acquisitions);
    let entries: u64 = r
        .hists
        .get(&(Phase::Aggregate, scheduler_lock::hold.into()))
        .map_or(0, |b| b.values().sum());
    assert!(acquisitions > 0);
    assert!(
        entries <= acquisitions && acquisitions - entries <= CPUS as u64,
        "acquisitions {acquisitions}, hold entries {entries}: at most one hold per CPU may be in progress"
    );
}
