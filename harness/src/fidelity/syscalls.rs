//! Planted system calls (`fid-syscalls`, 2 CPUs): in the work phase the
//! main thread and a helper thread make known numbers of `yield`,
//! `ring_info`, invalid-number, `thread_stat` and `cap_enter` calls, each
//! `cap_enter` submitting a known number of NOP SQEs, and no other call
//! (userspace/smokes/src/bin/fid-syscalls.rs). Each also reads its own
//! `THREAD_STAT` counts around its section and prints them.
//!
//! Expected values, from kernel/src/syscall.rs and cap/ring.rs:
//! * every call is counted at entry, by number (`syscall nr=`), in the
//!   phase running then; `THREAD_STAT` by number only, not on the thread
//!   (`thread_counts` agrees with `THREAD_STAT`, which does not count
//!   itself);
//! * the SQEs one `cap_enter` consumed are counted when its submission
//!   finishes, in the phase running then;
//! * a phase mark is one `cap_enter` with one SQE, and the mark switches
//!   the phase while its SQE runs: the `shutdown` mark's call is counted in
//!   `work` (entered before the switch) and the `work` mark's SQE is too
//!   (finished after it). So the main thread's work row is its own reads
//!   plus one call and one SQE; the helper's is its reads exactly; and the
//!   work phase's `cap_enter` calls are the planned ones plus one.
//!
//! The two threads' rows are told apart by size: the main thread's plan
//! makes more calls (the program's defaults; the harness checks it).

use anyhow::{bail, Result};
use capos_measure::catalogue::{syscall, thread_ops, SyscallNr};
use capos_measure::thread_ops::ThreadOps;
use capos_measure::Phase;

use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-syscalls",
    smp: 2,
    tick_hz: 100,
    peers: 0,
    quick_args: "",
    full_args: "yields=400 infos=300 invalid=200 stats=100 enters=120 nops=4 h_yields=80 \
                h_infos=60 h_invalid=40 h_stats=20 h_enters=50 h_nops=3",
    check,
};

/// One thread's planned calls, from the planted line (`prefix` "" or "h_").
struct Plan {
    yields: u64,
    infos: u64,
    invalid: u64,
    /// `thread_stat` calls: the planned extra ones and the two reads of two
    /// counts.
    stats: u64,
    enters: u64,
    sqes: u64,
}

impl Plan {
    fn read(run: &Run, prefix: &str) -> Result<Plan> {
        let v = |k: &str| run.planted(&format!("{prefix}{k}"));
        Ok(Plan {
            yields: v("yields")?,
            infos: v("infos")?,
            invalid: v("invalid")?,
            stats: v("stats")? + 4,
            enters: v("enters")?,
            sqes: v("enters")? * v("nops")?,
        })
    }

    /// Calls `THREAD_STAT` counts (all but `thread_stat`).
    fn counted(&self) -> u64 {
        self.yields + self.infos + self.invalid + self.enters
    }
}

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let (m, h) = (Plan::read(run, "")?, Plan::read(run, "h_")?);
    if m.counted() <= h.counted() {
        bail!("the main thread must plan more calls than the helper (to tell their rows apart)");
    }
    let mut rows = Vec::new();
    let work = |nr: SyscallNr| run.report.counter(Phase::Work, syscall::calls.at(nr));
    for (nr, expected, basis) in [
        (SyscallNr::Yield, m.yields + h.yields, "exact"),
        (SyscallNr::RingInfo, m.infos + h.infos, "exact"),
        (SyscallNr::Unknown, m.invalid + h.invalid, "exact"),
        (SyscallNr::ThreadStat, m.stats + h.stats, "exact (planned + 4 reads per thread)"),
        (SyscallNr::CapEnter, m.enters + h.enters + 1, "exact (planned + the shutdown mark)"),
        (SyscallNr::ExitThread, 0, "exact"),
        (SyscallNr::ExitProcess, 0, "exact"),
        (SyscallNr::SetFsBase, 0, "exact"),
        (SyscallNr::GrowHeap, 0, "exact (heap room made before the work mark)"),
    ] {
        rows.push(Row::new(
            name,
            format!("work syscall nr={}", nr.label()),
            expected as f64,
            work(nr) as f64,
            0.0,
            basis,
        ));
    }

    // The program's own THREAD_STAT reads against its plan.
    let (md, hd) = (
        (run.planted("m_syscalls")?, run.planted("m_sqes")?),
        (run.planted("h_syscalls")?, run.planted("h_sqes")?),
    );
    rows.push(Row::exact(name, "main THREAD_STAT syscalls = planned", m.counted(), md.0));
    rows.push(Row::exact(name, "helper THREAD_STAT syscalls = planned", h.counted(), hd.0));

    // The per-thread table: the process's two work rows, larger first.
    let mut threads: Vec<&ThreadOps> =
        run.report.thread_ops.values().filter(|t| t.phase == Phase::Work).collect();
    threads.sort_by_key(|t| std::cmp::Reverse(t.syscalls));
    let same_pid = threads.windows(2).all(|w| w[0].pid == w[1].pid);
    rows.push(Row::new(
        name,
        "work thread_counts rows (one process)",
        2.0,
        if same_pid { threads.len() as f64 } else { f64::NAN },
        0.0,
        "exact: the main thread and the helper, nothing else made a call",
    ));
    let row = |i: usize| {
        threads.get(i).map_or((f64::NAN, f64::NAN), |t| (t.syscalls as f64, t.ring_sqes as f64))
    };
    let (mr, hr) = (row(0), row(1));
    for (what, expected, measured, basis) in [
        ("main syscalls", md.0 + 1, mr.0, "its THREAD_STAT reads + the shutdown mark's call"),
        ("main ring_sqes", md.1 + 1, mr.1, "its THREAD_STAT reads + the work mark's SQE"),
        ("helper syscalls", hd.0, hr.0, "its THREAD_STAT reads"),
        ("helper ring_sqes", hd.1, hr.1, "its THREAD_STAT reads"),
    ] {
        rows.push(Row::new(
            name,
            format!("work thread_counts {what}"),
            expected as f64,
            measured,
            0.0,
            format!("exact: {basis}"),
        ));
    }
    rows.push(Row::exact(
        name,
        "work thread_ops.ring_sqes",
        m.sqes + h.sqes + 1,
        run.report.counter(Phase::Work, thread_ops::ring_sqes),
    ));
    // Two views of the same calls: by number (less thread_stat) and by thread.
    let by_nr: u64 =
        SyscallNr::ALL.iter().filter(|&&nr| nr != SyscallNr::ThreadStat).map(|&nr| work(nr)).sum();
    let by_thread: u64 = threads.iter().map(|t| t.syscalls).sum();
    rows.push(Row::exact(
        name,
        "work syscall calls (less thread_stat) = thread_counts syscalls",
        by_nr,
        by_thread,
    ));
    Ok(rows)
}
