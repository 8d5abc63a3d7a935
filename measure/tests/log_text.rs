//! measure.log: shape, zeros, round trip, parser errors, JSON, docs check.

use capos_measure::catalogue::{
    kernel_pc_samples, scheduler_lock, scheduler_lock_site, serial, thread_placement,
    SchedLockSite, SerialChannel, SharedLock, GROUPS,
};
use capos_measure::lock_pairs::{PairSums, UNKNOWN_HOLDER};
use capos_measure::log_parse::{parse_measure_log, ParseErrorKind};
use capos_measure::report::Report;
use capos_measure::thread_ops::ThreadOp;
use capos_measure::{
    Accel, ContentionClass, HeldLock, InstrumentInfo, Measure, Phase, ProbeCost, Record,
    ReportInfo, SampleMode, SampleTag, TraceEvent, TraceKind,
};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);

fn sample_run() -> Vec<Record> {
    static RECORDS: std::sync::OnceLock<Vec<Record>> = std::sync::OnceLock::new();
    RECORDS.get_or_init(record_sample_run).clone()
}

fn record_sample_run() -> Vec<Record> {
    static M: Measure = Measure::new();
    M.mark(Phase::Boot, 10).unwrap();
    M.add(0, serial::bytes.at(SerialChannel::Com1), 300);
    M.mark(Phase::SpawnReady, 1_000).unwrap();
    M.add(1, scheduler_lock::acquisitions, 15);
    M.add(1, scheduler_lock::contended, 5);
    M.max(1, scheduler_lock::wait_max, 77);
    M.min(1, scheduler_lock::wait_min, 7);
    M.hist(1, scheduler_lock::wait, 9);
    M.add(1, scheduler_lock_site::acquisitions.at(SchedLockSite::TimerSelect), 4);
    M.add(2, thread_placement::migrations.at(2usize), 1);
    M.mark(Phase::Work, 2_000).unwrap();
    let user = SampleTag { cpu: 1, pid: 3, tid: 0x1_0000_0004, ..U };
    M.sample_pc(1, &user, 0x40_1234);
    let irq = SampleTag {
        cpu: 1,
        tid: 0x1_0000_0001,
        mode: SampleMode::Interrupt,
        lock: HeldLock::new(ContentionClass::SchedulerLock, SchedLockSite::TimerSelect as u8),
        ..K
    };
    M.sample_stack(1, &irq, &[0xffff_ffff_8000_0010, 0xffff_ffff_8000_0200], 5000);
    // 70 samples on CPU 0 in time order: two `timed_samples` lines.
    for i in 0..70u64 {
        let on0 = SampleTag { cpu: 0, ..user };
        M.sample_stack(0, &on0, &[0x40_1000 + (i % 3) * 0x10, 0x40_2000], 2_000 + i * 10);
    }
    M.thread_name(1, 0x1_0000_0004, 3, "worker-1%".as_bytes());
    // CPU 1: user from 2 100, a 50-cycle spin in a system call at 2 600.
    use capos_measure::cpu_time::CpuState;
    M.cpu_state(1, CpuState::User, 2_100);
    M.cpu_state(1, CpuState::Kernel, 2_500);
    M.cpu_slice(1, CpuState::LockSpin, 2_600, 2_650);
    M.cpu_state(1, CpuState::User, 2_700);
    // Thread 0x300000007 (pid 2): runnable from 1 900, running from 2 100,
    // asleep 2 400 to 3 200 (across the shutdown mark), then runnable.
    use capos_measure::thread_time::{BlockReason, ThreadClock, ThreadState};
    static CLOCK: ThreadClock = ThreadClock::new();
    let tt = |s: ThreadState, now: u64| M.thread_state(1, &CLOCK, 3 << 32 | 7, 2, Some(s), now);
    assert_eq!(tt(ThreadState::Runnable, 1_900), None);
    assert_eq!(tt(ThreadState::Running, 2_100), Some((ThreadState::Runnable, 200)));
    tt(ThreadState::Blocked(BlockReason::Sleep), 2_400);
    M.contention_stack(
        1,
        ContentionClass::SchedulerLock as u8,
        SchedLockSite::TimerSelect as u8,
        &[0xffff_ffff_8000_1234, 0xffff_ffff_8000_5678],
        100_000,
    );
    M.contention_stack(
        0,
        ContentionClass::SchedulerLock as u8,
        SchedLockSite::TimerSelect as u8,
        &[0xffff_ffff_8000_1234, 0xffff_ffff_8000_5678],
        20_000,
    );
    M.contention_stack(0, ContentionClass::SharedKernelLock as u8, SharedLock::Heap as u8, &[], 5);
    let sched = ContentionClass::SchedulerLock as u8;
    let (select, steal) = (SchedLockSite::TimerSelect as u8, SchedLockSite::Steal as u8);
    M.lock_pair(sched, select, steal, 100_000, true);
    M.lock_pair(sched, select, UNKNOWN_HOLDER, 20_000, false);
    let heap = SharedLock::Heap as u8;
    M.lock_pair(ContentionClass::SharedKernelLock as u8, heap, heap, 5, true);
    M.trace(
        1,
        &TraceEvent { tsc: 2_100, kind: TraceKind::ContextSwitch, cpu: 1, flags: 2, a: 5, b: 6 },
    );
    M.thread_op(1, 3 << 32 | 7, 2, ThreadOp::Syscall, 4);
    M.thread_op(1, 3 << 32 | 7, 2, ThreadOp::RingSqe, 9);
    M.mark(Phase::Shutdown, 3_000).unwrap();
    M.thread_op(0, 3 << 32 | 7, 2, ThreadOp::Syscall, 1);
    tt(ThreadState::Runnable, 3_200);
    M.mark(Phase::FinalTotal, 4_000).unwrap();
    let mut records =
        vec![Record::LoadMap { pid: 3, binary: "thread scale=1%".into(), base: 0x40_0000 }];
    let instrument = InstrumentInfo {
        accel: Accel::Tcg,
        cost: ProbeCost { counter: 8, hist: 12, lock: 140, trace: 35, stack: 700 },
        hold_correction: 61,
        shared_hold_correction: 48,
        batches: 9,
        batch_events: 256,
        unquiesced_cpus: 0,
        tick_hz: 100,
        sample_hz: 997,
    };
    let info =
        ReportInfo { cpus: 4, tsc_khz: 2_000_000, end_tsc: 5_000, instrument: Some(instrument) };
    M.report(&info, &mut |r| records.push(r.clone()));
    records
}

