//! The workloads' checks on hand-made reports and files: a faithful report
//! passes, and each kind of unfaithful one fails the row it should.

use std::path::Path;

use capos_flamegraphs::{GraphFiles, RunProfile};
use capos_measure::catalogue::{
    scheduler, shared_kernel_lock, thread_placement, timer, tlb, SharedLock,
};
use capos_measure::lock_pairs::PairSums;
use capos_measure::report::{Begin, Report};
use capos_measure::trace::TraceArgs;
use capos_measure::{
    ContentionClass, Counter, Phase, SampleMode, SampleTag, TraceKind, FINGERPRINT,
};

const U: SampleTag = SampleTag::mode_only(SampleMode::User);
const K: SampleTag = SampleTag::mode_only(SampleMode::Kernel);
use capos_symbolize::PcReportPaths;

use super::table::Row;
use super::{
    cpu_shares, ipi, joins, lock, memory, migrate, overflow, oversub, sched, sleep, syscalls, Run,
    Workload,
};

fn graph(dir: &Path, stem: &str, text: &str) -> GraphFiles {
    let folded = dir.join(format!("{stem}.folded"));
    std::fs::write(&folded, text).unwrap();
    GraphFiles { folded, svg: dir.join(format!("{stem}.svg")), total: 0, note: String::new() }
}

/// A run of `report` whose user-pc-symbols.log, work and contention folded
/// stacks are the given texts.
fn run(
    dir: &Path,
    report: Report,
    planted: &[(&str, u64)],
    pcs: &str,
    work: &str,
    contention: &str,
) -> Run {
    let report_path = dir.join("user-pc-symbols.log");
    std::fs::write(&report_path, pcs).unwrap();
    let profile = RunProfile {
        pc_report: PcReportPaths { report: report_path, symbol_map: dir.join("map") },
        work: graph(dir, "work", work),
        work_by_thread: graph(dir, "work-threads", ""),
        per_thread: Default::default(),
        whole_run: graph(dir, "run", ""),
        contention: graph(dir, "contention", contention),
        contention_work: graph(dir, "contention-work", ""),
        offcpu: graph(dir, "offcpu", ""),
        timeline: dir.join("timeline.json"),
        who_ran: Default::default(),
        lock_sites: Vec::new(),
        lock_pairs_file: dir.join("lock-pairs.txt"),
        lock_pairs: Vec::new(),
        placement: Default::default(),
    };
    let planted = planted.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    Run { report, elfs: capos_symbolize::ElfPaths::new(), planted, profile }
}

fn report(cpus: u8) -> Report {
    Report {
        begin: Some(Begin { cpus, tsc_khz: 1_000_000, catalogue: FINGERPRINT }),
        ..Report::default()
    }
}

fn failed(w: &Workload, r: &Run) -> Vec<String> {
    (w.check)(r).unwrap().into_iter().filter(|r| !r.pass()).map(|r: Row| r.quantity).collect()
}

fn section(phase: &str, mode: &str, rows: &[(u64, &str)]) -> String {
    let total: u64 = rows.iter().map(|r| r.0).sum();
    let mut s =
        format!("\nsection phase={phase} mode={mode} samples={total} rows={}\n", rows.len());
    s.push_str("   count    share  binary  symbol\n");
    for (n, sym) in rows {
        s.push_str(&format!("{n:>8}   1.00%  bin  {sym}\n"));
    }
    s
}

#[test]
fn cpu_shares_pass_when_faithful_and_fail_when_a_share_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let planted = [("a", 600), ("b", 300), ("c", 100), ("other", 0), ("tsc_per_ms", 1_000_000)];
    let mut rep = report(1);
    rep.set_counter(Phase::Work, timer::sample_interrupts.into(), 2000);
    rep.set_counter(Phase::Work, timer::interrupts.into(), 200);
    let shares = |a: u64, b: u64, c: u64| {
        let pcs = section(
            "work",
            "user",
            &[(a, "x::planted_share_a"), (b, "x::planted_share_b"), (c, "x::planted_share_c")],
        );
        let work = format!("fid-cpu-shares`main;fid-cpu-shares`x::planted_share_a {a}\nfid-cpu-shares`main;fid-cpu-shares`x::planted_share_b {b}\nfid-cpu-shares`main;fid-cpu-shares`x::planted_share_c {c}\n");
        (pcs, work)
    };
    let (pcs, work) = shares(1210, 590, 200);
    let r = run(dir.path(), rep.clone(), &planted, &pcs, &work, "");
    assert_eq!(failed(&cpu_shares::WORKLOAD, &r), Vec::<String>::new());
    // Samples are held against the sample clock, never the tick.
    let mut ticks_only = rep.clone();
    ticks_only.set_counter(Phase::Work, timer::sample_interrupts.into(), 200);
    let r = run(dir.path(), ticks_only, &planted, &pcs, &work, "");
    assert_eq!(
        failed(&cpu_shares::WORKLOAD, &r),
        ["work samples (user + kernel) = sample interrupts"]
    );
    // a at 66% of 2000 samples is 6 sd from 60%.
    let (pcs, work) = shares(1320, 480, 200);
    let r = run(dir.path(), rep, &planted, &pcs, &work, "");
    let f = failed(&cpu_shares::WORKLOAD, &r);
    assert!(f.iter().any(|q| q.contains("user-pc-symbols planted_share_a")), "{f:?}");
    assert!(f.iter().any(|q| q.contains("flamegraph-work planted_share_b")), "{f:?}");
    assert!(!f.iter().any(|q| q.contains("planted_share_c")), "{f:?}");
}

