//! `measure check`: a report built the way the kernel builds one passes
//! every identity, and breaking any one figure fails that identity.

use std::sync::OnceLock;

use capos_measure::catalogue::{
    kernel_pc_samples, scheduler, scheduler_lock, scheduler_lock_site, serial, shared_kernel_lock,
    timer, user_pc_samples, SchedLockSite, SerialChannel, SharedLock,
};
use capos_measure::check::{
    check, check_log_text, CheckConfig, CheckError, CheckLogError, Verdict,
};
use capos_measure::lock_pairs::UNKNOWN_HOLDER;
use capos_measure::report::Report;
use capos_measure::{
    ContentionClass, Counter, InstrumentInfo, Measure, Mode, Phase, ReportInfo, SampleMode,
    SampleTag, TraceEvent, TraceKind,
};

const CPUS: usize = 2;
/// 1 MHz TSC: one 100 Hz tick is 10 000 cycles, one 500 Hz sample 2 000.
const TSC_KHZ: u64 = 1_000;
const PERIOD: u64 = 10_000;
const SAMPLE_HZ: u32 = 500;
const SAMPLE_PERIOD: u64 = 2_000;
const MARKS: [(Phase, u64); 5] = [
    (Phase::Boot, 0),
    (Phase::SpawnReady, 100_000),
    (Phase::Work, 300_000),
    (Phase::Shutdown, 1_300_000),
    (Phase::FinalTotal, 1_400_000),
];
const END: u64 = 1_500_000;

/// What happens at one TSC value of the simulated run.
enum Event {
    Mark(Phase),
    Tick { cpu: usize },
    Sample { cpu: usize },
    Lock { cpu: usize, n: u64 },
}

/// A tick as `arch_hooks::tick` counts it, and a context switch on every
/// other tick as `sched::dispatch` counts it.
fn tick(m: &Measure, cpu: usize, from_user: bool, pc: u64) {
    if pc.is_multiple_of(2) {
        let choice =
            [scheduler::candidates_local, scheduler::candidates_stolen][(pc % 4) as usize / 2];
        if from_user {
            m.add(cpu, choice, 1);
            m.add(cpu, scheduler::outcome_runnable, 1);
        } else {
            // A switch to the idle thread: no candidate ran.
            m.add(cpu, scheduler::candidates_idle, 1);
        }
    }
    m.add(cpu, timer::interrupts, 1);
    m.add(cpu, if from_user { timer::user_scheduler } else { timer::kernel_only }, 1);
}

/// A sample-clock interrupt as `arch_hooks::sample` and `measure::sample`
/// count it.
fn sample(m: &Measure, cpu: usize, from_user: bool, pc: u64, tsc: u64) {
    m.add(cpu, timer::sample_interrupts, 1);
    let mode = if from_user { SampleMode::User } else { SampleMode::Kernel };
    let tag = SampleTag { cpu: cpu as u8, pid: 2, tid: 0x1_0000_0003, mode, lock: None };
    m.sample_pc(cpu, &tag, pc);
    m.sample_stack(cpu, &tag, &[pc, pc + 0x100], tsc);
}

