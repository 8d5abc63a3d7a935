//! Two programs at one address (`fid-samelink`): the driver and its peer
//! `fid-samelink-peer` are different binaries linked at the same user base
//! and run at once on two CPUs, each spinning in a function of its own name
//! (`planted_spin_a`, `planted_spin_b`). Samples carry their process and
//! resolve through that process's load map, so:
//!
//! * in `user-pc-symbols.log` (aggregate), the rows under each binary add up
//!   to exactly the user PC samples of its process, and no row is
//!   `<ambiguous>`;
//! * in the work phase each spin shows under its own binary (both ran in
//!   it), never under the other;
//! * in the work flamegraph's folded stacks, the stacks with a frame of
//!   each binary weigh exactly its process's user stack samples, and no
//!   stack mixes the two;
//! * every kernel stack sample tagged `lock=shared_kernel_lock:process_heap_end`
//!   (the one measured lock held with interrupts on, so the one a sample
//!   can see held) was taken inside `Process::grow_heap`, its holder.

use anyhow::{bail, Context, Result};
use capos_measure::catalogue::SharedLock;
use capos_measure::{ContentionClass, HeldLock, Mode, Phase};
use capos_symbolize::{Binaries, Resolver};

use super::artifacts::{folded, pc_section, weight_with_frame};
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-samelink",
    smp: 2,
    tick_hz: 100,
    peers: 1,
    quick_args: "spin_ms=300",
    full_args: "spin_ms=1000",
    check,
};

/// The peer's binary (linked at the same address as the driver's).
pub const PEER: &str = "fid-samelink-peer";

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let r = &run.report;
    let pid_of = |binary: &str| {
        r.load_maps
            .iter()
            .find(|m| m.binary == binary)
            .map(|m| m.pid)
            .with_context(|| format!("no load map of {binary}"))
    };
    let both = [(name, pid_of(name)?, "planted_spin_a"), (PEER, pid_of(PEER)?, "planted_spin_b")];
    let bases: Vec<u64> =
        r.load_maps.iter().filter(|m| m.binary.starts_with(name)).map(|m| m.base).collect();
    let text = run.read(&run.profile.pc_report.report)?;
    let all = pc_section(&text, "aggregate", "user")?;
    let work = pc_section(&text, "work", "user")?;
    let stacks = folded(&run.read(&run.profile.work.folded)?)?;
    let user_samples = |phase: Phase, pid: u64, stacks: bool| -> u64 {
        let pcs = r.pc_samples.iter().map(|((p, t, _), n)| (*p, *t, *n));
        let sts = r.stack_samples.iter().map(|((p, t, _), n)| (*p, *t, *n));
        let rows: Vec<_> = if stacks { sts.collect() } else { pcs.collect() };
        rows.iter()
            .filter(|(p, t, _)| *p == phase && t.family() == Mode::User && u64::from(t.pid) == pid)
            .map(|(_, _, n)| n)
            .sum()
    };
    let mut rows = vec![Row::name(
        name,
        "both programs loaded at one base",
        "1 base",
        format!("{} base(s)", bases.iter().collect::<std::collections::BTreeSet<_>>().len()),
        bases.len() == 2 && bases[0] == bases[1],
    )];
    rows.push(Row::exact(
        name,
        "user-pc-symbols aggregate: <ambiguous> samples",
        0,
        all.count(|s| s.contains("ambiguous")),
    ));
    for (i, (binary, pid, spin)) in both.iter().enumerate() {
        let (other, _, other_spin) = both[1 - i];
        rows.push(Row::exact(
            name,
            format!("user-pc-symbols aggregate: rows of {binary} = pid {pid}'s user PC samples"),
            user_samples(Phase::Aggregate, *pid, false),
            all.count_in(binary, |_| true),
        ));
        rows.push(Row::at_least(
            name,
            format!("user-pc-symbols work: {spin} under {binary}"),
            1,
            work.count_in(binary, |s| s.ends_with(spin)),
        ));
        rows.push(Row::exact(
            name,
            format!("user-pc-symbols work: {other_spin} under {binary}"),
            0,
            work.count_in(binary, |s| s.ends_with(other_spin)),
        ));
        let mine = format!("{binary}`");
        let theirs = format!("{other}`");
        rows.push(Row::exact(
            name,
            format!("flamegraph-work: stacks with {binary} frames = pid {pid}'s user stacks"),
            user_samples(Phase::Work, *pid, true),
            weight_with_frame(&stacks, |f| f.starts_with(&mine)),
        ));
        let mixed: u64 = stacks
            .iter()
            .filter(|(f, _)| f.iter().any(|x| x.starts_with(&mine)))
            .filter(|(f, _)| f.iter().any(|x| x.starts_with(&theirs)))
            .map(|(_, w)| w)
            .sum();
        rows.push(Row::exact(
            name,
            format!("flamegraph-work: {binary} stacks with {other} frames"),
            0,
            mixed,
        ));
    }
    let (tagged, unplaced, strays) = heap_end_strays(run)?;
    rows.push(Row::exact(
        name,
        format!(
            "kernel stacks tagged lock=process_heap_end outside grow_heap (of {tagged}; \
             {unplaced} at a PC DWARF gives no line)"
        ),
        0,
        strays,
    ));
    Ok(rows)
}

/// Kernel stack samples tagged as holding `process_heap_end`; those whose
/// sampled PC has no DWARF line (code the compiler attributed to no source
/// line, so no inline chain: CI saw a branch target inside the inlined
/// `grow_heap`'s bounds check resolve to `syscall::dispatch` alone), which
/// cannot be placed; and of the others, those none of whose frames is in
/// `Process::grow_heap` (the only code that holds the lock).
fn heap_end_strays(run: &Run) -> Result<(u64, u64, u64)> {
    let r = &run.report;
    let heap_end =
        HeldLock::new(ContentionClass::SharedKernelLock, SharedLock::ProcessHeapEnd as u8);
    let bins = Binaries::load(&run.elfs, r.load_maps.iter().map(|m| m.binary.as_str()));
    if let Some(problem) = bins.all().next().and_then(|k| k.problem()) {
        bail!("cannot resolve kernel stacks: {problem}");
    }
    let resolver = Resolver::new(&bins, &r.load_maps);
    let in_holder = |frames: &[u64]| {
        frames.iter().enumerate().any(|(i, a)| {
            resolver.locate_frame(i, *a).frame_names().iter().any(|n| n.contains("grow_heap"))
        })
    };
    let tagged = r.stack_samples.iter().filter(|((p, t, _), _)| {
        *p == Phase::Aggregate && t.family() == Mode::Kernel && t.lock == heap_end
    });
    let no_line = |frames: &[u64]| {
        frames.first().is_some_and(|a| {
            let loc = resolver.locate_frame(0, *a);
            loc.resolved.as_ref().and_then(|r| r.frames.first()).is_some_and(|f| f.line.is_none())
        })
    };
    let all = tagged.clone().map(|(_, n)| n).sum();
    let unplaced = tagged.clone().filter(|((_, _, f), _)| no_line(f)).map(|(_, n)| n).sum();
    let strays = tagged.filter(|((_, _, f), _)| !no_line(f) && !in_holder(f)).map(|(_, n)| n).sum();
    Ok((all, unplaced, strays))
}