#[test]
fn sleep_fails_when_idle_samples_do_not_match_the_slept_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut rep = report(1);
    // 2 s of work sampled at 100 Hz; 1.5 s of it slept in 6 sleeps: 150
    // idle samples (the ticks, at another rate, do not enter).
    rep.phase_cycles.insert(Phase::Work, 2_000_000_000);
    rep.set_counter(Phase::Work, timer::sample_interrupts.into(), 200);
    rep.set_counter(Phase::Work, timer::interrupts.into(), 2000);
    let planted = [("slept", 1_500_000_000), ("sleeps", 6), ("spun", 480_000_000)];
    // user, kernel, lock_spin, irq, shootdown, idle, measure
    let cycles = [470_000_000, 10_000_000, 0, 20_000_000, 0, 1_480_000_000, 20_000_000];
    rep.cpu_time.insert((Phase::Work, 0), cycles);
    // The sleeper: 7 ms of its running and runnable time was kernel work
    // inside its sleep calls, so blocked_sleep >= 1 493 000 000.
    let sleeper = |sleep: u64, other: u64| {
        let mut cycles = [0; capos_measure::thread_time::STATES];
        cycles[..3].copy_from_slice(&[485_000_000, 2_000_000, sleep]);
        cycles[8] = other;
        capos_measure::thread_time::ThreadTime { phase: Phase::Work, thread: 9, pid: 2, cycles }
    };
    rep.thread_time.insert((Phase::Work, 9), sleeper(1_494_000_000, 0));
    let whole = capos_measure::thread_time::ThreadTime {
        phase: Phase::Aggregate,
        ..sleeper(1_500_000_000, 0)
    };
    rep.thread_time.insert((Phase::Aggregate, 9), whole);
    // The off-CPU graph: the six sleeps in cap_enter, and the manifest's
    // exit wait.
    let offcpu = |sleeps: &str| {
        format!(
            "{sleeps}[blocked exit_wait];capos_kernel::proc::manifest::wait_all_[k] 9000000000\n"
        )
    };
    let in_cap_enter = "[blocked sleep];capos_kernel::syscall::dispatch_[k];capos_kernel::cap::ring::cap_enter_[k] 1500000000\n";
    let sleep_run = |rep: Report, pcs: &str, work: &str, sleeps: &str| {
        let r = run(dir.path(), rep, &planted, pcs, work, "");
        std::fs::write(&r.profile.offcpu.folded, offcpu(sleeps)).unwrap();
        r
    };
    let idle = |n: u64| {
        let pcs = section("work", "kernel", &[(n, "capos_kernel::sched::idle_loop")]);
        let work = format!("a_[k];capos_kernel::sched::idle_loop_[k] {n}\n");
        (pcs, work)
    };
    let (pcs, work) = idle(148);
    let r = sleep_run(rep.clone(), &pcs, &work, in_cap_enter);
    assert_eq!(failed(&sleep::WORKLOAD, &r), Vec::<String>::new());
    // Sleep weight missing from the graph, or blocked elsewhere.
    let r = sleep_run(rep.clone(), &pcs, &work, "");
    assert_eq!(
        failed(&sleep::WORKLOAD, &r),
        ["offcpu-run [blocked sleep] weight = aggregate blocked_sleep"]
    );
    let elsewhere = "[blocked sleep];capos_kernel::sched::join_[k] 1500000000\n";
    let r = sleep_run(rep.clone(), &pcs, &work, elsewhere);
    assert_eq!(
        failed(&sleep::WORKLOAD, &r),
        ["offcpu-run [blocked sleep] weight through cap_enter = all of it"]
    );
    let (pcs, work) = idle(120);
    let r = sleep_run(rep.clone(), &pcs, &work, in_cap_enter);
    assert_eq!(failed(&sleep::WORKLOAD, &r).len(), 2);
    // A sleep longer than slept, or shorter than the kernel work allows;
    // blocked time under another reason.
    let (pcs, work) = idle(148);
    let within = "work: sleeper blocked_sleep within [slept - runnable - (running - spun), slept]";
    for sleep in [1_500_000_001, 1_492_999_999] {
        let mut bad = rep.clone();
        bad.thread_time.insert((Phase::Work, 9), sleeper(sleep, 0));
        let r = sleep_run(bad, &pcs, &work, in_cap_enter);
        assert_eq!(failed(&sleep::WORKLOAD, &r), [within]);
    }
    let mut bad = rep.clone();
    bad.thread_time.insert((Phase::Work, 9), sleeper(1_494_000_000, 1));
    let r = sleep_run(bad, &pcs, &work, in_cap_enter);
    assert_eq!(failed(&sleep::WORKLOAD, &r), ["work: sleeper blocked time = blocked_sleep"]);
    // Idle time beyond the slept time, and user time missing from the spins
    // beyond what handlers and the kernel took.
    let (pcs, work) = idle(148);
    let mut bad = rep.clone();
    bad.cpu_time.insert((Phase::Work, 0), [370_000_000, 0, 0, 0, 0, 1_600_000_000, 30_000_000]);
    let r = sleep_run(bad, &pcs, &work, in_cap_enter);
    assert_eq!(
        failed(&sleep::WORKLOAD, &r),
        [
            "work cpu_time idle within [slept - handlers - kernel, slept]",
            "work cpu_time user within [spun - handlers - kernel, spun + 2%]"
        ]
    );
    let mut none = rep;
    none.cpu_time.clear();
    let r = sleep_run(none, &pcs, &work, in_cap_enter);
    assert_eq!(failed(&sleep::WORKLOAD, &r), ["cpu_time lines in measure.log"]);
}