/// An acquisition and release as `lockstat` counts them.
fn run_lock(m: &Measure, cpu: usize, n: u64) {
    let s = [SchedLockSite::TimerSelect, SchedLockSite::WakeUnblock][n as usize % 2];
    let wait = if n.is_multiple_of(4) { 50 + n % 7 } else { 0 };
    let hold = 20 + n % 5;
    m.add(cpu, scheduler_lock::acquisitions, 1);
    m.add(cpu, scheduler_lock_site::acquisitions.at(s), 1);
    if wait > 0 {
        m.add(cpu, scheduler_lock::contended, 1);
        m.add(cpu, scheduler_lock::spin_loops, 3);
        m.add(cpu, scheduler_lock::wait_cycles, wait);
        m.min(cpu, scheduler_lock::wait_min, wait);
        m.max(cpu, scheduler_lock::wait_max, wait);
        m.hist(cpu, scheduler_lock::wait, wait);
        m.add(cpu, scheduler_lock_site::contended.at(s), 1);
        m.add(cpu, scheduler_lock_site::wait_cycles.at(s), wait);
        let frames = [0xffff_ffff_8000_1000 + n % 3, 0xffff_ffff_8000_2000];
        m.contention_stack(cpu, ContentionClass::SchedulerLock as u8, s as u8, &frames, wait);
        // Every other wait saw its holder (a steal), the rest found it gone.
        let seen = n.is_multiple_of(8);
        let holder = if seen { SchedLockSite::Steal as u8 } else { UNKNOWN_HOLDER };
        m.lock_pair(ContentionClass::SchedulerLock as u8, s as u8, holder, wait, seen);
    }
    if n % 3 == 1 {
        m.add(cpu, scheduler_lock::handoffs, 1);
        m.add(cpu, scheduler_lock_site::handoffs.at(s), 1);
    }
    m.add(cpu, scheduler_lock::hold_cycles, hold);
    m.min(cpu, scheduler_lock::hold_min, hold);
    m.max(cpu, scheduler_lock::hold_max, hold);
    m.hist(cpu, scheduler_lock::hold, hold);
    m.add(cpu, scheduler_lock_site::hold_cycles.at(s), hold);
    // A heap allocation beside it, never contended.
    let heap = SharedLock::Heap;
    m.add(cpu, shared_kernel_lock::acquisitions.at(heap), 1);
    m.add(cpu, shared_kernel_lock::hold_cycles.at(heap), 9);
    m.hist(cpu, shared_kernel_lock::hold.at(heap), 9);
    m.add(cpu, serial::bytes.at(SerialChannel::Com1), n % 11);
}

/// A two-CPU run, ticks at 100 Hz and samples at 500 Hz, whose every
/// figure obeys the identities.
fn kernel_like_report() -> Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT
        .get_or_init(|| {
            static M: Measure = Measure::new();
            let mut events: Vec<(u64, Event)> =
                MARKS.iter().map(|(p, t)| (*t, Event::Mark(*p))).collect();
            for cpu in 0..CPUS {
                let first = PERIOD / 2 + cpu as u64 * 1_000;
                events.extend(
                    (first..END).step_by(PERIOD as usize).map(|t| (t, Event::Tick { cpu })),
                );
                let first = SAMPLE_PERIOD / 3 + cpu as u64 * 300;
                events.extend(
                    (first..END)
                        .step_by(SAMPLE_PERIOD as usize)
                        .map(|t| (t, Event::Sample { cpu })),
                );
            }
            events.extend(
                (0..END / 3_000)
                    .map(|n| (n * 3_000 + 700, Event::Lock { cpu: n as usize % CPUS, n })),
            );
            events.sort_by_key(|(t, _)| *t);
            for (i, (t, e)) in events.iter().enumerate() {
                match e {
                    Event::Mark(p) => M.mark(*p, *t).unwrap(),
                    Event::Tick { cpu } => tick(&M, *cpu, i % 3 != 0, 0x40_1000 + (i % 5) as u64),
                    Event::Sample { cpu } => {
                        sample(&M, *cpu, i % 3 != 0, 0x40_1000 + (i % 5) as u64, *t)
                    }
                    Event::Lock { cpu, n } => run_lock(&M, *cpu, *n),
                }
            }
            for cpu in 0..CPUS {
                let e = TraceEvent {
                    tsc: 7,
                    kind: TraceKind::ContextSwitch,
                    cpu: cpu as u8,
                    flags: 0,
                    a: 1,
                    b: 2,
                };
                M.trace(cpu, &e);
            }
            let info =
                ReportInfo { cpus: CPUS as u8, tsc_khz: TSC_KHZ, end_tsc: END, instrument: None };
            let mut records = Vec::new();
            M.report(&info, &mut |r| records.push(r.clone()));
            Report::from_records(records).unwrap()
        })
        .clone()
}

fn cfg() -> CheckConfig {
    CheckConfig { tick_hz: 100, sample_hz: SAMPLE_HZ, ..CheckConfig::default() }
}

/// The verdicts of `identity` rows on `phase` (`None`: whole report).
fn verdicts(r: &Report, identity: &str, phase: Option<Phase>) -> Vec<Verdict> {
    verdicts_with(&cfg(), r, identity, phase)
}

fn verdicts_with(
    cfg: &CheckConfig,
    r: &Report,
    identity: &str,
    phase: Option<Phase>,
) -> Vec<Verdict> {
    let result = check(r, cfg).unwrap();
    result
        .rows
        .iter()
        .filter(|row| row.identity == identity && (phase.is_none() || row.phase == phase))
        .map(|row| row.verdict.clone())
        .collect()
}

