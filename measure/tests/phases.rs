//! A whole measured run through `Measure`: probes, marks, report records.

use capos_measure::catalogue::{
    kernel_pc_samples, scheduler_lock, scheduler_lock_site, thread_placement, user_pc_samples,
    SchedLockSite, SharedLock,
};
use capos_measure::report::Report;
use capos_measure::{
    ContentionClass, MarkError, Measure, Phase, Record, ReportInfo, SampleMode, SampleTag,
};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);

fn report(m: &Measure, end_tsc: u64) -> (Vec<Record>, Report) {
    let mut records = Vec::new();
    m.report(&ReportInfo { cpus: 4, tsc_khz: 1_000_000, end_tsc, instrument: None }, &mut |r| {
        records.push(r.clone())
    });
    let report = Report::from_records(records.clone()).expect("own records make a report");
    (records, report)
}

#[test]
fn phases_report_deltas_and_fresh_extremes() {
    static M: Measure = Measure::new();
    let acq = scheduler_lock::acquisitions;
    M.mark(Phase::Boot, 100).unwrap();
    M.add(0, acq, 2);
    M.max(0, scheduler_lock::hold_max, 900);
    M.min(0, scheduler_lock::hold_min, 9);

    M.mark(Phase::SpawnReady, 1_000).unwrap();
    M.add(1, acq, 3);
    M.max(1, scheduler_lock::hold_max, 50);
    M.min(1, scheduler_lock::hold_min, 40);
    M.hist(1, scheduler_lock::hold, 50);

    M.mark(Phase::Work, 2_000).unwrap();
    M.add(0, acq, 10);
    M.add(2, acq, 5);
    M.add(2, scheduler_lock_site::acquisitions.at(SchedLockSite::TimerSelect), 5);
    M.max(2, scheduler_lock::hold_max, 70);
    M.min(0, scheduler_lock::hold_min, 60);
    M.hist(2, scheduler_lock::hold, 3);
    M.hist(0, scheduler_lock::hold, 2);
    M.add(3, thread_placement::selected.at(3usize), 4);

    M.mark(Phase::Shutdown, 3_500).unwrap();
    // Nothing measured in shutdown: its extremes must read 0, not work's.
    assert_eq!(M.mark(Phase::Work, 3_600), Err(MarkError::OutOfOrder(Phase::Work)));
    M.mark(Phase::FinalTotal, 4_000).unwrap();
    M.add(0, acq, 1000); // after the end: aggregate only
    assert_eq!(M.mark(Phase::FinalTotal, 4_100), Err(MarkError::OutOfOrder(Phase::FinalTotal)));
    assert_eq!(M.mark(Phase::Aggregate, 4_100), Err(MarkError::NotAMark(Phase::Aggregate)));

    let (records, r) = report(&M, 5_000);
    assert!(matches!(records.first(), Some(Record::Begin { cpus: 4, .. })));
    assert!(matches!(records.last(), Some(Record::End { tsc: 5_000, .. })));

    assert_eq!(r.counter(Phase::Boot, acq), 2);
    assert_eq!(r.counter(Phase::SpawnReady, acq), 3);
    assert_eq!(r.counter(Phase::Work, acq), 15);
    assert_eq!(r.counter(Phase::Shutdown, acq), 0);
    assert_eq!(r.counter(Phase::FinalTotal, acq), 18);
    assert_eq!(r.counter(Phase::Aggregate, acq), 1020);
    assert_eq!(
        r.counter(Phase::Work, scheduler_lock_site::acquisitions.at(SchedLockSite::TimerSelect)),
        5
    );
    assert_eq!(r.counter(Phase::Work, thread_placement::selected.at(3usize)), 4);

    assert_eq!(r.counter(Phase::Boot, scheduler_lock::hold_max), 900);
    assert_eq!(r.counter(Phase::SpawnReady, scheduler_lock::hold_max), 50);
    assert_eq!(r.counter(Phase::SpawnReady, scheduler_lock::hold_min), 40);
    assert_eq!(r.counter(Phase::Work, scheduler_lock::hold_max), 70);
    assert_eq!(r.counter(Phase::Work, scheduler_lock::hold_min), 60);
    assert_eq!(r.counter(Phase::Shutdown, scheduler_lock::hold_max), 0);
    assert_eq!(r.counter(Phase::Shutdown, scheduler_lock::hold_min), 0);
    assert_eq!(r.counter(Phase::FinalTotal, scheduler_lock::hold_max), 70);
    assert_eq!(r.counter(Phase::FinalTotal, scheduler_lock::hold_min), 40);
    assert_eq!(r.counter(Phase::Aggregate, scheduler_lock::hold_max), 900);
    assert_eq!(r.counter(Phase::Aggregate, scheduler_lock::hold_min), 9);

    let hold = scheduler_lock::hold.into();
    let work = r.hists.get(&(Phase::Work, hold)).unwrap();
    assert_eq!(work.iter().map(|(b, n)| (*b, *n)).collect::<Vec<_>>(), vec![(2, 2)]);
    let total = r.hists.get(&(Phase::FinalTotal, hold)).unwrap();
    assert_eq!(total.get(&6), Some(&1)); // 50 -> bucket 6
    assert_eq!(total.get(&2), Some(&2));

    assert_eq!(r.checkpoints.get(&Phase::Work), Some(&2_000));
    assert_eq!(r.phase_cycles.get(&Phase::Boot), Some(&900));
    assert_eq!(r.phase_cycles.get(&Phase::Work), Some(&1_500));
    assert_eq!(r.phase_cycles.get(&Phase::Shutdown), Some(&500));
    assert_eq!(r.phase_cycles.get(&Phase::FinalTotal), Some(&3_000));
    assert_eq!(r.phase_cycles.get(&Phase::Aggregate), Some(&4_900));
    assert_eq!(r.end.map(|e| e.lost), Some(0));
}