#[test]
fn lock_fails_on_the_wrong_heaviest_lock_or_waits_that_do_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let heap = SharedLock::Heap;
    let mut rep = report(2);
    for phase in [Phase::Work, Phase::Aggregate] {
        rep.add_contention(
            phase,
            ContentionClass::SharedKernelLock as u8,
            heap as u8,
            vec![1],
            3,
            900,
        );
        rep.set_counter(phase, shared_kernel_lock::wait_cycles.at(heap), 900);
        rep.set_counter(phase, shared_kernel_lock::contended.at(heap), 3);
        let pair = PairSums { count: 3, wait_cycles: 900, cross_cpu: 3 };
        rep.add_lock_pair((phase, 1, heap as u8, heap as u8), pair);
    }
    rep.set_counter(Phase::Aggregate, shared_kernel_lock::handoffs.at(heap), 5);
    rep.set_counter(Phase::Aggregate, shared_kernel_lock::acquisitions.at(heap), 50);
    let good = "[lock shared_kernel_lock heap];syscall_entry_[k];capos_kernel::cap::ring::submit_[k];x_[k] 900\n";
    let r = run(dir.path(), rep.clone(), &[], "", "", good);
    assert_eq!(failed(&lock::WORKLOAD, &r), Vec::<String>::new());
    // One cap_table stack heavier than any heap stack, but less in all.
    let split = "[lock shared_kernel_lock cap_table];syscall_entry_[k] 600\n\
        [lock shared_kernel_lock heap];syscall_entry_[k];capos_kernel::cap::ring::submit_[k];y_[k] 500\n\
        [lock shared_kernel_lock heap];syscall_entry_[k];capos_kernel::cap::ring::submit_[k];x_[k] 400\n";
    let r = run(dir.path(), rep.clone(), &[], "", "", split);
    assert_eq!(failed(&lock::WORKLOAD, &r), Vec::<String>::new());
    let other = "[lock shared_kernel_lock cap_table];syscall_entry_[k] 5000\n".to_string() + good;
    let r = run(dir.path(), rep.clone(), &[], "", "", &other);
    assert_eq!(failed(&lock::WORKLOAD, &r), ["heaviest lock in the contention graph"]);
    let elsewhere = "[lock shared_kernel_lock heap];syscall_entry_[k];x_[k] 900\n";
    let r = run(dir.path(), rep.clone(), &[], "", "", elsewhere);
    assert_eq!(failed(&lock::WORKLOAD, &r), ["heaviest heap stack: path"]);
    // A pair elsewhere with more waits; a heap pair whose holder was on the
    // waiter's CPU; fewer handoffs than contended acquisitions.
    let mut bad = rep.clone();
    let cap = SharedLock::CapTable as u8;
    let pair = PairSums { count: 4, wait_cycles: 10, cross_cpu: 4 };
    bad.add_lock_pair((Phase::Work, 1, cap, cap), pair);
    let r = run(dir.path(), bad, &[], "", "", good);
    assert_eq!(failed(&lock::WORKLOAD, &r), ["work top shared-lock pair"]);
    let mut bad = rep.clone();
    bad.lock_pairs.get_mut(&(Phase::Work, 1, heap as u8, heap as u8)).unwrap().cross_cpu = 2;
    let r = run(dir.path(), bad, &[], "", "", good);
    assert_eq!(
        failed(&lock::WORKLOAD, &r),
        ["work top pair cross_cpu = count (holder on the other CPU)"]
    );
    let mut bad = rep.clone();
    bad.set_counter(Phase::Aggregate, shared_kernel_lock::handoffs.at(heap), 2);
    let r = run(dir.path(), bad, &[], "", "", good);
    assert_eq!(
        failed(&lock::WORKLOAD, &r),
        ["aggregate shared_kernel_lock lock=heap handoffs vs contended (SMP 2)"]
    );
    rep.set_counter(Phase::Work, shared_kernel_lock::wait_cycles.at(heap), 901);
    let r = run(dir.path(), rep, &[], "", "", good);
    assert_eq!(
        failed(&lock::WORKLOAD, &r),
        ["shared_kernel_lock heap work: stacks' wait = wait_cycles"]
    );
}

#[test]
fn joins_and_migrations_fail_on_a_count_off_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut rep = report(2);
    rep.checkpoints.insert(Phase::Work, 10);
    rep.checkpoints.insert(Phase::Shutdown, 20);
    let set = |rep: &mut Report, c: Counter, v| rep.set_counter(Phase::Work, c, v);
    for c in [
        tlb::shootdown_requests,
        tlb::shootdown_target_cpus,
        tlb::shootdown_ipis,
        tlb::pending_flush_checks,
        tlb::deferred_completion_drains,
    ] {
        set(&mut rep, c.into(), 2);
    }
    set(&mut rep, thread_placement::selected.at(1), 4);
    set(&mut rep, thread_placement::first_selected.at(1), 2);
    for tsc in [12, 15] {
        rep.trace.push(capos_measure::TraceEvent {
            tsc,
            kind: capos_measure::TraceKind::Shootdown,
            cpu: 1,
            flags: 0,
            a: 0,
            b: 0,
        });
    }
    let planted = [("joins", 2), ("spinner_ran", 1)];
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&joins::WORKLOAD, &r), Vec::<String>::new());
    set(&mut rep, tlb::shootdown_ipis.into(), 3);
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&joins::WORKLOAD, &r), ["work tlb.shootdown_ipis"]);

    set(&mut rep, thread_placement::migrations.at(0), 9);
    set(&mut rep, thread_placement::migrations.at(1), 10);
    let planted = [("rounds", 20), ("wakes", 20), ("migrations", 20)];
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&migrate::WORKLOAD, &r), ["work thread_placement.migrations (all CPUs)"]);
    // A steal in the work phase is a race the mover cannot see: 2 allowed.
    set(&mut rep, scheduler::candidates_stolen.into(), 1);
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&migrate::WORKLOAD, &r), Vec::<String>::new());
    set(&mut rep, scheduler::candidates_stolen.into(), 0);
    set(&mut rep, thread_placement::migrations.at(0), 10);
    let r = run(dir.path(), rep, &planted, "", "", "");
    assert_eq!(failed(&migrate::WORKLOAD, &r), Vec::<String>::new());
}

#[test]
fn manifests_name_the_workload_and_its_peers() {
    let m = super::manifest_text(&lock::WORKLOAD, "calls=5");
    assert!(m.contains("(name = \"fid-lock\", binary = \"fid-lock\", args = \"calls=5\""), "{m}");
    assert!(
        m.contains("(name = \"fid-lock-peer1\", binary = \"fid-lock\", args = \"calls=5 peer=1\""),
        "{m}"
    );
    assert_eq!(m.matches("(kind = measure)").count(), 2);
    let one = super::manifest_text(&sleep::WORKLOAD, "sleeps=1");
    assert_eq!(one.matches("name = ").count(), 1);
}

/// A faithful `fid-syscalls` report for the planted line `planted`: the
/// main thread's reads plus the marks' call and SQE, the helper's reads.
fn syscalls_report(planted: &[(&str, u64)]) -> Report {
    use capos_measure::catalogue::{syscall, thread_ops, SyscallNr};
    use capos_measure::thread_ops::ThreadOps;
    let v = |k: &str| planted.iter().find(|(n, _)| *n == k).unwrap().1;
    let mut rep = report(2);
    let calls = |rep: &mut Report, nr: SyscallNr, n: u64| {
        rep.set_counter(Phase::Work, syscall::calls.at(nr), n)
    };
    calls(&mut rep, SyscallNr::Yield, v("yields") + v("h_yields"));
    calls(&mut rep, SyscallNr::RingInfo, v("infos") + v("h_infos"));
    calls(&mut rep, SyscallNr::Unknown, v("invalid") + v("h_invalid"));
    calls(&mut rep, SyscallNr::ThreadStat, v("stats") + v("h_stats") + 8);
    calls(&mut rep, SyscallNr::CapEnter, v("enters") + v("h_enters") + 1);
    let sqes = v("enters") * v("nops") + v("h_enters") * v("h_nops");
    rep.set_counter(Phase::Work, thread_ops::ring_sqes.into(), sqes + 1);
    for (thread, syscalls, ring_sqes) in [
        (0x1_0000_0001, v("m_syscalls") + 1, v("m_sqes") + 1),
        (0x1_0000_0002, v("h_syscalls"), v("h_sqes")),
    ] {
        rep.thread_ops.insert(
            (Phase::Work, thread),
            ThreadOps { phase: Phase::Work, thread, pid: 1, syscalls, ring_sqes },
        );
    }
    rep
}

