//! CPU time by state (`capos_measure::cpu_time`) as a table and as
//! stacked bars: per CPU for a profile run, per case for a benchmark.

use capos_flamegraphs::{LossBar, Table};
use capos_measure::cpu_time::CpuState;
use capos_measure::report::Report;
use capos_measure::Phase;

/// Cycles to milliseconds at the report's TSC rate (0 when unknown).
fn ms(report: &Report, cycles: u64) -> f64 {
    match report.begin.map_or(0, |b| b.tsc_khz) {
        0 => 0.0,
        khz => cycles as f64 / khz as f64,
    }
}

/// Each phase's length and CPU time by state (all CPUs), in CPU-ms and
/// share of the phase's CPU time.
pub fn cpu_state_table(report: &Report) -> Option<Table> {
    let mut md = String::from("| phase | length ms | CPU-ms |");
    for s in CpuState::ALL {
        md.push_str(&format!(" {} |", s.name()));
    }
    md.push_str(&format!("\n|---|---|---|{}", "---|".repeat(CpuState::ALL.len())));
    let mut rows = 0;
    for (&phase, &cycles) in &report.phase_cycles {
        let mut states = [0u64; capos_measure::cpu_time::STATES];
        for ((p, _), c) in &report.cpu_time {
            if *p == phase {
                for (sum, v) in states.iter_mut().zip(c) {
                    *sum += v;
                }
            }
        }
        let total: u64 = states.iter().sum();
        if total == 0 {
            continue;
        }
        md.push_str(&format!(
            "\n| {} | {:.1} | {:.1} |",
            phase.name(),
            ms(report, cycles),
            ms(report, total)
        ));
        for v in states {
            md.push_str(&format!(
                " {:.1} ({:.1}%) |",
                ms(report, v),
                v as f64 * 100.0 / total as f64
            ));
        }
        rows += 1;
    }
    let caption = "Where the CPU time went: each phase's CPU time by state, all CPUs \
                   (CPU-ms and share)";
    (rows > 0).then(|| Table::from_markdown(caption, &md)).flatten()
}

/// One stacked bar per CPU: its time by state in `phase`, in ms.
pub fn cpu_state_bars(report: &Report, phase: Phase) -> Vec<LossBar> {
    (report.cpu_time.iter())
        .filter(|((p, _), c)| *p == phase && c.iter().any(|v| *v > 0))
        .map(|((_, cpu), c)| LossBar {
            label: format!("cpu {cpu}"),
            segments: (CpuState::ALL.iter().zip(c))
                .map(|(s, v)| (s.name().to_string(), ms(report, *v)))
                .collect(),
        })
        .collect()
}

/// One stacked bar for a whole run: `phase`'s CPU time by state, summed
/// over its CPUs, in CPU-ms; `None` when it has none.
pub fn case_bar(label: &str, report: &Report, phase: Phase) -> Option<LossBar> {
    let mut states = [0u64; capos_measure::cpu_time::STATES];
    for c in report.cpu_time.iter().filter(|((p, _), _)| *p == phase).map(|(_, c)| c) {
        for (sum, v) in states.iter_mut().zip(c) {
            *sum += v;
        }
    }
    states.iter().any(|v| *v > 0).then(|| LossBar {
        label: label.to_string(),
        segments: (CpuState::ALL.iter().zip(states))
            .map(|(s, v)| (s.name().to_string(), ms(report, v)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::report::Begin;

    fn report() -> Report {
        let mut r = Report {
            begin: Some(Begin { cpus: 2, tsc_khz: 1_000, catalogue: 0 }),
            ..Report::default()
        };
        r.phase_cycles.insert(Phase::Aggregate, 10_000);
        r.cpu_time.insert((Phase::Aggregate, 0), [6_000, 2_000, 1_000, 0, 0, 1_000, 0]);
        r.cpu_time.insert((Phase::Aggregate, 1), [0, 0, 0, 0, 0, 10_000, 0]);
        r
    }

    #[test]
    fn cpu_states_are_summed_over_cpus_with_their_shares() {
        let t = cpu_state_table(&report()).unwrap();
        assert_eq!(t.rows.len(), 1);
        let row = &t.rows[0];
        assert_eq!(row[0], "aggregate");
        assert_eq!(row[1], "10.0", "10 000 cycles at 1 MHz");
        assert_eq!(row[2], "20.0", "two CPUs");
        assert_eq!(row[3], "6.0 (30.0%)", "user");
        assert_eq!(row[5], "1.0 (5.0%)", "lock_spin");
        assert_eq!(row[8], "11.0 (55.0%)", "idle");
        assert!(cpu_state_table(&Report::default()).is_none());
    }

    #[test]
    fn one_bar_per_cpu_in_the_scope() {
        let r = report();
        let bars = cpu_state_bars(&r, Phase::Aggregate);
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[1].label, "cpu 1");
        assert_eq!(bars[1].segments[5], ("idle".to_string(), 10.0));
        assert!(cpu_state_bars(&r, Phase::Work).is_empty());
    }

    #[test]
    fn a_case_bar_sums_its_cpus() {
        let r = report();
        let bar = case_bar("smp2-w2", &r, Phase::Aggregate).unwrap();
        assert_eq!(bar.label, "smp2-w2");
        assert_eq!(bar.segments[0], ("user".to_string(), 6.0));
        assert_eq!(bar.segments[5], ("idle".to_string(), 11.0));
        assert!(case_bar("x", &r, Phase::Work).is_none());
    }
}
