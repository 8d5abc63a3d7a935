//! The `run_queue` trace of `fid-oversub`'s one CPU over the work phase.
//!
//! Two spinners share the CPU, so one always waits in its queue while the
//! other runs, except between a tick's pick and the requeue of the spinner
//! it preempted (a few hundred cycles under the queue's lock). The sleeper,
//! woken by the timer before a tick's decision, waits behind a spinner for
//! one tick per sleep. Every event is one enqueue or one pick, stamped under
//! the queue's lock: consecutive events of the queue differ by exactly one.

use capos_measure::report::Report;
use capos_measure::trace::TraceArgs;
use capos_measure::Phase;

use super::table::Row;

/// The queue's (tsc, length) events inside the work phase, in time order;
/// `None` without the work and shutdown marks.
fn work_events(report: &Report, queue: u8) -> Option<Vec<(u64, u64)>> {
    let start = *report.checkpoints.get(&Phase::Work)?;
    let stop = *report.checkpoints.get(&Phase::Shutdown)?;
    let mut ev: Vec<(u64, u64)> = (report.trace.iter())
        .filter(|e| (start..stop).contains(&e.tsc))
        .filter_map(|e| match e.args()? {
            TraceArgs::RunQueue { queue: q, len } if q == queue => Some((e.tsc, len)),
            _ => None,
        })
        .collect();
    ev.sort_unstable();
    Some(ev)
}

/// The length weighted by how long it held, between the first and the last
/// event (NaN for fewer than two events).
pub fn time_weighted(ev: &[(u64, u64)]) -> f64 {
    let (Some(first), Some(last)) = (ev.first(), ev.last()) else { return f64::NAN };
    let span = last.0.saturating_sub(first.0);
    if span == 0 {
        return f64::NAN;
    }
    let area: u128 = ev.windows(2).map(|w| u128::from(w[1].0 - w[0].0) * u128::from(w[0].1)).sum();
    area as f64 / span as f64
}

/// The rows: every step of CPU 0's queue is one thread; its mean length
/// lies between 1 (the sleeper never queued) and 1 plus two ticks per
/// sleep period (`sleep_ms` plus the tick it waits).
pub fn oversub_rows(name: &str, report: &Report, tick_hz: u32, sleep_ms: u64) -> Vec<Row> {
    let Some(ev) = work_events(report, 0) else {
        return vec![Row::missing(name, "work: run_queue trace of cpu 0", "no work/shutdown mark")];
    };
    if ev.len() < 10 {
        let why = format!("{} run_queue events in the work phase", ev.len());
        return vec![Row::missing(name, "work: run_queue trace of cpu 0", why)];
    }
    let steps = ev.len() as u64 - 1;
    let unit = ev.windows(2).filter(|w| w[0].1.abs_diff(w[1].1) == 1).count() as u64;
    let tick_ms = 1000.0 / f64::from(tick_hz.max(1));
    let share = tick_ms / (sleep_ms as f64 + tick_ms);
    vec![
        Row::exact(
            name,
            "work: run_queue events of cpu 0 that move the length by one",
            steps,
            unit,
        ),
        Row::new(
            name,
            "work: cpu 0 run-queue length, time-weighted (run_queue trace)",
            1.0 + share,
            time_weighted(&ev),
            share + 0.01,
            "1 spinner waits; the sleeper waits 1 tick per sleep",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::trace::TraceArgs;

    #[test]
    fn the_mean_weights_each_length_by_its_time() {
        assert_eq!(time_weighted(&[(0, 1), (30, 2), (40, 1), (100, 0)]), 1.1);
        assert!(time_weighted(&[(5, 1)]).is_nan());
    }

    #[test]
    fn a_jump_of_two_is_caught() {
        let mut r = Report::default();
        r.checkpoints.insert(Phase::Work, 0);
        r.checkpoints.insert(Phase::Shutdown, 1_000_000);
        let mut len = 1;
        for i in 0..20u64 {
            len = if i % 2 == 0 { 0 } else { 1 };
            r.trace.push(TraceArgs::RunQueue { queue: 0, len }.event(100 + i * 1000, 0));
        }
        r.trace.push(TraceArgs::RunQueue { queue: 1, len: 7 }.event(500, 1));
        let rows = oversub_rows("w", &r, 250, 50);
        assert!(rows[0].pass(), "{:?}", rows[0]);
        r.trace.push(TraceArgs::RunQueue { queue: 0, len: len + 2 }.event(50_000, 0));
        let rows = oversub_rows("w", &r, 250, 50);
        assert!(!rows[0].pass(), "a step of two");
    }
}