fn fails(r: &Report, identity: &str, phase: Option<Phase>) -> bool {
    verdicts(r, identity, phase).contains(&Verdict::Fail)
}

fn add(r: &mut Report, phase: Phase, c: impl Into<Counter>, delta: i64) {
    let c = c.into();
    let v = r.counter(phase, c).saturating_add_signed(delta);
    r.set_counter(phase, c, v);
}

#[test]
fn a_kernel_like_report_passes_every_identity() {
    let r = kernel_like_report();
    let result = check(&r, &cfg()).unwrap();
    let text = result.to_string();
    assert!(result.ok(), "{text}");
    assert!(text.ends_with(&format!("measure check: ok ({} identities)\n", result.checked())));
    for id in [
        "timer_rate",
        "timer_split",
        "scheduler_choice",
        "sample_rate",
        "samples_per_interrupt",
        "stacks_per_interrupt",
        "pc_sample_lines",
        "stack_sample_lines",
        "lock_site_sum",
        "hist_wait",
        "hist_hold",
        "contention_stacks",
        "contention_count",
        "contention_wait",
        "pair_cross_cpu",
        "pair_count",
        "pair_wait",
        "pair_site_count",
        "pair_site_wait",
        "handoff_bound",
        "final_total_sum",
        "final_total_max",
        "final_total_hist",
        "end_records",
        "records_lost",
    ] {
        let v = verdicts(&r, id, None);
        assert!(!v.is_empty() && v.iter().all(|v| *v == Verdict::Pass), "{id}: {v:?}\n{text}");
    }
    // 200 000 cycles at 1 MHz, 100 Hz, 2 CPUs: 40 ticks, all of them seen.
    let row = result
        .rows
        .iter()
        .find(|r| r.identity == "timer_rate" && r.phase == Some(Phase::SpawnReady))
        .unwrap();
    assert_eq!((row.expected, row.measured), (40, 40), "{row}");
    // And 200 samples at 500 Hz.
    let row = result
        .rows
        .iter()
        .find(|r| r.identity == "sample_rate" && r.phase == Some(Phase::SpawnReady))
        .unwrap();
    assert_eq!((row.expected, row.measured), (200, 200), "{row}");
    // The same report read back from its measure.log text passes too.
    let again = check_log_text(&r.to_measure_log(), &cfg()).unwrap();
    assert!(again.ok(), "{again}");
    assert_eq!(again.rows.len(), result.rows.len());
}

#[test]
fn timer_rate_fails_on_too_many_or_too_few_ticks() {
    let mut r = kernel_like_report();
    // Work is 1 s: 200 ticks expected.
    add(&mut r, Phase::Work, timer::interrupts, 40);
    assert!(fails(&r, "timer_rate", Some(Phase::Work)));
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, timer::interrupts, -60);
    assert!(fails(&r, "timer_rate", Some(Phase::Work)));
    // A wrong tick rate is caught as well.
    let c = CheckConfig { tick_hz: 250, ..cfg() };
    let result = check(&kernel_like_report(), &c).unwrap();
    assert!(result.failures().any(|r| r.identity == "timer_rate"), "{result}");
    assert!(result.verdict_line().starts_with("measure check: FAILED ("));
}

#[test]
fn sample_rate_is_its_own_clock() {
    // Work is 1 s on 2 CPUs: 1000 samples and 200 ticks.
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, timer::sample_interrupts, 100);
    assert!(fails(&r, "sample_rate", Some(Phase::Work)));
    assert!(!fails(&r, "timer_rate", Some(Phase::Work)));
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, timer::sample_interrupts, -200);
    assert!(fails(&r, "sample_rate", Some(Phase::Work)));
    // Samples at the tick rate (the old coupling) are caught.
    let c = CheckConfig { sample_hz: 100, ..cfg() };
    let result = check(&kernel_like_report(), &c).unwrap();
    assert!(result.failures().any(|r| r.identity == "sample_rate"), "{result}");
    assert!(!result.failures().any(|r| r.identity == "timer_rate"), "{result}");
}