#[test]
fn log_has_the_seed_shape_and_exact_zeros() {
    let report = Report::from_records(sample_run()).unwrap();
    let log = report.to_measure_log();
    let has = |line: &str| log.lines().any(|l| l == line);
    let starts = |prefix: &str| log.lines().any(|l| l.starts_with(prefix));
    assert!(starts("measure: scheduler_lock phase=spawn_ready acquisitions=15 contended=5 spin_loops=0 wait_cycles=0 hold_cycles=0 wait_min=7 wait_max=77 hold_min=0 hold_max=0 handoffs=0"), "{log}");
    assert!(has("measure: scheduler_lock phase=work acquisitions=0 contended=0 spin_loops=0 wait_cycles=0 hold_cycles=0 wait_min=0 wait_max=0 hold_min=0 hold_max=0 handoffs=0 take_cycles=0"));
    assert!(has("measure: scheduler_lock_site phase=spawn_ready site=timer_select acquisitions=4 contended=0 wait_cycles=0 hold_cycles=0 handoffs=0 take_cycles=0"));
    assert!(has("measure: scheduler_lock_hist phase=spawn_ready kind=wait buckets=4:1"));
    assert!(has("measure: scheduler_lock_hist phase=work kind=hold buckets="));
    assert!(has("measure: thread_placement phase=final_total cpu=2 selected=0 first_selected=0 migrations=1"));
    assert!(!starts("measure: thread_placement phase=work cpu=4 "), "cpu lines stop at cpus=4");
    assert!(has("measure: serial phase=boot channel=com1 bytes=300"));
    assert!(has("measure: serial phase=aggregate channel=com1 bytes=300"));
    assert!(has("measure: checkpoint name=work tsc=2000"));
    assert!(has("measure: phase name=work cycles=1000"));
    assert!(has("measure: phase name=final_total cycles=3000"));
    assert!(has("measure: load_map pid=3 binary=thread%20scale%3D1%25 base=0x400000"));
    assert!(has("measure: user_pc_sample phase=work cpu=1 pid=3 tid=0x100000004 mode=user lock=- pc=0x401234 count=1"));
    assert!(has("measure: kernel_stack_sample phase=work cpu=1 pid=0 tid=0x100000001 mode=interrupt lock=scheduler_lock:timer_select count=1 frames=0xffffffff80000010,0xffffffff80000200"), "{log}");
    assert!(has("measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=2 wait_cycles=120000 frames=0xffffffff80001234,0xffffffff80005678"), "{log}");
    assert!(has("measure: contention_stack phase=final_total class=scheduler_lock lock=timer_select count=2 wait_cycles=120000 frames=0xffffffff80001234,0xffffffff80005678"));
    assert!(has("measure: contention_stack phase=aggregate class=scheduler_lock lock=timer_select count=2 wait_cycles=120000 frames=0xffffffff80001234,0xffffffff80005678"));
    assert!(has(
        "measure: contention_stack phase=work class=shared_kernel_lock lock=heap count=1 wait_cycles=5 frames="
    ));
    assert!(has("measure: lock_pair phase=work class=scheduler_lock waiter=timer_select holder=steal count=1 wait_cycles=100000 cross_cpu=1"), "{log}");
    assert!(has("measure: lock_pair phase=work class=scheduler_lock waiter=timer_select holder=unknown count=1 wait_cycles=20000 cross_cpu=0"));
    assert!(has("measure: lock_pair phase=aggregate class=scheduler_lock waiter=timer_select holder=steal count=1 wait_cycles=100000 cross_cpu=1"));
    assert!(has("measure: lock_pair phase=final_total class=shared_kernel_lock waiter=heap holder=heap count=1 wait_cycles=5 cross_cpu=1"));
    assert!(!starts("measure: lock_pair phase=spawn_ready "));
    assert!(has("measure: kernel_pc_samples phase=work samples=0 overflow=0 stacks=1 stack_overflow=0 contention_stacks=3 contention_overflow=0"), "{log}");
    assert!(has(
        "measure: trace cpu=1 tsc=2100 kind=context_switch prev=0x5 next=0x6 prev_state=0x2"
    ));
    assert!(has("measure: trace_dropped cpu=1 dropped=0"));
    // Per-thread counts: per phase, and summed into final_total/aggregate.
    assert!(has(
        "measure: thread_counts phase=work pid=2 thread=0x300000007 syscalls=4 ring_sqes=9"
    ));
    assert!(has(
        "measure: thread_counts phase=shutdown pid=2 thread=0x300000007 syscalls=1 ring_sqes=0"
    ));
    assert!(has(
        "measure: thread_counts phase=final_total pid=2 thread=0x300000007 syscalls=5 ring_sqes=9"
    ));
    assert!(has(
        "measure: thread_counts phase=aggregate pid=2 thread=0x300000007 syscalls=5 ring_sqes=9"
    ));
    // Thread time: the spawn_ready runnable part, then work's and
    // shutdown's shares of the sleep; summed into final_total.
    let zeros = "blocked_park=0 blocked_join=0 blocked_ipc=0 blocked_cap_enter=0 blocked_exit_wait=0 blocked_other=0";
    assert!(has(&format!("measure: thread_time phase=spawn_ready pid=2 thread=0x300000007 running=0 runnable=100 blocked_sleep=0 {zeros}")), "{log}");
    assert!(has(&format!("measure: thread_time phase=work pid=2 thread=0x300000007 running=300 runnable=100 blocked_sleep=600 {zeros}")), "{log}");
    assert!(has(&format!("measure: thread_time phase=shutdown pid=2 thread=0x300000007 running=0 runnable=0 blocked_sleep=200 {zeros}")));
    assert!(has(&format!("measure: thread_time phase=final_total pid=2 thread=0x300000007 running=300 runnable=200 blocked_sleep=800 {zeros}")));
    // Its switch-in at 2 100 after 200 cycles queued since its creation:
    // bucket 4 + 4 x (7 - 2) + 2 = 26 ([192, 224)).
    assert!(
        has("measure: run_delay phase=work cpu=1 kind=wake count=1 sum=200 buckets=26:1"),
        "{log}"
    );
    assert!(has("measure: run_delay phase=aggregate cpu=1 kind=wake count=1 sum=200 buckets=26:1"));
    assert!(has("measure: run_delay_worst phase=work cpu=1 kind=wake cycles=200 thread=0x300000007 pid=2 waker=0x0 frames="), "{log}");
    // Its wakeup at 3 200 (in shutdown) after 800 cycles asleep.
    assert!(
        has("measure: offcpu_stack phase=shutdown reason=sleep count=1 blocked_cycles=800 frames="),
        "{log}"
    );
    assert!(has(
        "measure: offcpu_stack phase=aggregate reason=sleep count=1 blocked_cycles=800 frames="
    ));
    assert!(starts("measure: end tsc=5000 records="));
    // Every group has a line in every reported phase.
    for phase in ["boot", "spawn_ready", "work", "shutdown", "final_total", "aggregate"] {
        for g in GROUPS {
            assert!(starts(&format!("measure: {} phase={phase} ", g.name)), "{} {phase}", g.name);
        }
    }
}

