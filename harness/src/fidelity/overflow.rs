//! Planted table overflow (`fid-overflow`): booted with the kernel word
//! `measure_capacity=CAPACITY`, every measure sample table (user PCs,
//! kernel PCs, stacks, contention stacks, per-thread rows) may claim only
//! [`CAPACITY`] entries (measure/src/samples.rs `Claims`), and two processes
//! hammering `Timer.now` on two CPUs need far more. So:
//!
//! * each table holds exactly `CAPACITY` entries (the stack and contention
//!   tables: a racing copy of one stack on the other CPU may take a second
//!   slot that the report merges, so up to one fewer per other CPU, at most
//!   half the slots: none at capacity 1);
//! * every overflow counter is non-zero (`user_pc_samples.overflow`,
//!   `.stack_overflow`, `kernel_pc_samples.overflow`, `.stack_overflow`,
//!   `.contention_overflow`, `thread_ops.rows_refused`), and `measure
//!   check` still finds samples + overflow = ticks;
//! * the `# losses` line of measure.log states each of them as counted;
//! * each CPU's time-ordered ring keeps `CAPACITY` samples and counts the
//!   rest in `timer.sample_ring_dropped`; the two processes name one thread
//!   each and the name table keeps `CAPACITY` (`thread_ops.names_refused`);
//! * `thread_ops.rows_refused` counts refused records: every system call
//!   and every ring batch (at least one SQE) records once, so it lies
//!   between the refused system calls (all system calls less those in the
//!   rows) and that plus the refused SQEs.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use capos_measure::catalogue::{kernel_pc_samples as k, thread_ops, timer, user_pc_samples as u};
use capos_measure::record::Mode;
use capos_measure::{Counter, Phase};

use super::table::Row;
use super::{Run, Workload};

/// Entries each table may claim.
pub const CAPACITY: usize = 1;
/// The kernel word that caps them.
pub const CMDLINE: &str = "measure_capacity=1";

pub const WORKLOAD: Workload = Workload {
    name: "fid-overflow",
    smp: 2,
    tick_hz: 250,
    peers: 1,
    // Contention on cue is the one loss that needs luck: two contended
    // acquisitions with different stacks (or phases) fill a 1-entry table;
    // the runs in docs/measure.md saw 2 to 2000 refused at 5000 calls.
    quick_args: "calls=10000 naps=1",
    full_args: "calls=40000 naps=1",
    check,
};

/// Every system call of the run (the `syscall` group, all numbers).
fn total_syscalls(run: &Run) -> u64 {
    run.report
        .counters
        .iter()
        .filter(|((p, c), _)| *p == Phase::Aggregate && c.group_desc().name == "syscall")
        .map(|(_, v)| *v)
        .sum()
}