#[test]
fn the_reports_own_rates_win_over_the_configured_ones() {
    let mut r = kernel_like_report().clone();
    let c = CheckConfig { tick_hz: 250, sample_hz: 100, ..cfg() };
    assert!(!check(&r, &c).unwrap().ok());
    r.instrument = Some(InstrumentInfo { tick_hz: 100, sample_hz: 500, ..Default::default() });
    // The guest counts the instrument record among those it sent.
    if let Some(e) = r.end.as_mut() {
        e.records += 1;
    }
    let result = check(&r, &c).unwrap();
    assert!(result.ok(), "{result}");
    // A report that states 997 Hz while sampling at 500 fails.
    r.instrument = Some(InstrumentInfo { tick_hz: 100, sample_hz: 997, ..Default::default() });
    assert!(verdicts_with(&c, &r, "sample_rate", Some(Phase::Work)).contains(&Verdict::Fail));
}

#[test]
fn tcg_runs_check_only_the_upper_tick_bound() {
    assert_eq!(CheckConfig::for_run(2, 2, false).lost_tick_permille, 100);
    assert_eq!(CheckConfig::for_run(4, 2, false).lost_tick_permille, 500);
    let tcg = CheckConfig { tick_hz: 100, ..CheckConfig::for_run(2, 2, true) };
    let mut r = kernel_like_report();
    // Work expects 200 ticks; a host that delivered 50 is not the kernel's fault.
    add(&mut r, Phase::Work, timer::interrupts, -150);
    assert_eq!(verdicts_with(&tcg, &r, "timer_rate", Some(Phase::Work)), [Verdict::Pass]);
    assert!(fails(&r, "timer_rate", Some(Phase::Work)));
    // But ticks beyond the rate are never the host's doing.
    add(&mut r, Phase::Work, timer::interrupts, 190);
    assert_eq!(verdicts_with(&tcg, &r, "timer_rate", Some(Phase::Work)), [Verdict::Fail]);
}

#[test]
fn timer_split_and_samples_fail_when_an_interrupt_is_unaccounted() {
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, timer::kernel_only, 5);
    assert!(fails(&r, "timer_split", Some(Phase::Work)));
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, kernel_pc_samples::samples, -5);
    assert!(fails(&r, "samples_per_interrupt", Some(Phase::Work)));
    // Overflowed samples still count as taken.
    add(&mut r, Phase::Work, kernel_pc_samples::overflow, 5);
    assert!(!fails(&r, "samples_per_interrupt", Some(Phase::Work)));
    let mut r = kernel_like_report();
    add(&mut r, Phase::Shutdown, user_pc_samples::stacks, 5);
    assert!(fails(&r, "stacks_per_interrupt", Some(Phase::Shutdown)));
    // A sample counted against the tick instead of its own clock is caught.
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, timer::sample_interrupts, -5);
    add(&mut r, Phase::Work, timer::interrupts, 5);
    assert!(fails(&r, "samples_per_interrupt", Some(Phase::Work)));
}

#[test]
fn every_switch_needs_a_choice() {
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, scheduler::outcome_runnable, 5);
    assert!(fails(&r, "scheduler_choice", Some(Phase::Work)));
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, scheduler::candidates_stolen, -5);
    assert!(fails(&r, "scheduler_choice", Some(Phase::Work)));
}

#[test]
fn sample_lines_must_add_up_to_the_sample_counters() {
    for phase in [Phase::Aggregate, Phase::FinalTotal] {
        let mut r = kernel_like_report();
        let key =
            r.pc_samples.keys().find(|(p, t, _)| *p == phase && t.family() == Mode::User).cloned();
        *r.pc_samples.get_mut(&key.unwrap()).unwrap() += 5;
        assert!(fails(&r, "pc_sample_lines", Some(phase)), "{phase:?}");
        let mut r = kernel_like_report();
        r.stack_samples.retain(|(p, t, _), _| !(*p == phase && t.family() == Mode::Kernel));
        assert!(fails(&r, "stack_sample_lines", Some(phase)), "{phase:?}");
    }
}