#[test]
fn skipped_marks_and_live_last_phase() {
    static M: Measure = Measure::new();
    M.add(0, scheduler_lock::acquisitions, 1);
    M.mark(Phase::Work, 10).unwrap(); // spawn_ready skipped
    M.add(0, scheduler_lock::acquisitions, 2);
    M.max(0, scheduler_lock::wait_max, 33);
    // No further mark: work runs to the report, its max read live.
    let (_, r) = report(&M, 50);
    assert_eq!(r.counter(Phase::Boot, scheduler_lock::acquisitions), 1);
    assert_eq!(r.counter(Phase::Work, scheduler_lock::acquisitions), 2);
    assert_eq!(r.counter(Phase::Work, scheduler_lock::wait_max), 33);
    assert!(!r.phases().contains(&Phase::SpawnReady));
    assert!(!r.phases().contains(&Phase::FinalTotal));
    assert_eq!(r.phase_cycles.get(&Phase::Work), Some(&40));
}

#[test]
fn samples_are_reported_per_phase_and_summed() {
    static M: Measure = Measure::new();
    M.sample_pc(0, &U, 0x40_1000);
    M.mark(Phase::SpawnReady, 1).unwrap();
    M.sample_pc(0, &U, 0x40_1000);
    M.sample_stack(0, &U, &[0x40_1000, 0x40_2000], 1500);
    M.mark(Phase::Work, 2).unwrap();
    M.sample_pc(1, &U, 0x40_1000);
    M.sample_pc(1, &K, 0xffff_ffff_8000_1234);
    M.sample_stack(1, &U, &[0x40_1000, 0x40_2000], 1600);
    M.mark(Phase::FinalTotal, 3).unwrap();
    M.sample_pc(1, &U, 0x40_1000);

    let (_, r) = report(&M, 4);
    let pc = |phase, mode, pc| r.pc_samples.get(&(phase, mode, pc)).copied().unwrap_or(0);
    assert_eq!(pc(Phase::Boot, U, 0x40_1000), 1);
    assert_eq!(pc(Phase::SpawnReady, U, 0x40_1000), 1);
    assert_eq!(pc(Phase::Work, U, 0x40_1000), 1);
    assert_eq!(pc(Phase::FinalTotal, U, 0x40_1000), 2);
    assert_eq!(pc(Phase::Aggregate, U, 0x40_1000), 4);
    assert_eq!(pc(Phase::Work, K, 0xffff_ffff_8000_1234), 1);
    let stack = vec![0x40_1000, 0x40_2000];
    assert_eq!(r.stack_samples.get(&(Phase::FinalTotal, U, stack.clone())), Some(&2));
    assert_eq!(r.stack_samples.get(&(Phase::Work, U, stack)), Some(&1));
    assert_eq!(r.counter(Phase::Aggregate, user_pc_samples::samples), 4);
    assert_eq!(r.counter(Phase::Work, user_pc_samples::stacks), 1);
    assert_eq!(r.counter(Phase::Aggregate, user_pc_samples::overflow), 0);
}