/// The table entries behind a report's keyed samples: the report repeats an
/// entry of a phase in the cumulative `final_total` and `aggregate` views,
/// so count each phase's own entries, plus the aggregate keys no phase has
/// (samples tagged after the final mark, which show only in the aggregate).
fn table_entries<K: Ord>(keys: impl Iterator<Item = (Phase, K)>) -> u64 {
    let (mut own, mut agg) = (BTreeSet::new(), Vec::new());
    let mut n = 0u64;
    for (phase, key) in keys {
        if phase < Phase::FinalTotal {
            n += 1;
            own.insert(key);
        } else if phase == Phase::Aggregate {
            agg.push(key);
        }
    }
    n + agg.iter().filter(|k| !own.contains(*k)).count() as u64
}

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let r = &run.report;
    let cap = CAPACITY as u64;
    let others = u64::from(WORKLOAD.smp - 1);
    let agg = |c: Counter| r.counter(Phase::Aggregate, c);
    let mut rows = Vec::new();

    let pcs = |m: Mode| {
        table_entries(
            r.pc_samples.keys().filter(|(_, t, _)| t.family() == m).map(|(p, t, pc)| (*p, (t, pc))),
        )
    };
    rows.push(Row::exact(name, "user PC table entries = capacity", cap, pcs(Mode::User)));
    rows.push(Row::exact(name, "kernel PC table entries = capacity", cap, pcs(Mode::Kernel)));
    // Two CPUs may claim slots for the same new stack at once, and the
    // report merges the twins: up to one fewer entry per other CPU, and at
    // most half the slots can be twins (none with one slot).
    let merged = others.min(cap / 2) as f64;
    let racing = |n: u64, what: &str| {
        Row::new(
            name,
            format!("{what} entries = capacity"),
            cap as f64 - merged / 2.0,
            n as f64,
            merged / 2.0,
            format!("racing twins merge: up to {merged} fewer"),
        )
    };
    let stacks = table_entries(r.stack_samples.keys().map(|(p, t, f)| (*p, (t, f))));
    rows.push(racing(stacks, "stack table"));
    let contention = table_entries(r.contention_stacks.keys().map(|k| (k.0, (k.1, k.2, &k.3))));
    rows.push(racing(contention, "contention table"));
    let threads = table_entries(r.thread_ops.keys().map(|(p, t)| (*p, t)));
    rows.push(Row::exact(name, "per-thread rows = capacity", cap, threads));

    // Each CPU's time-ordered ring keeps `cap` samples; the two processes
    // name one thread each and the name table keeps `cap` of them.
    let cpus = u64::from(WORKLOAD.smp);
    rows.push(Row::exact(
        name,
        "time-ordered samples = capacity x CPUs",
        cap * cpus,
        r.timed_samples.len() as u64,
    ));
    let stacks = [u::stacks, u::stack_overflow, k::stacks, k::stack_overflow]
        .into_iter()
        .map(|c| agg(c.into()))
        .sum::<u64>();
    rows.push(Row::exact(
        name,
        "timer.sample_ring_dropped = stack samples - capacity x CPUs",
        stacks.saturating_sub(cap * cpus),
        agg(timer::sample_ring_dropped.into()),
    ));
    rows.push(Row::exact(name, "thread names kept = capacity", cap, r.thread_names.len() as u64));
    rows.push(Row::exact(
        name,
        "thread_ops.names_refused = names set - capacity",
        2 - cap,
        agg(thread_ops::names_refused.into()),
    ));

    let timed = table_entries(r.thread_time.keys().map(|(p, t)| (*p, t)));
    rows.push(Row::exact(name, "per-thread time rows = capacity", cap, timed));

    let overflows: [(&str, Counter, &str); 10] = [
        ("user_pc_samples.overflow", u::overflow.into(), "user_pc_overflow"),
        ("user_pc_samples.stack_overflow", u::stack_overflow.into(), "user_stack_overflow"),
        ("kernel_pc_samples.overflow", k::overflow.into(), "kernel_pc_overflow"),
        ("kernel_pc_samples.stack_overflow", k::stack_overflow.into(), "kernel_stack_overflow"),
        (
            "kernel_pc_samples.contention_overflow",
            k::contention_overflow.into(),
            "contention_overflow",
        ),
        ("thread_ops.rows_refused", thread_ops::rows_refused.into(), "thread_rows_refused"),
        ("thread_ops.names_refused", thread_ops::names_refused.into(), "thread_names_refused"),
        (
            "thread_ops.time_rows_refused",
            thread_ops::time_rows_refused.into(),
            "thread_time_refused",
        ),
        ("thread_ops.offcpu_refused", thread_ops::offcpu_refused.into(), "offcpu_refused"),
        ("timer.sample_ring_dropped", timer::sample_ring_dropped.into(), "sample_ring_dropped"),
    ];
    let log = run.read(&run.profile.pc_report.report.with_file_name("measure.log"))?;
    let losses = log
        .lines()
        .find(|l| l.starts_with("# losses"))
        .context("measure.log has no `# losses` line")?;
    let stated: BTreeSet<(String, u64)> = losses
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    for (field, counter, key) in overflows {
        let n = agg(counter);
        rows.push(Row::new(
            name,
            format!("{field} > 0 (the table is full)"),
            1.0,
            u64::from(n > 0) as f64,
            0.0,
            format!("{n} counted"),
        ));
        let said = stated.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        rows.push(Row::name(
            name,
            format!("# losses line states {key}"),
            format!("{key}={n}"),
            said.map_or("absent".to_string(), |v| format!("{key}={v}")),
            said == Some(n) && n > 0,
        ));
    }

    // The rows' counts, each once (a phase's own rows, or the aggregate's
    // for a thread with no own row: tagged after the final mark).
    let own_threads: BTreeSet<u64> =
        r.thread_ops.keys().filter(|(p, _)| *p < Phase::FinalTotal).map(|(_, t)| *t).collect();
    let counted = r.thread_ops.iter().filter(|((p, t), _)| {
        *p < Phase::FinalTotal || (*p == Phase::Aggregate && !own_threads.contains(t))
    });
    let in_rows_sys: u64 = counted.clone().map(|(_, t)| t.syscalls).sum();
    let in_rows_sqes: u64 = counted.map(|(_, t)| t.ring_sqes).sum();
    let low = total_syscalls(run).saturating_sub(in_rows_sys);
    let high = low + agg(thread_ops::ring_sqes.into()).saturating_sub(in_rows_sqes);
    rows.push(Row::new(
        name,
        "thread_ops.rows_refused within [refused syscalls, + refused SQEs]",
        (low + high) as f64 / 2.0,
        agg(thread_ops::rows_refused.into()) as f64,
        (high - low) as f64 / 2.0,
        format!("one record per syscall ({low} refused) and per ring batch"),
    ));
    Ok(rows)
}