#[test]
fn sample_lines_may_cross_a_mark() {
    // Samples tagged with the next phase but counted in the one before (a
    // marking vCPU stalled between the phase switch and its snapshot):
    // the phases are not compared one by one, the windows still add up.
    let mut r = kernel_like_report();
    let key = |r: &Report, p: Phase| {
        r.pc_samples.keys().find(|(q, t, _)| *q == p && t.family() == Mode::User).cloned()
    };
    let (work, shutdown) = (key(&r, Phase::Work).unwrap(), key(&r, Phase::Shutdown).unwrap());
    *r.pc_samples.get_mut(&work).unwrap() -= 3;
    *r.pc_samples.get_mut(&shutdown).unwrap() += 3;
    for phase in [Phase::Work, Phase::Shutdown, Phase::FinalTotal, Phase::Aggregate] {
        assert!(!fails(&r, "pc_sample_lines", Some(phase)), "{phase:?}");
    }
    assert_eq!(
        verdicts(&r, "pc_sample_lines", Some(Phase::Aggregate)),
        [Verdict::Pass, Verdict::Pass]
    );
}

#[test]
fn lock_sites_must_add_up_to_the_lock() {
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, scheduler_lock_site::acquisitions.at(SchedLockSite::Blocking), 5);
    assert!(fails(&r, "lock_site_sum", Some(Phase::Work)));
    let mut r = kernel_like_report();
    // Hold cycles are allowed one longest hold (24 here) per CPU per
    // boundary: 2 CPUs x 2 boundaries x 24 = 96.
    add(&mut r, Phase::Work, scheduler_lock::hold_cycles, 96);
    assert!(!fails(&r, "lock_site_sum", Some(Phase::Work)));
    add(&mut r, Phase::Work, scheduler_lock::hold_cycles, 1);
    assert!(fails(&r, "lock_site_sum", Some(Phase::Work)));
}

#[test]
fn final_total_must_be_the_sum_of_its_phases() {
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, serial::bytes.at(SerialChannel::Com1), 1);
    assert!(fails(&r, "final_total_sum", Some(Phase::FinalTotal)));
    let mut r = kernel_like_report();
    let max = r.counter(Phase::Work, scheduler_lock::hold_max);
    r.set_counter(Phase::Work, scheduler_lock::hold_max.into(), max + 1);
    assert!(fails(&r, "final_total_max", Some(Phase::FinalTotal)));
    let mut r = kernel_like_report();
    // Same entry count, different buckets: still wrong.
    let h = scheduler_lock::hold.into();
    let b = r.hists.get(&(Phase::Work, h)).unwrap().clone();
    let (first, n) = b.iter().next().map(|(k, v)| (*k, *v)).unwrap();
    r.set_bucket(Phase::Work, h, first, n - 1);
    r.set_bucket(Phase::Work, h, 60, 1);
    assert!(fails(&r, "final_total_hist", Some(Phase::FinalTotal)));
}

#[test]
fn histograms_must_count_the_acquisitions() {
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, scheduler_lock::contended, 5);
    assert!(fails(&r, "hist_wait", Some(Phase::Work)));
    // Holds in progress: up to one per CPU at each boundary, plus one event
    // in flight per CPU per boundary.
    let mut r = kernel_like_report();
    add(&mut r, Phase::Work, scheduler_lock::acquisitions, 6);
    let v = verdicts(&r, "hist_hold", Some(Phase::Work));
    assert_eq!(v.first(), Some(&Verdict::Pass), "6 = 2 held + 4 in flight");
    add(&mut r, Phase::Work, scheduler_lock::acquisitions, 1);
    assert!(fails(&r, "hist_hold", Some(Phase::Work)));
    // From start-up nothing was held before, so more holds than
    // acquisitions can only be the in-flight race.
    let mut r = kernel_like_report();
    let heap = SharedLock::Heap;
    add(&mut r, Phase::Aggregate, shared_kernel_lock::acquisitions.at(heap), -3);
    assert!(fails(&r, "hist_hold", Some(Phase::Aggregate)));
}