#[test]
fn full_pc_table_counts_overflow() {
    static M: Measure = Measure::new();
    let n = capos_measure::PC_TABLE_ENTRIES as u64;
    for i in 0..n + 100 {
        M.sample_pc(0, &U, 0x1000 + i * 16);
    }
    let (_, r) = report(&M, 1);
    let taken = r.counter(Phase::Aggregate, user_pc_samples::samples);
    let lost = r.counter(Phase::Aggregate, user_pc_samples::overflow);
    assert_eq!(taken + lost, n + 100);
    assert!(lost >= 100, "lost {lost}");
    assert_eq!(r.pc_samples.iter().filter(|(k, _)| k.0 == Phase::Aggregate).count() as u64, taken);
}

#[test]
fn contention_stacks_are_reported_per_phase_and_summed() {
    static M: Measure = Measure::new();
    let sched = ContentionClass::SchedulerLock as u8;
    let site = SchedLockSite::WakeUnblock as u8;
    let stack = [0xffff_ffff_8000_1000, 0xffff_ffff_8000_2000];
    M.contention_stack(0, sched, site, &stack, 10);
    M.mark(Phase::SpawnReady, 1).unwrap();
    M.contention_stack(0, sched, site, &stack, 20);
    M.mark(Phase::Work, 2).unwrap();
    M.contention_stack(1, sched, site, &stack, 300);
    M.contention_stack(1, sched, site, &stack, 400);
    M.mark(Phase::FinalTotal, 3).unwrap();
    M.contention_stack(1, sched, site, &stack, 5_000);
    // Unknown class or lock: refused and counted as overflow.
    M.contention_stack(1, 7, 0, &stack, 1);
    M.contention_stack(
        1,
        ContentionClass::SharedKernelLock as u8,
        SharedLock::ALL.len() as u8,
        &stack,
        1,
    );

    let (records, r) = report(&M, 4);
    let get = |phase| r.contention_stacks.get(&(phase, sched, site, stack.to_vec())).copied();
    assert_eq!(get(Phase::Boot), Some((1, 10)));
    assert_eq!(get(Phase::SpawnReady), Some((1, 20)));
    assert_eq!(get(Phase::Work), Some((2, 700)));
    assert_eq!(get(Phase::Shutdown), None);
    assert_eq!(get(Phase::FinalTotal), Some((3, 720)));
    assert_eq!(get(Phase::Aggregate), Some((5, 5_730)));
    assert_eq!(r.contention_stacks.len(), 5);
    assert_eq!(r.counter(Phase::Aggregate, kernel_pc_samples::contention_stacks), 5);
    assert_eq!(r.counter(Phase::Aggregate, kernel_pc_samples::contention_overflow), 2);
    assert_eq!(r.counter(Phase::Work, kernel_pc_samples::contention_stacks), 2);
    // Sent after stack samples, before End.
    assert!(matches!(records.iter().rev().nth(1), Some(Record::ContentionStack { .. })));
}

#[test]
fn full_contention_table_counts_overflow() {
    static M: Measure = Measure::new();
    let n = capos_measure::CONTENTION_TABLE_ENTRIES as u64;
    for i in 0..n + 50 {
        M.contention_stack(0, 1, 0, &[0xffff_ffff_8000_0000 + i * 16], 1);
    }
    let (_, r) = report(&M, 1);
    let taken = r.counter(Phase::Aggregate, kernel_pc_samples::contention_stacks);
    let lost = r.counter(Phase::Aggregate, kernel_pc_samples::contention_overflow);
    assert_eq!(taken + lost, n + 50);
    assert!(lost >= 50, "lost {lost}");
    let kept: u64 =
        r.contention_stacks.iter().filter(|(k, _)| k.0 == Phase::Aggregate).map(|(_, v)| v.0).sum();
    assert_eq!(kept, taken);
}