#[test]
fn syscalls_pass_when_faithful_and_fail_on_each_view_off_by_one() {
    use capos_measure::catalogue::{syscall, SyscallNr};
    let dir = tempfile::tempdir().unwrap();
    let planted = [
        ("yields", 40),
        ("infos", 30),
        ("invalid", 20),
        ("stats", 10),
        ("enters", 12),
        ("nops", 3),
        ("h_yields", 8),
        ("h_infos", 6),
        ("h_invalid", 4),
        ("h_stats", 2),
        ("h_enters", 5),
        ("h_nops", 2),
        ("m_syscalls", 102),
        ("m_sqes", 36),
        ("h_syscalls", 23),
        ("h_sqes", 10),
    ];
    let w = &syscalls::WORKLOAD;
    let rep = syscalls_report(&planted);
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(w, &r), Vec::<String>::new());
    // One yield too many by number: that row and the two-views identity.
    let mut bad = rep.clone();
    bad.set_counter(Phase::Work, syscall::calls.at(SyscallNr::Yield), 49);
    let r = run(dir.path(), bad, &planted, "", "", "");
    assert_eq!(
        failed(w, &r),
        ["work syscall nr=yield", "work syscall calls (less thread_stat) = thread_counts syscalls"]
    );
    // thread_stat not counted at all (the bug this workload found).
    let mut bad = rep.clone();
    bad.set_counter(Phase::Work, syscall::calls.at(SyscallNr::ThreadStat), 0);
    let r = run(dir.path(), bad, &planted, "", "", "");
    assert_eq!(failed(w, &r), ["work syscall nr=thread_stat"]);
    // The helper's row lost an SQE.
    let mut bad = rep.clone();
    bad.thread_ops.get_mut(&(Phase::Work, 0x1_0000_0002)).unwrap().ring_sqes -= 1;
    let r = run(dir.path(), bad, &planted, "", "", "");
    assert_eq!(failed(w, &r), ["work thread_counts helper ring_sqes"]);
    // A third thread in the table.
    let mut bad = rep.clone();
    let extra = capos_measure::thread_ops::ThreadOps {
        phase: Phase::Work,
        thread: 0x1_0000_0003,
        pid: 1,
        syscalls: 0,
        ring_sqes: 0,
    };
    bad.thread_ops.insert((Phase::Work, extra.thread), extra);
    let r = run(dir.path(), bad, &planted, "", "", "");
    assert_eq!(failed(w, &r), ["work thread_counts rows (one process)"]);
    // The program's THREAD_STAT reads disagree with its plan.
    let mut off = planted;
    off[12].1 = 103;
    let r = run(dir.path(), rep, &off, "", "", "");
    assert_eq!(
        failed(w, &r),
        ["main THREAD_STAT syscalls = planned", "work thread_counts main syscalls"]
    );
}

const WAKER: u64 = 0x1_0000_0001;
const SLEEPER: u64 = 0x1_0000_0002;

/// A faithful `fid-ipi` report of `rounds` wakes from CPU 1 to CPU 0.
fn ipi_report(rounds: u64) -> Report {
    use capos_measure::thread_ops::ThreadOps;
    use capos_measure::trace::TraceArgs as A;
    let mut rep = report(2);
    rep.checkpoints.insert(Phase::Work, 1000);
    rep.checkpoints.insert(Phase::Shutdown, 1000 + 100 * (rounds + 1));
    rep.trace.push(A::PhaseMark { phase: Phase::Work as u8, mark_tsc: 1000 }.event(1001, 1));
    for k in 0..rounds {
        let t = 1010 + 100 * k;
        rep.trace.extend([
            A::Wakeup { thread: SLEEPER, target_cpu: 0, waker: WAKER }.event(t, 1),
            A::IpiSend { target_cpu: 0, vector: 0xf0 }.event(t + 1, 1),
            A::IpiRecv { vector: 0xf0, sender_cpu: 1 }.event(t + 10, 0),
            A::ContextSwitch { prev: 0, next: SLEEPER, prev_state: 1 }.event(t + 20, 0),
            A::ContextSwitch { prev: SLEEPER, next: 0, prev_state: 2 }.event(t + 30, 0),
        ]);
    }
    rep.set_counter(Phase::Work, scheduler::resched_ipi_sent.into(), rounds);
    for (thread, syscalls) in [(WAKER, rounds + 1), (SLEEPER, 3 * rounds)] {
        rep.thread_ops.insert(
            (Phase::Work, thread),
            ThreadOps { phase: Phase::Work, thread, pid: 1, syscalls, ring_sqes: rounds },
        );
    }
    rep
}

/// `fid-ipi`'s failed rows for `rep`, with its timeline written from it.
fn ipi_failed(rep: Report, woken: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    capos_flamegraphs::timeline::write_timeline(&rep, dir.path()).unwrap();
    let planted = [("rounds", 20), ("woken", woken)];
    let r = run(dir.path(), rep, &planted, "", "", "");
    failed(&ipi::WORKLOAD, &r)
}