#[test]
fn contention_stacks_must_carry_the_lock_waits() {
    let mut r = kernel_like_report();
    let key = r.contention_stacks.keys().find(|k| k.0 == Phase::Work).cloned().unwrap();
    r.contention_stacks.get_mut(&key).unwrap().1 += 1_000;
    assert!(fails(&r, "contention_wait", Some(Phase::Work)));
    // ... unless the table overflowed: then the identity cannot hold.
    add(&mut r, Phase::Work, kernel_pc_samples::contention_overflow, 1);
    assert!(!fails(&r, "contention_wait", Some(Phase::Work)));
    let v = verdicts(&r, "contention_wait", Some(Phase::Work));
    assert!(matches!(v.first(), Some(Verdict::Skip(_))), "{v:?}");
    let mut r = kernel_like_report();
    r.contention_stacks.get_mut(&key).unwrap().0 += 5;
    assert!(fails(&r, "contention_count", Some(Phase::Work)));
    assert!(fails(&r, "contention_stacks", Some(Phase::Work)));
}

#[test]
fn lock_pairs_must_carry_the_lock_waits() {
    let r = kernel_like_report();
    let work: Vec<_> = r.lock_pairs.iter().filter(|(k, _)| k.0 == Phase::Work).collect();
    // Waits come at n % 4 == 0 (always `timer_select`); half of them
    // (n % 8 == 0) saw a `steal` holder, the other half none.
    assert_eq!(work.len(), 2, "{work:?}");
    assert_eq!(work[0].1.count, work[1].1.count);
    assert!(work.iter().all(|(k, _)| k.2 == SchedLockSite::TimerSelect as u8));
    let key = *work.iter().find(|(k, _)| k.3 != UNKNOWN_HOLDER).unwrap().0;
    let mut bad = r.clone();
    bad.lock_pairs.get_mut(&key).unwrap().wait_cycles += 1_000;
    assert!(fails(&bad, "pair_wait", Some(Phase::Work)));
    assert!(fails(&bad, "pair_site_wait", Some(Phase::Work)));
    let mut bad = r.clone();
    bad.lock_pairs.get_mut(&key).unwrap().count += 5;
    assert!(fails(&bad, "pair_count", Some(Phase::Work)));
    assert!(fails(&bad, "pair_cross_cpu", Some(Phase::Work)));
    // A holder on the waiter's own CPU cannot be: cross_cpu must cover it.
    let mut bad = r.clone();
    bad.lock_pairs.get_mut(&key).unwrap().cross_cpu -= 1;
    assert!(fails(&bad, "pair_cross_cpu", Some(Phase::Work)));
    // A log from before the pairs (none at all) skips the identity.
    let mut old = r.clone();
    old.lock_pairs.clear();
    let v = verdicts(&old, "pair_count", Some(Phase::Work));
    assert!(matches!(v.as_slice(), [Verdict::Skip(_)]), "{v:?}");
    let rows = check(&old, &cfg()).unwrap().rows;
    assert!(!rows.iter().any(|r| r.identity.starts_with("pair_") && r.failed()));
    // More handoffs than acquisitions cannot be.
    let mut bad = r.clone();
    let acq = bad.counter(Phase::Work, scheduler_lock::acquisitions);
    bad.set_counter(Phase::Work, scheduler_lock::handoffs.into(), acq + 5);
    assert!(fails(&bad, "handoff_bound", Some(Phase::Work)));
    // Handoffs per site add up to the lock's.
    let mut bad = r;
    add(&mut bad, Phase::Work, scheduler_lock::handoffs, 5);
    assert!(fails(&bad, "lock_site_sum", Some(Phase::Work)));
}

#[test]
fn end_records_must_match_what_arrived() {
    let mut r = kernel_like_report();
    r.trace.pop();
    assert!(fails(&r, "end_records", None));
    let mut r = kernel_like_report();
    if let Some(e) = r.end.as_mut() {
        e.lost = 1;
    }
    assert!(fails(&r, "records_lost", None));
    assert!(fails(&r, "end_records", None));
}

#[test]
fn record_count_matches_what_the_guest_sends() {
    let r = kernel_like_report();
    assert_eq!(capos_measure::check::record_count(&r), r.end.unwrap().records);
}

#[test]
fn unusable_reports_are_errors() {
    let cfg = cfg();
    assert_eq!(check(&Report::default(), &cfg), Err(CheckError::NoBegin));
    let mut r = kernel_like_report();
    r.end = None;
    assert_eq!(check(&r, &cfg), Err(CheckError::NoEnd));
    assert_eq!(check_log_text("  \n", &cfg), Err(CheckLogError::Empty));
    assert!(matches!(check_log_text("garbage\n", &cfg), Err(CheckLogError::Parse(_))));
    let text = kernel_like_report().to_measure_log();
    let cut: String = text.lines().take(40).map(|l| format!("{l}\n")).collect();
    assert_eq!(check_log_text(&cut, &cfg), Err(CheckLogError::Report(CheckError::NoEnd)));
}