#[test]
fn records_to_log_and_back_are_the_same_report() {
    let report = Report::from_records(sample_run()).unwrap();
    let log = report.to_measure_log();
    let parsed = parse_measure_log(&log).unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(parsed, report);
    assert_eq!(parsed.to_measure_log(), log);
    assert_eq!(
        parsed.contention_stacks.get(&(
            Phase::Work,
            ContentionClass::SchedulerLock as u8,
            SchedLockSite::TimerSelect as u8,
            vec![0xffff_ffff_8000_1234, 0xffff_ffff_8000_5678]
        )),
        Some(&(2, 120_000))
    );
    assert_eq!(parsed.counter(Phase::Aggregate, kernel_pc_samples::contention_stacks), 3);
    assert_eq!(parsed.instrument.map(|i| (i.accel, i.hold_correction)), Some((Accel::Tcg, 61)));
    assert_eq!(parsed.thread_name(0x1_0000_0004), Some("worker-1%"));
    // user, kernel, lock_spin, irq, shootdown, idle, measure
    assert_eq!(parsed.cpu_time[&(Phase::Work, 1)], [400, 150, 50, 0, 0, 0, 0]);
    assert!(
        log.contains("cpu_time phase=work cpu=1 user=400 kernel=150 lock_spin=50 irq=0"),
        "{log}"
    );
    assert!(log.contains("thread_name thread=0x100000004 pid=3 name=worker-1%25"), "{log}");
    // 1 sample on CPU 1, 70 on CPU 0, in time order per CPU, every stack defined.
    assert_eq!(parsed.timed_samples.len(), 71);
    assert_eq!(log.matches("timed_samples cpu=0 ").count(), 2, "64 per line");
    let cpu0: Vec<u64> =
        parsed.timed_samples.iter().filter(|s| s.cpu == 0).map(|s| s.tsc).collect();
    assert_eq!(cpu0, (0..70u64).map(|i| 2_000 + i * 10).collect::<Vec<_>>());
    assert_eq!(parsed.stack_defs.len(), 4, "three user stacks and the interrupt's");
    for s in &parsed.timed_samples {
        let (tag, frames) = &parsed.stack_defs[&s.stack];
        assert_eq!(tag.cpu, s.cpu);
        assert_eq!(frames.len(), 2);
    }
}

