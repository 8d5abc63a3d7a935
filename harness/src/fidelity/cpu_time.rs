//! CPU time by state against planted time (`fid-sleep`: one thread on one
//! CPU, `spun` cycles in `planted_busy`, `slept` cycles around its sleeps).
//! The states are bounded, not estimated: the CPU idles only while the
//! thread sleeps, and during a sleep it is idle except for handlers and the
//! kernel; it runs user code only in the spins and the loop around them,
//! and during a spin it is in user mode except for handlers and the kernel.

use capos_measure::cpu_time::CpuState as S;
use capos_measure::phase::Phase;
use capos_measure::report::Report;

use super::table::Row;

/// A state's work-phase cycles on CPU 0.
fn work(r: &Report, s: S) -> Option<u64> {
    r.cpu_time.get(&(Phase::Work, 0)).map(|c| c[s as usize])
}

fn bound(workload: &str, what: &str, lo: u64, hi: u64, v: u64) -> Row {
    Row::name(workload, what, format!("{lo}..={hi}"), v.to_string(), (lo..=hi).contains(&v))
}

/// Rows for a single-CPU run with `spun` and `slept` planted (TSC cycles).
pub fn rows(workload: &str, r: &Report, spun: u64, slept: u64) -> Vec<Row> {
    let get = |s| work(r, s).unwrap_or(0);
    if r.cpu_time.is_empty() {
        return vec![Row::name(
            workload,
            "cpu_time lines in measure.log",
            "present",
            "none",
            false,
        )];
    }
    let others =
        get(S::Irq) + get(S::Measure) + get(S::Kernel) + get(S::LockSpin) + get(S::Shootdown);
    vec![
        bound(
            workload,
            "work cpu_time idle within [slept - handlers - kernel, slept]",
            slept.saturating_sub(others),
            slept,
            get(S::Idle),
        ),
        bound(
            workload,
            "work cpu_time user within [spun - handlers - kernel, spun + 2%]",
            spun.saturating_sub(others),
            spun + spun / 50,
            get(S::User),
        ),
    ]
}