#[test]
fn thread_time_rows_fit_their_phase_and_the_cpus_running_time() {
    use capos_measure::thread_time::{ThreadTime, STATES};
    let mut r = kernel_like_report();
    let length = r.phase_cycles[&Phase::Work]; // 1 000 000
    assert_eq!(length, 1_000_000);
    // user, kernel, lock_spin, irq, shootdown, idle, measure: CPU 0 ran
    // 600 000 cycles of threads (500 000 + 100 000), CPU 1 300 000.
    r.cpu_time.insert((Phase::Work, 0), [500_000, 100_000, 0, 50_000, 0, 350_000, 0]);
    r.cpu_time.insert((Phase::Work, 1), [300_000, 0, 0, 0, 0, 700_000, 0]);
    let row = |thread: u64, running: u64, rest: u64| {
        let mut cycles = [0; STATES];
        cycles[0] = running;
        cycles[2] = rest;
        ThreadTime { phase: Phase::Work, thread, pid: 2, cycles }
    };
    r.thread_time.insert((Phase::Work, 1), row(1, 620_000, 380_000));
    r.thread_time.insert((Phase::Work, 2), row(2, 300_000, 0));
    assert!(verdicts(&r, "thread_time_sum", Some(Phase::Work)).iter().all(|v| *v == Verdict::Pass));
    assert_eq!(verdicts(&r, "thread_time_running", Some(Phase::Work)), [Verdict::Pass]);
    // One cycle more than the phase; running beyond every non-idle cycle
    // (950 000) plus 1% per CPU (20 000).
    let mut bad = r.clone();
    bad.thread_time.insert((Phase::Work, 1), row(1, 620_000, 380_001));
    assert!(fails(&bad, "thread_time_sum", Some(Phase::Work)));
    let mut bad = r.clone();
    bad.thread_time.insert((Phase::Work, 2), row(2, 350_001, 0));
    assert!(fails(&bad, "thread_time_running", Some(Phase::Work)));
    let mut ok = r.clone();
    ok.thread_time.insert((Phase::Work, 2), row(2, 350_000, 0));
    assert!(!fails(&ok, "thread_time_running", Some(Phase::Work)));
    // Below user + kernel + lock_spin (900 000) less 20 000.
    let mut bad = r;
    bad.thread_time.insert((Phase::Work, 1), row(1, 559_999, 0));
    assert!(fails(&bad, "thread_time_running", Some(Phase::Work)));
}

#[test]
fn run_delay_counts_match_the_switches_in() {
    let mut r = kernel_like_report();
    let cpus = r.begin.unwrap().cpus as u64;
    let window = [Phase::SpawnReady, Phase::Work, Phase::Shutdown];
    let switched: u64 = window.iter().map(|p| r.counter(*p, scheduler::outcome_runnable)).sum();
    assert!(switched > 10);
    r.run_delay.insert((Phase::Work, 0, 0), (1_000, [(40, switched - 10)].into()));
    r.run_delay.insert((Phase::Work, 1, 1), (1_000, [(50, 10)].into()));
    assert_eq!(verdicts(&r, "run_delay_count", None), [Verdict::Pass]);
    // Delays recorded in the next phase from their counters (a mark taken
    // while a CPU switched) stay inside the window: still equal.
    r.run_delay.insert((Phase::Work, 1, 1), (1_000, [(50, 6)].into()));
    r.run_delay.insert((Phase::Shutdown, 1, 1), (1_000, [(50, 4)].into()));
    assert_eq!(verdicts(&r, "run_delay_count", None), [Verdict::Pass]);
    // One switch per CPU at each end of the window; more may not.
    r.run_delay.insert((Phase::Shutdown, 1, 1), (1_000, [(50, 4 + 2 * cpus)].into()));
    assert_eq!(verdicts(&r, "run_delay_count", None), [Verdict::Pass]);
    r.run_delay.insert((Phase::Shutdown, 1, 1), (1_000, [(50, 5 + 2 * cpus)].into()));
    assert!(fails(&r, "run_delay_count", None));
}