#[test]
fn the_header_states_the_instruments_limits() {
    let log = Report::from_records(sample_run()).unwrap().to_measure_log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("measure: begin "), "{log}");
    assert_eq!(
        lines[1],
        "measure: instrument accel=tcg counter_cycles=8 hist_cycles=12 lock_cycles=140 \
         trace_cycles=35 stack_cycles=700 hold_correction=61 shared_hold_correction=48 batches=9 \
         batch_events=256 unquiesced_cpus=0 tick_hz=100 sample_hz=997"
    );
    let header: Vec<&str> =
        lines.iter().skip(2).take_while(|l| l.starts_with("# ")).copied().collect();
    let header = header.join("\n");
    assert!(
        header.contains("user_pc_overflow=0 ") && header.contains("trace_dropped=0 (cpu1:0)"),
        "{header}"
    );
    assert!(header.contains("translation-block starts"), "{header}");
    assert!(header.contains("sample_hz=997 on each CPU"), "{header}");
    // A log from before the clock rates were stated still reads, rates 0.
    let old = log.replace(" tick_hz=100 sample_hz=997", "");
    let r = capos_measure::log_parse::parse_measure_log(&old).unwrap();
    let i = r.instrument.unwrap();
    assert_eq!((i.tick_hz, i.sample_hz, i.batches), (0, 0, 9));
    assert!(r.to_measure_log().contains("# sampling: the rates are not stated"));
    assert!(header.contains("user 0x401234 holds 100.00% of 1 samples"), "{header}");
    assert!(header.contains("61 cycles for scheduler locks, 48 for shared"), "{header}");
    assert!(header.contains("counter=8"), "{header}");
    let bad = log.replace("accel=tcg", "accel=vmware");
    assert!(parse_measure_log(&bad).is_err());
}