#[test]
fn ipi_passes_when_faithful_and_fails_on_each_wrong_argument() {
    use capos_measure::trace::TraceArgs as A;
    let rep = ipi_report(20);
    assert_eq!(ipi_failed(rep.clone(), 20), Vec::<String>::new());
    // Both views must see each fault, and nothing else may fail.
    let both = |qs: &[&str]| {
        let mut v: Vec<String> =
            qs.iter().flat_map(|q| [format!("report: {q}"), format!("timeline: {q}")]).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let edit = |f: &dyn Fn(&mut capos_measure::TraceEvent)| {
        let mut r = rep.clone();
        r.trace.iter_mut().for_each(f);
        r
    };
    // ipi_recv naming the receiving CPU as the sender.
    let bad = edit(&|e| {
        if e.kind == TraceKind::IpiRecv {
            *e = A::IpiRecv { vector: 0xf0, sender_cpu: 0 }.event(e.tsc, e.cpu);
        }
    });
    assert_eq!(
        sorted(ipi_failed(bad, 20)),
        both(&[
            "ipi_recv on the target, vector 0xf0, sender_cpu = sending CPU",
            "ipi_recv without such a send stamped before it",
        ])
    );
    // A wakeup naming the waker's CPU as its target.
    let bad = edit(&|e| {
        if e.kind == TraceKind::Wakeup {
            *e = A::Wakeup { thread: SLEEPER, target_cpu: 1, waker: WAKER }.event(e.tsc, e.cpu);
        }
    });
    assert_eq!(
        sorted(ipi_failed(bad, 20)),
        both(&[
            "sleeper wakeups whose target_cpu is not where it ran",
            "work ipi_send vector=0xf0 = remote wakeups",
            "work wakeups of the sleeper onto another CPU",
        ])
    );
    // A wakeup blaming an interrupt (waker 0).
    let bad = edit(&|e| {
        if e.kind == TraceKind::Wakeup {
            *e = A::Wakeup { thread: SLEEPER, target_cpu: 0, waker: 0 }.event(e.tsc, e.cpu);
        }
    });
    assert_eq!(
        sorted(ipi_failed(bad, 20)),
        both(&["sleeper wakeups whose waker is not the main thread"])
    );
    // Round 5's send and wakeup stamped after the arrival and the switch.
    let bad = edit(&|e| {
        if matches!(e.kind, TraceKind::IpiSend | TraceKind::Wakeup) && (1510..1512).contains(&e.tsc)
        {
            e.tsc += 25;
        }
    });
    assert_eq!(
        sorted(ipi_failed(bad, 20)),
        both(&[
            "ipi_recv on the target, vector 0xf0, sender_cpu = sending CPU",
            "ipi_recv without such a send stamped before it",
            "sleeper wakeups stamped after the switch to it",
        ])
    );
    // The counter disagrees with the events.
    let mut bad = rep.clone();
    bad.set_counter(Phase::Work, scheduler::resched_ipi_sent.into(), 21);
    assert_eq!(ipi_failed(bad, 20), ["work scheduler.resched_ipi_sent = ipi_send 0xf0 events"]);
    // Three sends missing.
    let mut bad = rep.clone();
    let mut dropped = 0;
    bad.trace.retain(|e| {
        let drop = e.kind == TraceKind::IpiSend && dropped < 3;
        dropped += u32::from(drop);
        !drop
    });
    let mut f = ipi_failed(bad, 20);
    f.retain(|q| !q.contains("resched_ipi_sent"));
    assert_eq!(
        sorted(f),
        both(&[
            "ipi_recv without such a send stamped before it",
            "work ipi_send vector=0xf0 = remote wakeups",
        ])
    );
    // The sleeper ran on the waker's CPU after one wake: a steal allows it.
    let moved = edit(&|e| {
        if e.kind == TraceKind::ContextSwitch && (1530..1532).contains(&e.tsc) {
            e.cpu = 1;
        }
    });
    assert_eq!(
        ipi_failed(moved.clone(), 20),
        both(&["sleeper wakeups whose target_cpu is not where it ran"])
    );
    let mut stolen = moved;
    stolen.set_counter(Phase::Work, scheduler::candidates_stolen.into(), 1);
    assert_eq!(ipi_failed(stolen, 20), Vec::<String>::new());
    // A lost trace event makes the event rows unreadable, not passing.
    let mut bad = rep.clone();
    bad.trace_dropped.insert(0, 1);
    assert_eq!(ipi_failed(bad, 20), ["trace events"]);
}

/// A report in which every catalogue counter and histogram is non-zero
/// except the counters of `skip` (`group`, dimension label, or none).
fn report_raising_all_but(skip: Option<(&str, usize)>) -> Report {
    use capos_measure::catalogue::GROUPS;
    use capos_measure::Hist;
    let mut r = report(2);
    for (g, group) in GROUPS.iter().enumerate() {
        for d in 0..group.dim.count() {
            if skip == Some((group.name, d)) {
                continue;
            }
            for f in 0..group.fields.len() {
                if let Some(c) = Counter::from_ids(g as u8, d, f as u8) {
                    r.set_counter(Phase::Work, c, 1);
                }
            }
            for h in 0..group.hists.len() {
                if let Some(h) = Hist::from_ids(g as u8, d, h as u8) {
                    r.set_bucket(Phase::Work, h, 0, 1);
                }
            }
        }
    }
    r
}

#[test]
fn coverage_passes_a_suite_that_raises_everything_and_fails_one_gap() {
    use super::coverage::judge;
    let labels = vec!["a.log".to_string()];
    let all = report_raising_all_but(None);
    let v = judge(std::slice::from_ref(&all), &labels, &[]).unwrap();
    assert!(v.missing.is_empty(), "{:?}", v.missing);
    // An allowance for an entry that is raised anyway is reported.
    let v = judge(std::slice::from_ref(&all), &labels, &["syscall nr=unknown"]).unwrap();
    assert_eq!(v.raised_anyway, ["syscall nr=unknown"]);

    // One lock class never taken: its label entry is a gap, the fields
    // (raised under other classes) are not.
    let idx = capos_measure::catalogue::SharedLock::EndpointQueue as usize;
    let gap = report_raising_all_but(Some(("shared_kernel_lock", idx)));
    let v = judge(std::slice::from_ref(&gap), &labels, &[]).unwrap();
    assert_eq!(v.missing, ["shared_kernel_lock lock=endpoint_queue"]);
    assert!(v.text.contains("never raised: shared_kernel_lock lock=endpoint_queue"), "{}", v.text);
    // Allowed, it passes; a misspelt allowance is an error, not a pass.
    let v = judge(std::slice::from_ref(&gap), &labels, &["shared_kernel_lock lock=endpoint_queue"])
        .unwrap();
    assert!(v.missing.is_empty());
    assert!(judge(&[gap], &labels, &["shared_kernel_lock lock=endpoint_queu"]).is_err());
    // The suite's own allowances all name catalogue entries.
    judge(&[], &labels, super::coverage::ALLOWED_UNRAISED).unwrap();
}

/// The counters of a faithful `fid-oversub` run: `sleeps` sleeps, `ticks`
/// user-mode ticks in the work phase (the aggregate adds a few).
fn oversub_report(sleeps: u64, ticks: u64) -> Report {
    use capos_measure::catalogue::{
        scheduler_lock_site, segment, timer_fast_path as fp, timer_slow_summary as ss,
        SchedLockSite, Segment,
    };
    let mut r = report(1);
    for (phase, extra) in [(Phase::Work, 0), (Phase::Aggregate, 3)] {
        let t = ticks + extra;
        r.set_counter(phase, fp::attempts.into(), t);
        r.set_counter(phase, fp::fallback_queue_nonempty.into(), sleeps);
        r.set_counter(phase, fp::fallback_reschedule_pending.into(), t - sleeps);
        r.set_counter(phase, ss::required.into(), 2 * sleeps);
        r.set_counter(phase, ss::run_queue_nonempty.into(), 2 * sleeps);
        r.set_counter(phase, ss::clean.into(), t - 2 * sleeps);
        r.set_counter(
            phase,
            scheduler_lock_site::acquisitions.at(SchedLockSite::PreemptRequeue),
            t,
        );
        r.set_counter(phase, segment::count.at(Segment::ScheduleSaveRequeue), t);
    }
    // The two named spinners: 139 user stack samples each in the work
    // phase, 140 in the run, every one also in the time-ordered ring.
    for (k, tid) in [0x1_0000_0005u64, 0x1_0000_0006].into_iter().enumerate() {
        let name = format!("spinner-{k}");
        r.thread_names.insert(tid, capos_measure::report::ThreadName { thread: tid, pid: 2, name });
        let tag = SampleTag { pid: 2, tid, ..U };
        r.stack_samples.insert((Phase::Work, tag, vec![0x40_1000 + k as u64]), 139);
        r.stack_samples.insert((Phase::Aggregate, tag, vec![0x40_1000 + k as u64]), 140);
        let id = k as u32 + 1;
        r.stack_defs.insert(id, (tag, vec![0x40_1000 + k as u64]));
        for i in 0..140u64 {
            let tsc = (i * 2 + k as u64) * 1_000;
            r.timed_samples.push(capos_measure::report::TimedSample { cpu: 0, tsc, stack: id });
        }
    }
    // Work-phase thread time: the main thread ran 100, spinner-0 1 000 and
    // spinner-1 900 cycles; each spinner waited while the others ran.
    for (tid, running, runnable) in
        [(0x1_0000_0004u64, 100, 0), (0x1_0000_0005, 1_000, 1_000), (0x1_0000_0006, 900, 1_100)]
    {
        let mut cycles = [0; capos_measure::thread_time::STATES];
        cycles[..2].copy_from_slice(&[running, runnable]);
        let t = capos_measure::thread_time::ThreadTime {
            phase: Phase::Work,
            thread: tid,
            pid: 2,
            cycles,
        };
        r.thread_time.insert((Phase::Work, tid), t);
    }
    // One switch-in per fallback (a preempted spinner) and per sleep (the
    // woken main thread).
    r.set_counter(
        Phase::Work,
        capos_measure::catalogue::scheduler::outcome_runnable.into(),
        ticks + sleeps,
    );
    r.run_delay.insert((Phase::Work, 0, 0), (5_000, [(70, sleeps)].into()));
    r.run_delay.insert((Phase::Work, 0, 1), (9_000, [(80, ticks - 8), (90, 8)].into()));
    // CPU 0's queue: at each tick (4 000 cycles apart) a pick leaves it
    // empty and the preempted spinner's requeue refills it; a woken sleeper
    // waits one tick in it every `ticks / sleeps` ticks.
    r.checkpoints.insert(Phase::Work, 0);
    r.checkpoints.insert(Phase::Shutdown, (ticks + 1) * 4_000);
    let every = ticks / sleeps;
    let mut len = 1;
    for i in 0..ticks {
        let t = i * 4_000 + 100;
        let mut step = |dt: u64, to: u64| {
            r.trace.push(TraceArgs::RunQueue { queue: 0, len: to }.event(t + dt, 0));
        };
        step(0, len - 1);
        step(10, len);
        if i % every == 0 && i / every < sleeps {
            len = 2;
            step(20, len);
        } else if len == 2 {
            // The sleeper was the pick; it blocks again at once.
            len = 1;
            step(30, len);
        }
    }
    r
}

#[test]
fn oversub_passes_the_derived_counts_and_fails_each_broken_rule() {
    use capos_measure::catalogue::{timer_fast_path as fp, timer_slow_summary as ss};
    let dir = tempfile::tempdir().unwrap();
    let planted = [("sleeps", 20), ("ran0", 500), ("ran1", 500)];
    let pcs = section("work", "user", &[(139, "x::planted_spin_0"), (139, "x::planted_spin_1")]);
    let faithful = oversub_report(20, 278);
    let r = run(dir.path(), faithful.clone(), &planted, &pcs, "", "");
    assert_eq!(failed(&oversub::WORKLOAD, &r), Vec::<String>::new());

    // A queue change the trace skipped (two threads in one step).
    let mut bad = faithful.clone();
    bad.trace.push(TraceArgs::RunQueue { queue: 0, len: 3 }.event(150, 0));
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(f, ["work: run_queue events of cpu 0 that move the length by one"]);

    // A spinner that did not name itself; a timeline sample the tables lack.
    let mut bad = faithful.clone();
    bad.thread_names.remove(&0x1_0000_0006);
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(f, ["thread_name spinner-1: reported once"]);
    let mut bad = faithful.clone();
    bad.timed_samples.pop();
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(f, ["spinner-1: time-ordered samples = its stack samples (whole run)"]);
    // A spinner that waited one cycle more than the others ran.
    let mut bad = faithful.clone();
    if let Some(t) = bad.thread_time.get_mut(&(Phase::Work, 0x1_0000_0005)) {
        t.cycles[1] += 1;
    }
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(f, ["spinner-0: work runnable = the other threads' running"]);
    // Two switch-ins too many after preemption; a wakeup missing.
    let mut bad = faithful.clone();
    if let Some((_, b)) = bad.run_delay.get_mut(&(Phase::Work, 0, 1)) {
        *b.entry(91).or_default() += 2;
    }
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(
        f,
        [
            "work: run_delay counts = scheduler.outcome_runnable",
            "work: run_delay preempt count = timer fallbacks"
        ]
    );
    let mut bad = faithful.clone();
    bad.run_delay.insert((Phase::Work, 0, 0), (5_000, [(70, 19)].into()));
    bad.set_counter(Phase::Work, capos_measure::catalogue::scheduler::outcome_runnable.into(), 297);
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert_eq!(f, ["work: run_delay wake count = sleeps"]);

    // A wakeup whose queued sleeper the pick did not see.
    let mut bad = faithful.clone();
    bad.set_counter(Phase::Work, ss::required.into(), 39);
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert!(f.iter().any(|q| q.contains("required = 2 x sleeps")), "{f:?}");
    assert!(f.iter().any(|q| q.contains("work: timer_slow_summary required = run_queue")), "{f:?}");
    // A fallback reason miscounted as another.
    let mut bad = faithful.clone();
    bad.set_counter(Phase::Work, fp::fallback_queue_nonempty.into(), 0);
    bad.set_counter(Phase::Work, fp::fallback_budget_exhausted.into(), 20);
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), bad, &planted, &pcs, "", ""));
    assert!(f.iter().any(|q| q.contains("fallback_queue_nonempty = sleeps")), "{f:?}");
    assert!(f.iter().any(|q| q.contains("fallback_budget_exhausted = 0")), "{f:?}");
    // Samples that do not follow the run time, and an unfair scheduler.
    let skewed = section("work", "user", &[(190, "x::planted_spin_0"), (88, "x::planted_spin_1")]);
    let f =
        failed(&oversub::WORKLOAD, &run(dir.path(), faithful.clone(), &planted, &skewed, "", ""));
    assert!(f.iter().any(|q| q.contains("planted_spin_0 share of spinner samples")), "{f:?}");
    let unfair = [("sleeps", 20), ("ran0", 600), ("ran1", 400)];
    let pcs = section("work", "user", &[(167, "x::planted_spin_0"), (111, "x::planted_spin_1")]);
    let f = failed(&oversub::WORKLOAD, &run(dir.path(), faithful, &unfair, &pcs, "", ""));
    assert_eq!(
        f,
        [
            "planted_spin_0 share of spinner run time (fair)",
            "planted_spin_1 share of spinner run time (fair)"
        ]
    );
}

