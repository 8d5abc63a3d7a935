//! Where the missing speedup went: one benchmark case with `n` workers
//! against the 1-worker case, both measured (the guest-measure pass), work
//! phase only.
//!
//! The 1-worker case used `c1` CPUs for `W1` cycles, the n-worker case `cn`
//! CPUs for `Wn`, doing `k` times the 1-worker case's work (`k` = 1 when a
//! fixed amount of work is split among the workers, as in thread-scale;
//! `k` = n when each worker brings its own, as in ipc-scale's pairs).
//! Perfect scaling would need `k * c1 * W1` CPU cycles, so the CPU cycles
//! lost are `cn * Wn - k * c1 * W1`. Every CPU's time is split
//! into states ([`crate::cpu_time`]) that add up to the phase length, so
//! the loss is exactly the sum over states of (state cycles, all CPUs, n
//! workers) - k x (the same, 1 worker): more idle (waiting, imbalance), more
//! lock spinning (by lock and site, from the locks' wait cycles), more
//! kernel work (by timed segment), more interrupts, shootdowns and
//! measurement, and more user time for the same user work, which no kernel
//! state explains (the emulator, the host, caches): that part is shown as
//! `unexplained`. Causes can be negative (the n-worker case spent less).

use std::collections::BTreeMap;

use crate::catalogue::{
    scheduler_lock_site as site, segment, shared_kernel_lock as sk, SchedLockSite, Segment,
    SharedLock,
};
use crate::cpu_time::{CpuState, STATES};
use crate::phase::Phase;
use crate::report::Report;

/// One labelled cause of lost CPU cycles.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// `idle`, `lock_spin`, `kernel`, `irq`, `shootdown`, `measure`,
    /// `unexplained (user time growth)`.
    pub name: String,
    /// Cycles (n-worker case minus 1-worker case; negative: fewer).
    pub cycles: i128,
    /// Named parts of this cause, largest first (lock sites, segments).
    pub parts: Vec<(String, i128)>,
}

/// The scaling-loss row of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingLoss {
    pub workers: u32,
    /// `k`: the n-worker case's work in units of the 1-worker case's.
    pub work_factor: u32,
    /// `k * W1 / Wn`, the measure pass's own speedup (ideal: `workers`).
    pub speedup: f64,
    /// `cn * Wn - k * c1 * W1`.
    pub lost: i128,
    /// Largest first by absolute value; they add up to `lost` exactly when
    /// both reports' CPU time adds up (see [`ScalingLoss::remainder`]).
    pub causes: Vec<Cause>,
    /// `lost` minus the sum of the causes (0 when the accounting is whole).
    pub remainder: i128,
    pub tsc_khz: u64,
}