#[test]
fn contention_stack_lines_parse_in_the_shared_shape() {
    let log = "measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=3 wait_cycles=120000 frames=0xffffffff80001234,0xffffffff80005678\n\
               measure: contention_stack phase=boot class=shared_kernel_lock lock=address_space count=1 wait_cycles=9 frames=\n";
    let r = parse_measure_log(log).unwrap();
    assert_eq!(r.contention_stacks.len(), 2);
    assert_eq!(
        r.contention_stacks[&(
            Phase::Work,
            0,
            SchedLockSite::TimerSelect as u8,
            vec![0xffff_ffff_8000_1234, 0xffff_ffff_8000_5678]
        )],
        (3, 120_000)
    );
    assert_eq!(
        r.contention_stacks[&(Phase::Boot, 1, SharedLock::AddressSpace as u8, vec![])],
        (1, 9)
    );
    let text = r.to_measure_log();
    for line in log.lines() {
        assert!(text.lines().any(|l| l == line.trim()), "{line}\n{text}");
    }
}

#[test]
fn lock_pair_lines_parse_back() {
    let log = "measure: lock_pair phase=work class=scheduler_lock waiter=wake_unblock holder=steal count=3 wait_cycles=900 cross_cpu=3\n\
               measure: lock_pair phase=boot class=shared_kernel_lock waiter=heap holder=unknown count=2 wait_cycles=40 cross_cpu=0\n";
    let r = parse_measure_log(log).unwrap();
    let wake = SchedLockSite::WakeUnblock as u8;
    let key = (Phase::Work, 0, wake, SchedLockSite::Steal as u8);
    assert_eq!(r.lock_pairs[&key], PairSums { count: 3, wait_cycles: 900, cross_cpu: 3 });
    let key = (Phase::Boot, 1, SharedLock::Heap as u8, UNKNOWN_HOLDER);
    assert_eq!(r.lock_pairs[&key], PairSums { count: 2, wait_cycles: 40, cross_cpu: 0 });
    let text = r.to_measure_log();
    for line in log.lines() {
        assert!(text.lines().any(|l| l == line.trim()), "{line}\n{text}");
    }
    // `unknown` names only a holder; a waiter is always seen.
    let bad = "measure: lock_pair phase=work class=scheduler_lock waiter=unknown holder=steal count=1 wait_cycles=1 cross_cpu=0\n";
    assert_eq!(
        parse_measure_log(bad).unwrap_err().kind,
        ParseErrorKind::UnknownLabel { key: "waiter".into(), value: "unknown".into() }
    );
    let bad = "measure: lock_pair phase=work class=shared_kernel_lock waiter=heap holder=steal count=1 wait_cycles=1 cross_cpu=0\n";
    assert_eq!(
        parse_measure_log(bad).unwrap_err().kind,
        ParseErrorKind::UnknownLabel { key: "holder".into(), value: "steal".into() }
    );
}

#[test]
fn an_empty_run_still_prints_every_family_with_zeros() {
    static M: Measure = Measure::new();
    let mut records = Vec::new();
    M.report(&ReportInfo { cpus: 1, tsc_khz: 0, end_tsc: 0, instrument: None }, &mut |r| {
        records.push(r.clone())
    });
    let log = Report::from_records(records).unwrap().to_measure_log();
    for g in GROUPS {
        assert!(log.contains(&format!("measure: {} phase=aggregate ", g.name)), "{}", g.name);
    }
    assert!(log.contains("measure: tlb phase=aggregate cr3_writes=0 "));
}