#[test]
fn memory_passes_exact_counts_and_fails_each_off_by_one() {
    use capos_measure::catalogue::memory as mem;
    let dir = tempfile::tempdir().unwrap();
    let planted = [
        ("cancelled", 20),
        ("exits", 6),
        ("drops", 2),
        ("calls", 50),
        ("heap_refusals", 3),
        ("heap_nops", 3),
        ("frame_refusals", 4),
    ];
    let mut rep = report(1);
    rep.set_counter(Phase::Work, mem::pending_cancelled.into(), 20);
    rep.set_counter(Phase::Work, mem::heap_refusals.into(), 3);
    rep.set_counter(Phase::Work, mem::frame_refusals.into(), 4);
    let ep = shared_kernel_lock::acquisitions.at(SharedLock::EndpointQueue);
    rep.set_counter(Phase::Work, ep, 156);
    rep.set_counter(Phase::Work, mem::completions_dropped.into(), 2);
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&memory::WORKLOAD, &r), Vec::<String>::new());
    for (counter, value, row) in [
        (mem::pending_cancelled.into(), 19, "pending_cancelled"),
        (mem::completions_dropped.into(), 1, "completions_dropped"),
        (ep, 155, "endpoint_queue"),
        (mem::frame_refusals.into(), 5, "frame_refusals"),
        (mem::heap_refusals.into(), 2, "heap_refusals"),
    ] {
        let mut bad = rep.clone();
        bad.set_counter(Phase::Work, counter, value);
        let f = failed(&memory::WORKLOAD, &run(dir.path(), bad, &planted, "", "", ""));
        assert_eq!(f.len(), 1, "{row}: {f:?}");
        assert!(f[0].contains(row), "{row}: {f:?}");
    }
    // A NOP the kernel let through.
    let mut short = planted;
    short[4] = ("heap_refusals", 2);
    let f = failed(&memory::WORKLOAD, &run(dir.path(), rep, &short, "", "", ""));
    assert!(f.iter().any(|q| q.contains("NOPs with 32 KiB")), "{f:?}");
}

