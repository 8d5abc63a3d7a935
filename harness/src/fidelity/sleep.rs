//! Planted sleeps (`fid-sleep`): the only thread on the only CPU sleeps a
//! known total time `S` (TSC cycles around its `Timer.sleep` calls) in the
//! work phase, so the CPU runs its idle loop for `S`. Every tick samples
//! the interrupted PC, so the idle loop (`capos_kernel::sched::idle_loop`)
//! must hold about `tick_hz x S` kernel samples, in `user-pc-symbols.log`
//! and in the work flamegraph.
//!
//! Tolerance: each sleep is one interval whose two ends fall between ticks,
//! so it holds `tick_hz x length` samples give or take one: `sleeps` ticks
//! in all; plus 3% of the expected count for ticks that arrive late or
//! coalesce under TCG (QEMU's timer runs on host time; 1-2% seen at 100 Hz
//! on the shared 2-core host).

use anyhow::Result;

use super::artifacts::{folded, pc_section, weight_with_frame};
use super::table::Row;
use super::{Run, Workload};

pub const WORKLOAD: Workload = Workload {
    name: "fid-sleep",
    smp: 1,
    tick_hz: 100,
    quick_args: "sleeps=6 sleep_ms=200 spin_ms=20",
    full_args: "sleeps=10 sleep_ms=500 spin_ms=20",
    check,
};

/// The idle loop's symbol (kernel/src/sched/mod.rs).
const IDLE: &str = "capos_kernel::sched::idle_loop";
/// Allowance for late or coalesced ticks, as a fraction of the expected count.
const TICK_SLACK: f64 = 0.03;

fn check(run: &Run) -> Result<Vec<Row>> {
    let name = WORKLOAD.name;
    let slept = run.planted("slept")? as f64;
    let sleeps = run.planted("sleeps")? as f64;
    let per_ms = run.planted("tsc_per_ms")?.max(1) as f64;
    let expected = slept / per_ms / 1000.0 * f64::from(WORKLOAD.tick_hz);
    let tolerance = sleeps + (expected * TICK_SLACK).ceil();
    let basis = format!("±1 tick per sleep ({sleeps}) + {}% late ticks", TICK_SLACK * 100.0);

    let text = run.read(&run.profile.pc_report.report)?;
    let kernel = pc_section(&text, "work", "kernel")?;
    let idle = kernel.count(|s| s == IDLE);
    let stacks = folded(&run.read(&run.profile.work.folded)?)?;
    let idle_frame = format!("{IDLE}_[k]");
    let idle_stacks = weight_with_frame(&stacks, |f| f == idle_frame);
    Ok(vec![
        Row::new(
            name,
            "user-pc-symbols idle_loop samples vs tick_hz x slept",
            expected.round(),
            idle as f64,
            tolerance,
            basis.clone(),
        ),
        Row::new(
            name,
            "flamegraph-work idle_loop samples vs tick_hz x slept",
            expected.round(),
            idle_stacks as f64,
            tolerance,
            basis,
        ),
    ])
}