#[test]
fn parser_reports_garbage_with_line_numbers() {
    let good = "measure: timer phase=work interrupts=3\n";
    let cases: &[(&str, ParseErrorKind)] = &[
        ("hello world", ParseErrorKind::NotMeasureLine),
        (
            "measure: nosuchgroup phase=work",
            ParseErrorKind::UnknownFamily("nosuchgroup".into()),
        ),
        (
            "measure: timer phase=work interrupts",
            ParseErrorKind::BadToken("interrupts".into()),
        ),
        (
            "measure: timer phase=lunch",
            ParseErrorKind::UnknownPhase("lunch".into()),
        ),
        (
            "measure: timer interrupts=1",
            ParseErrorKind::MissingKey("phase".into()),
        ),
        (
            "measure: timer phase=work bogus=1",
            ParseErrorKind::UnknownKey("bogus".into()),
        ),
        (
            "measure: timer phase=work interrupts=x",
            ParseErrorKind::BadNumber {
                key: "interrupts".into(),
                value: "x".into(),
            },
        ),
        (
            "measure: timer phase=work interrupts=1 interrupts=2",
            ParseErrorKind::DuplicateKey("interrupts".into()),
        ),
        (
            "measure: user_pc_sample phase=work cpu=0 pid=1 tid=0x1 mode=idle lock=- pc=0x1 count=1",
            ParseErrorKind::UnknownLabel { key: "mode".into(), value: "idle".into() },
        ),
        (
            "measure: kernel_pc_sample phase=work cpu=0 pid=1 tid=0x1 mode=kernel lock=heap pc=0x1 count=1",
            ParseErrorKind::UnknownLabel { key: "lock".into(), value: "heap".into() },
        ),
        (
            "measure: kernel_stack_sample phase=work cpu=300 pid=1 tid=0x1 mode=kernel lock=- count=1 frames=0x1",
            ParseErrorKind::BadNumber { key: "cpu".into(), value: "300".into() },
        ),
        (
            "measure: user_pc_sample phase=work pc=0x401000 count=9",
            ParseErrorKind::MissingKey("cpu".into()),
        ),
        (
            "measure: scheduler_lock_site phase=work site=kitchen",
            ParseErrorKind::UnknownLabel {
                key: "site".into(),
                value: "kitchen".into(),
            },
        ),
        (
            "measure: thread_placement phase=work cpu=16",
            ParseErrorKind::UnknownLabel {
                key: "cpu".into(),
                value: "16".into(),
            },
        ),
        (
            "measure: scheduler_lock_hist phase=work kind=wait buckets=99:1",
            ParseErrorKind::BadBuckets("99:1".into()),
        ),
        (
            "measure: trace cpu=0 tsc=1 kind=nap flags=0 a=0 b=0",
            ParseErrorKind::UnknownTraceKind("nap".into()),
        ),
        (
            "measure: load_map pid=1 binary=a%2 base=0",
            ParseErrorKind::BadEscape("a%2".into()),
        ),
        (
            "measure: contention_stack phase=work class=mutex lock=heap count=1 wait_cycles=1 frames=",
            ParseErrorKind::UnknownLabel {
                key: "class".into(),
                value: "mutex".into(),
            },
        ),
        (
            "measure: contention_stack phase=work class=scheduler_lock lock=heap count=1 wait_cycles=1 frames=",
            ParseErrorKind::UnknownLabel {
                key: "lock".into(),
                value: "heap".into(),
            },
        ),
        (
            "measure: contention_stack phase=work class=shared_kernel_lock lock=heap count=1 frames=",
            ParseErrorKind::MissingKey("wait_cycles".into()),
        ),
        (
            "measure: contention_stack phase=work class=shared_kernel_lock lock=heap count=1 wait_cycles=1 frames=0x1,zz",
            ParseErrorKind::BadNumber {
                key: "frames".into(),
                value: "zz".into(),
            },
        ),
        (
            "measure: contention_stack phase=work class=shared_kernel_lock lock=heap count=1 wait_cycles=1 frames=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
            ParseErrorKind::TooManyFrames,
        ),
    ];
    for (bad, kind) in cases {
        let text = format!("# comment\n{good}\n{bad}\n{good}");
        let err = parse_measure_log(&text).expect_err(bad);
        assert_eq!(err.line, 4, "{bad}");
        assert_eq!(&err.kind, kind, "{bad}");
        assert!(err.to_string().starts_with("measure.log line 4: "));
    }
}