/// A faithful `fid-overflow` report at capacity 1, and its measure.log
/// `# losses` line.
fn overflow_report() -> (Report, String) {
    use capos_measure::catalogue::{kernel_pc_samples as k, thread_ops, user_pc_samples as u};
    use capos_measure::thread_ops::ThreadOps;
    let mut r = report(2);
    let agg = Phase::Aggregate;
    for (c, n) in [
        (Counter::from(u::overflow), 16),
        (u::stack_overflow.into(), 17),
        (k::overflow.into(), 113),
        (k::stack_overflow.into(), 113),
        (k::contention_overflow.into(), 2),
        (thread_ops::rows_refused.into(), 15),
        (thread_ops::names_refused.into(), 1),
        (thread_ops::time_rows_refused.into(), 4),
        (thread_ops::offcpu_refused.into(), 3),
        (capos_measure::catalogue::timer::sample_ring_dropped.into(), 128),
        (thread_ops::ring_sqes.into(), 10),
        (
            capos_measure::catalogue::syscall::calls
                .at(capos_measure::catalogue::SyscallNr::CapEnter),
            12,
        ),
    ] {
        r.set_counter(agg, c, n);
    }
    // One entry per table, shown in its phase and in the aggregate.
    for p in [Phase::Work, agg] {
        let user = SampleTag { cpu: 1, pid: 2, tid: 0x1_0000_0003, ..U };
        r.pc_samples.insert((p, user, 0x40_1000), 3);
        r.pc_samples.insert((p, K, 0xffff_ffff_8000_1000), 3);
        r.stack_samples.insert((p, user, vec![1, 2]), 3);
        r.contention_stacks.insert((p, 1, 0, vec![7]), (1, 100));
        let row = ThreadOps { phase: p, thread: 9, pid: 1, syscalls: 2, ring_sqes: 1 };
        r.thread_ops.insert((p, 9), row);
        let time = capos_measure::thread_time::ThreadTime {
            phase: p,
            thread: 9,
            pid: 1,
            cycles: [5; capos_measure::thread_time::STATES],
        };
        r.thread_time.insert((p, 9), time);
    }
    // One time-ordered sample per CPU (stack samples 17 + 113 + 0 + 0: 128
    // dropped), one of the two names.
    for cpu in [0, 1] {
        r.timed_samples.push(capos_measure::report::TimedSample { cpu, tsc: 5, stack: 0 });
    }
    let name = capos_measure::report::ThreadName { thread: 7, pid: 1, name: "hammer".into() };
    r.thread_names.insert(7, name);
    let losses = "# losses (whole run): user_pc_overflow=16 user_stack_overflow=17 \
        kernel_pc_overflow=113 kernel_stack_overflow=113 contention_overflow=2 \
        thread_rows_refused=15 thread_names_refused=1 thread_time_refused=4 offcpu_refused=3 sample_ring_dropped=128 trace_dropped=0 \
        (no trace rings)\n";
    (r, losses.to_string())
}

fn overflow_run(dir: &Path, r: Report, losses: &str) -> Run {
    let run = run(dir, r, &[("calls", 10_000)], "", "", "");
    std::fs::write(run.profile.pc_report.report.with_file_name("measure.log"), losses).unwrap();
    run
}