/// Why a case cannot be explained.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LossError {
    #[error("{0}: no work phase")]
    NoWork(&'static str),
    #[error("{0}: no cpu_time lines (a measure kernel from before the CPU-time accounting)")]
    NoCpuTime(&'static str),
    #[error("{0}: no begin record")]
    NoBegin(&'static str),
}

fn states(r: &Report, which: &'static str) -> Result<[u64; STATES], LossError> {
    let mut sum = [0u64; STATES];
    let mut any = false;
    for ((p, _), c) in &r.cpu_time {
        if *p == Phase::Work {
            any = true;
            for (s, v) in sum.iter_mut().zip(c) {
                *s = s.saturating_add(*v);
            }
        }
    }
    if !any {
        return Err(LossError::NoCpuTime(which));
    }
    Ok(sum)
}

/// Work-phase value of `counter` in `n` minus `k` times that in `one`.
fn delta(one: &Report, n: &Report, k: u32, c: crate::declare::Counter) -> i128 {
    n.counter(Phase::Work, c) as i128 - k as i128 * one.counter(Phase::Work, c) as i128
}

/// Non-zero parts, largest magnitude first.
fn ranked(mut parts: Vec<(String, i128)>) -> Vec<(String, i128)> {
    parts.retain(|(_, v)| *v != 0);
    parts.sort_by(|a, b| b.1.unsigned_abs().cmp(&a.1.unsigned_abs()).then(a.0.cmp(&b.0)));
    parts
}

/// Explains case `n` (with `workers` workers doing `work_factor` times the
/// 1-worker case's work) against the 1-worker case `one`.
pub fn scaling_loss(
    one: &Report,
    n: &Report,
    workers: u32,
    work_factor: u32,
) -> Result<ScalingLoss, LossError> {
    let k = work_factor.max(1);
    let w1 = *one.phase_cycles.get(&Phase::Work).ok_or(LossError::NoWork("1-worker case"))?;
    let wn = *n.phase_cycles.get(&Phase::Work).ok_or(LossError::NoWork("n-worker case"))?;
    let s1 = states(one, "1-worker case")?;
    let sn = states(n, "n-worker case")?;
    let c1 = one.begin.ok_or(LossError::NoBegin("1-worker case"))?.cpus.max(1) as i128;
    let cn = n.begin.ok_or(LossError::NoBegin("n-worker case"))?.cpus.max(1) as i128;
    let lost = cn * wn as i128 - k as i128 * c1 * w1 as i128;
    let d = |s: CpuState| sn[s as usize] as i128 - k as i128 * s1[s as usize] as i128;

    let locks = SchedLockSite::ALL
        .iter()
        .map(|s| {
            (format!("scheduler_lock {}", s.label()), delta(one, n, k, site::wait_cycles.at(*s)))
        })
        .chain(SharedLock::ALL.iter().map(|l| {
            (format!("shared_kernel_lock {}", l.label()), delta(one, n, k, sk::wait_cycles.at(*l)))
        }))
        .collect();
    let segments = Segment::ALL
        .iter()
        .map(|s| (format!("segment {}", s.label()), delta(one, n, k, segment::cycles.at(*s))))
        .collect();
    let cause = |name: &str, s: CpuState, parts: Vec<(String, i128)>| Cause {
        name: name.into(),
        cycles: d(s),
        parts: ranked(parts),
    };
    let mut causes = vec![
        cause("idle", CpuState::Idle, Vec::new()),
        cause("lock_spin", CpuState::LockSpin, locks),
        cause("kernel", CpuState::Kernel, segments),
        cause("irq", CpuState::Irq, Vec::new()),
        cause("shootdown", CpuState::Shootdown, Vec::new()),
        cause("measure", CpuState::Measure, Vec::new()),
        cause("unexplained (user time growth)", CpuState::User, Vec::new()),
    ];
    causes.sort_by_key(|c| core::cmp::Reverse(c.cycles.unsigned_abs()));
    let remainder = lost - causes.iter().map(|c| c.cycles).sum::<i128>();
    Ok(ScalingLoss {
        workers,
        work_factor: k,
        speedup: k as f64 * w1 as f64 / wn.max(1) as f64,
        lost,
        causes,
        remainder,
        tsc_khz: n.begin.map_or(0, |b| b.tsc_khz),
    })
}

impl ScalingLoss {
    /// Cycles as milliseconds of CPU time (cycles when the rate is unknown).
    pub fn ms(&self, cycles: i128) -> f64 {
        if self.tsc_khz == 0 {
            return cycles as f64;
        }
        cycles as f64 / self.tsc_khz as f64
    }

    /// Share of the loss, in percent.
    pub fn share(&self, cycles: i128) -> f64 {
        if self.lost == 0 {
            return 0.0;
        }
        cycles as f64 * 100.0 / self.lost as f64
    }

    /// The named cause with the most lost cycles (not `unexplained`).
    pub fn top_named(&self) -> Option<&Cause> {
        self.causes.iter().filter(|c| !c.name.starts_with("unexplained")).max_by_key(|c| c.cycles)
    }

    /// Share of the loss attributed to named causes (all but `unexplained`
    /// and the remainder), in percent; only positive causes count.
    pub fn named_share(&self) -> f64 {
        let named: i128 = (self.causes.iter())
            .filter(|c| !c.name.starts_with("unexplained") && c.cycles > 0)
            .map(|c| c.cycles)
            .sum();
        self.share(named)
    }

    /// Markdown rows (case column first) of the main table.
    pub fn markdown_row(&self, case: &str) -> String {
        let by = |name: &str| {
            let c = self.causes.iter().find(|c| c.name.starts_with(name)).map_or(0, |c| c.cycles);
            format!("{:.1} ({:.0}%)", self.ms(c), self.share(c))
        };
        format!(
            "| {case} | {} | {:.2} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            self.workers,
            self.speedup,
            self.ms(self.lost),
            by("idle"),
            by("lock_spin"),
            by("kernel"),
            by("irq"),
            by("shootdown"),
            by("measure"),
            by("unexplained"),
        )
    }

    /// Header of [`ScalingLoss::markdown_row`]'s table.
    pub const MARKDOWN_HEADER: &'static str = "| case | workers | speedup (measure pass) | lost CPU ms | idle | lock_spin | kernel | irq | shootdown | measure | unexplained (user growth) |\n|---|---|---|---|---|---|---|---|---|---|---|";

    /// Text lines: the causes with their biggest parts.
    pub fn detail_lines(&self, case: &str) -> Vec<String> {
        let mut out = vec![format!(
            "{case}: ideal {}x, measured {:.2}x (measure pass{}); lost {:.1} CPU-ms; named causes {:.0}%",
            self.workers,
            self.speedup,
            if self.work_factor > 1 {
                format!(", {}x the work", self.work_factor)
            } else {
                String::new()
            },
            self.ms(self.lost),
            self.named_share()
        )];
        for c in &self.causes {
            let parts: Vec<String> = (c.parts.iter().take(3))
                .map(|(n, v)| format!("{n} {:.1} ms", self.ms(*v)))
                .collect();
            let parts =
                if parts.is_empty() { String::new() } else { format!(" [{}]", parts.join(", ")) };
            out.push(format!(
                "  {:<32} {:>9.1} CPU-ms {:>6.1}%{parts}",
                c.name,
                self.ms(c.cycles),
                self.share(c.cycles)
            ));
        }
        if self.remainder != 0 {
            out.push(format!("  (accounting remainder {:.1} CPU-ms)", self.ms(self.remainder)));
        }
        out
    }
}

/// Work-phase CPU time by state over all CPUs, by state name.
pub fn work_states(r: &Report) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    if let Ok(s) = states(r, "report") {
        for st in CpuState::ALL {
            out.insert(st.name(), s[st as usize]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Begin;

    fn report(cpus: u8, work: u64, per_cpu: &[[u64; STATES]]) -> Report {
        let mut r = Report {
            begin: Some(Begin { cpus, tsc_khz: 1_000, catalogue: 0 }),
            ..Report::default()
        };
        r.phase_cycles.insert(Phase::Work, work);
        for (cpu, c) in per_cpu.iter().enumerate() {
            r.cpu_time.insert((Phase::Work, cpu as u8), *c);
        }
        r
    }

    #[test]
    fn the_loss_is_the_growth_of_each_state() {
        // user, kernel, lock_spin, irq, shootdown, idle, measure
        let one = report(1, 1_000_000, &[[900_000, 50_000, 0, 20_000, 0, 0, 30_000]]);
        // Two workers take 600 000 cycles: 1 200 000 CPU cycles, 200 000 lost.
        let mut two = report(
            2,
            600_000,
            &[
                [460_000, 40_000, 60_000, 10_000, 0, 15_000, 15_000],
                [460_000, 40_000, 60_000, 10_000, 0, 15_000, 15_000],
            ],
        );
        two.set_counter(Phase::Work, site::wait_cycles.at(SchedLockSite::TimerSelect), 100_000);
        two.set_counter(Phase::Work, sk::wait_cycles.at(SharedLock::Heap), 20_000);
        let l = scaling_loss(&one, &two, 2, 1).unwrap();
        assert_eq!(l.lost, 200_000);
        assert_eq!(l.remainder, 0);
        let get = |n: &str| l.causes.iter().find(|c| c.name.starts_with(n)).unwrap().cycles;
        assert_eq!(get("lock_spin"), 120_000);
        assert_eq!(get("idle"), 30_000);
        assert_eq!(get("kernel"), 30_000);
        assert_eq!(get("unexplained"), 20_000);
        assert_eq!(get("irq"), 0);
        assert_eq!(l.top_named().unwrap().name, "lock_spin");
        let lock = &l.causes.iter().find(|c| c.name == "lock_spin").unwrap().parts;
        assert_eq!(lock[0], ("scheduler_lock timer_select".to_string(), 100_000));
        assert_eq!(lock[1], ("shared_kernel_lock heap".to_string(), 20_000));
        assert!((l.speedup - 1_000_000.0 / 600_000.0).abs() < 1e-9);
        assert!((l.named_share() - 90.0).abs() < 1e-9, "{}", l.named_share());
        assert!((l.ms(l.lost) - 200.0).abs() < 1e-9);
        assert!(l.markdown_row("smp2-w2").starts_with("| smp2-w2 | 2 | 1.67 | 200.0 |"));
        assert!(l.detail_lines("smp2-w2")[0].contains("lost 200.0 CPU-ms"));
    }

    #[test]
    fn reports_without_accounting_are_refused_clearly() {
        let one = report(1, 1_000, &[[1_000, 0, 0, 0, 0, 0, 0]]);
        let none = report(2, 600, &[]);
        assert_eq!(scaling_loss(&one, &none, 2, 1), Err(LossError::NoCpuTime("n-worker case")));
        let mut nowork = one.clone();
        nowork.phase_cycles.clear();
        assert_eq!(scaling_loss(&nowork, &one, 2, 1), Err(LossError::NoWork("1-worker case")));
    }

    #[test]
    fn with_work_per_worker_the_baseline_is_k_times_the_one_worker_case() {
        // ipc-scale-like: 2 pairs do twice the calls; perfect = same time.
        let one = report(1, 1_000, &[[800, 200, 0, 0, 0, 0, 0]]);
        let two = report(2, 1_250, &[[800, 300, 150, 0, 0, 0, 0], [800, 300, 150, 0, 0, 0, 0]]);
        let l = scaling_loss(&one, &two, 2, 2).unwrap();
        assert_eq!(l.lost, 500);
        assert!((l.speedup - 1.6).abs() < 1e-9);
        let get = |n: &str| l.causes.iter().find(|c| c.name.starts_with(n)).unwrap().cycles;
        assert_eq!((get("lock_spin"), get("kernel"), get("unexplained")), (300, 200, 0));
        assert_eq!(l.remainder, 0);
    }
}