#[test]
fn json_carries_the_same_values() {
    let report = Report::from_records(sample_run()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    let groups = json["groups"].as_array().unwrap();
    let line = groups
        .iter()
        .find(|g| {
            g["phase"] == "spawn_ready"
                && g["group"] == "scheduler_lock_site"
                && g["dim"]["site"] == "timer_select"
        })
        .unwrap();
    assert_eq!(line["fields"]["acquisitions"], 4);
    assert_eq!(line["fields"]["contended"], 0);
    assert_eq!(json["begin"]["cpus"], 4);
    assert_eq!(json["instrument"]["accel"], "tcg");
    assert_eq!(json["instrument"]["cost"]["lock"], 140);
    assert_eq!(json["instrument"]["hold_correction"], 61);
    let pc = &json["pc_samples"][0];
    assert_eq!(pc["family"], "user");
    assert_eq!(pc["mode"], "user");
    assert_eq!((pc["cpu"].as_u64(), pc["pid"].as_u64()), (Some(1), Some(3)));
    assert_eq!((pc["tid"].as_u64(), pc["lock"].is_null()), (Some(0x1_0000_0004), true));
    let stacks = json["stack_samples"].as_array().unwrap();
    let stack = stacks.iter().find(|s| s["family"] == "kernel").unwrap();
    assert_eq!(
        (stack["family"].as_str(), stack["mode"].as_str()),
        (Some("kernel"), Some("interrupt"))
    );
    assert_eq!(stack["lock"], "scheduler_lock:timer_select");
    assert_eq!(json["thread_names"][0]["name"], "worker-1%");
    assert_eq!(json["timed_samples"].as_array().map(Vec::len), Some(71));
    let id = json["timed_samples"][0]["stack"].as_u64().unwrap();
    assert!(json["stack_defs"].as_array().unwrap().iter().any(|d| d["id"] == id));
    let c = json["contention_stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phase"] == "work" && c["class"] == "scheduler_lock")
        .unwrap();
    assert_eq!(c["lock"], "timer_select");
    assert_eq!(c["count"], 2);
    assert_eq!(c["wait_cycles"], 120_000);
    assert_eq!(c["frames"][0], 0xffff_ffff_8000_1234u64);
    let p = json["lock_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "work" && p["holder"] == "steal")
        .unwrap();
    assert_eq!(p["class"], "scheduler_lock");
    assert_eq!(p["waiter"], "timer_select");
    assert_eq!(
        (p["count"].clone(), p["wait_cycles"].clone(), p["cross_cpu"].clone()),
        (1.into(), 100_000.into(), 1.into())
    );
}

#[test]
fn docs_mention_every_group_and_field() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/measure.md");
    let text = std::fs::read_to_string(path).expect("docs/measure.md exists");
    let missing = capos_measure::docs_ref::missing_from_docs(&text);
    assert!(
        missing.is_empty(),
        "docs/measure.md lacks: {missing:?} (see its \"How to add a counter\")"
    );
    // Nothing stale either: the reference section is the generated one.
    assert!(
        text.contains(capos_measure::docs_ref::reference_markdown().trim_end()),
        "docs/measure.md's reference section differs from the catalogue; regenerate it \
         (print_reference below)"
    );
}

/// Prints the generated reference section: `cargo test -p capos-measure
/// --test log_text print_reference -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_reference() {
    print!("{}", capos_measure::docs_ref::reference_markdown());
}

#[test]
fn sample_counts_saturate_when_summed_over_tags() {
    let line = |tid: u64| {
        format!("measure: user_pc_sample phase=work cpu=0 pid=1 tid={tid:#x} mode=user lock=- pc=0x401000 count={}\n", u64::MAX)
    };
    let text = format!("{}{}{}", line(1), line(2), line(2));
    let r = parse_measure_log(&text).expect("parses");
    assert_eq!(r.pc_samples.len(), 2);
    assert!(r.pc_samples.values().all(|n| *n == u64::MAX));
    assert_eq!(
        r.pcs_by_mode().get(&(Phase::Work, capos_measure::Mode::User, 0x40_1000)),
        Some(&u64::MAX)
    );
}