#[test]
fn overflow_passes_full_tables_and_fails_a_table_past_capacity_or_an_unstated_loss() {
    use capos_measure::catalogue::kernel_pc_samples as k;
    assert_eq!(overflow::CMDLINE, format!("measure_capacity={}", overflow::CAPACITY));
    let dir = tempfile::tempdir().unwrap();
    let (faithful, losses) = overflow_report();
    let r = overflow_run(dir.path(), faithful.clone(), &losses);
    assert_eq!(failed(&overflow::WORKLOAD, &r), Vec::<String>::new());

    // A second user PC entry: the cap did not hold.
    let mut bad = faithful.clone();
    bad.pc_samples.insert((Phase::Shutdown, U, 0x40_2000), 1);
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses));
    assert_eq!(f, ["user PC table entries = capacity"]);
    // The same PC from another thread is another entry.
    let mut bad = faithful.clone();
    bad.pc_samples.insert((Phase::Shutdown, SampleTag { tid: 0x1_0000_0009, ..U }, 0x40_1000), 1);
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses));
    assert_eq!(f, ["user PC table entries = capacity"]);
    // An empty stack table (at capacity 1 no racing twin can explain it).
    let mut bad = faithful.clone();
    bad.stack_samples.clear();
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses));
    assert_eq!(f, ["stack table entries = capacity"]);
    // No contention overflow counted, and a losses line that hides one.
    let mut bad = faithful.clone();
    bad.set_counter(Phase::Aggregate, k::contention_overflow.into(), 0);
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses));
    assert!(f.iter().any(|q| q.contains("contention_overflow > 0")), "{f:?}");
    let hidden = losses.replace("kernel_pc_overflow=113", "kernel_pc_overflow=0");
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), faithful.clone(), &hidden));
    assert_eq!(f, ["# losses line states kernel_pc_overflow"]);
    // A ring that kept two samples on one CPU.
    let mut bad = faithful.clone();
    bad.timed_samples.push(capos_measure::report::TimedSample { cpu: 1, tsc: 6, stack: 0 });
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses));
    assert_eq!(f, ["time-ordered samples = capacity x CPUs"]);
    // Refused records below the refused system calls (12 - 2 in rows).
    let mut bad = faithful;
    bad.set_counter(Phase::Aggregate, capos_measure::catalogue::thread_ops::rows_refused.into(), 9);
    let losses9 = losses.replace("thread_rows_refused=15", "thread_rows_refused=9");
    let f = failed(&overflow::WORKLOAD, &overflow_run(dir.path(), bad, &losses9));
    assert_eq!(f, ["thread_ops.rows_refused within [refused syscalls, + refused SQEs]"]);
}

#[test]
fn extra_kernel_words_name_real_workloads_and_manifests_carry_the_endpoint() {
    for (name, words) in super::EXTRA_CMDLINE {
        assert!(super::WORKLOADS.iter().any(|w| w.name == *name), "{name}: no such workload");
        assert!(!words.trim().is_empty(), "{name}: no words");
    }
    let m = super::manifest_text(&memory::WORKLOAD, "x=1");
    assert!(m.contains(r#"(kind = endpoint, endpoint = "fidelity", receive = true)"#), "{m}");
    assert!(m.contains(r#"(kind = endpoint, endpoint = "fidelity")])"#), "{m}");
}

#[test]
fn sched_passes_a_contended_run_and_fails_each_missing_effect() {
    use capos_measure::catalogue::{scheduler, scheduler_lock, scheduler_lock_site, syscall};
    use capos_measure::catalogue::{SchedLockSite, SyscallNr};
    let dir = tempfile::tempdir().unwrap();
    let planted = [("sleeps", 40), ("yields", 900)];
    let yields = syscall::calls.at(SyscallNr::Yield);
    let site = scheduler_lock_site::acquisitions.at(SchedLockSite::Yield);
    let mut rep = report(2);
    rep.set_counter(Phase::Work, yields, 905);
    rep.set_counter(Phase::Aggregate, yields, 1000);
    rep.set_counter(Phase::Aggregate, site, 1001);
    rep.set_counter(Phase::Work, scheduler::candidates_stolen.into(), 300);
    rep.set_counter(Phase::Work, scheduler_lock::contended.into(), 40);
    rep.set_counter(Phase::Work, scheduler::resched_ipi_skipped.into(), 3);
    let (y, st) = (SchedLockSite::Yield as u8, SchedLockSite::Steal as u8);
    let pair = |count| PairSums { count, wait_cycles: 100 * count, cross_cpu: count };
    rep.add_lock_pair((Phase::Work, 0, y, st), pair(30));
    rep.add_lock_pair((Phase::Work, 0, st, y), pair(10));
    rep.add_lock_pair((Phase::Work, 0, SchedLockSite::TimerSelect as u8, y), pair(2));
    rep.set_counter(Phase::Aggregate, scheduler_lock::contended.into(), 42);
    rep.set_counter(Phase::Aggregate, scheduler_lock::handoffs.into(), 60);
    rep.set_counter(Phase::Aggregate, scheduler_lock::acquisitions.into(), 3000);
    let r = run(dir.path(), rep.clone(), &planted, "", "", "");
    assert_eq!(failed(&sched::WORKLOAD, &r), Vec::<String>::new());
    for (phase, counter, value, row) in [
        (Phase::Work, yields, 899, "planted yields"),
        (Phase::Aggregate, site, 1003, "site=yield"),
        (Phase::Work, scheduler::candidates_stolen.into(), 0, "candidates_stolen"),
        (Phase::Work, scheduler_lock::contended.into(), 0, "contended"),
        (Phase::Work, scheduler::resched_ipi_skipped.into(), 0, "resched_ipi_skipped"),
        (Phase::Aggregate, scheduler_lock::handoffs.into(), 41, "handoffs vs contended"),
        (Phase::Aggregate, scheduler_lock::handoffs.into(), 3001, "handoffs <= acquisitions"),
    ] {
        let mut bad = rep.clone();
        bad.set_counter(phase, counter, value);
        let f = failed(&sched::WORKLOAD, &run(dir.path(), bad, &planted, "", "", ""));
        assert_eq!(f.len(), 1, "{row}: {f:?}");
        assert!(f[0].contains(row), "{row}: {f:?}");
    }
    // The steal site waiting mostly on something else than a yield.
    let mut bad = rep.clone();
    bad.add_lock_pair((Phase::Work, 0, st, SchedLockSite::Spawn as u8), pair(11));
    let f = failed(&sched::WORKLOAD, &run(dir.path(), bad, &planted, "", "", ""));
    assert_eq!(f, ["work top holder of waiter=steal"]);
    // No planted pair at all.
    let mut bad = rep.clone();
    bad.lock_pairs.retain(|k, _| k.2 != y && k.2 != st);
    let f = failed(&sched::WORKLOAD, &run(dir.path(), bad, &planted, "", "", ""));
    assert_eq!(
        f,
        ["work lock_pair count yield <- steal + steal <- yield", "work top holder of waiter=steal"]
    );
}
