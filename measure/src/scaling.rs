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
//! time in locks (spinning, the `lock_spin` state, plus the kernel time by
//! which taking them free and holding them grew, from the locks' own wait,
//! take and hold cycles, by lock and site), more other kernel work (by timed
//! segment), more interrupts, shootdowns and
//! measurement, and more user time for the same user work, which no kernel
//! state explains (the emulator, the host, caches): that part is shown as
//! `unexplained`. Causes can be negative (the n-worker case spent less).
//!
//! Idle time has two parts: idle beside waiting work (a load imbalance:
//! a thread sat in another CPU's run queue while this one idled) and idle
//! with nothing to run. The sample clock tells them apart: every idle
//! sample notes whether a thread waited elsewhere
//! (`timer.idle_samples_work_queued` of `timer.idle_samples`), and each
//! case's idle time is split by that share. Beside the causes, which are
//! CPU time, each row carries what threads felt: their run-queue delay
//! (thread time spent runnable, `thread_time`) and their migrations.

use std::collections::BTreeMap;

use crate::catalogue::{
    scheduler_lock_site as site, segment, shared_kernel_lock as sk, thread_placement, timer,
    SchedLockSite, Segment, SharedLock,
};
use crate::cpu_time::{CpuState, STATES};
use crate::phase::Phase;
use crate::report::Report;

/// One labelled cause of lost CPU cycles.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// `idle`, [`LOCKS`], [`KERNEL_OTHER`], `irq`, `shootdown`, `measure`,
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
    /// CPUs of the n-worker case (the ideal speedup is the smaller of the
    /// two: 3 workers on 2 CPUs can at best run 2x).
    pub cpus: u32,
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
    /// Thread cycles spent runnable but not running in the work phase:
    /// (n-worker case, k x the 1-worker case).
    pub run_delay: (u64, u64),
    /// Dispatches of a thread on another CPU than its last, work phase:
    /// (n-worker case, k x the 1-worker case).
    pub migrations: (u64, u64),
    /// k x the 1-worker case's user cycles (for [`ScalingLoss::user_growth`]).
    pub base_user: u64,
}

/// The locks' cause: every measured lock's wait growth (`lock_spin` CPU
/// time) plus the growth of its free takes and its holds (kernel CPU time
/// taking a free lock and inside its critical sections), by lock and site. A hold nested in another measured lock's
/// hold counts for both (the kernel's shared locks nest rarely; the
/// run-queue locks are leaves).
pub const LOCKS: &str = "locks (spin + longer holds)";

/// Kernel CPU time outside the locks' holds, by timed segment (a segment's
/// growth includes the lock waits and holds inside it).
pub const KERNEL_OTHER: &str = "kernel (outside lock holds)";

/// The name of idle's part beside waiting work.
pub const IMBALANCE: &str = "imbalance (idle while a thread waited in a run queue)";

/// Work-phase idle cycles of `r` spent beside waiting work: its idle
/// time scaled by the share of idle samples that saw a queued thread.
fn imbalance(r: &Report, idle: u64) -> u64 {
    let samples = r.counter(Phase::Work, timer::idle_samples);
    let queued = r.counter(Phase::Work, timer::idle_samples_work_queued).min(samples);
    if samples == 0 {
        return 0;
    }
    (idle as u128 * queued as u128 / samples as u128) as u64
}

/// Work-phase runnable cycles over all threads.
fn runnable(r: &Report) -> u64 {
    (r.thread_time.values())
        .filter(|t| t.phase == Phase::Work)
        .map(|t| t.get(crate::thread_time::ThreadState::Runnable))
        .fold(0u64, u64::saturating_add)
}

/// Work-phase migrations over all CPU slots.
fn migrations(r: &Report) -> u64 {
    (0..crate::MAX_CPUS)
        .map(|c| r.counter(Phase::Work, thread_placement::migrations.at(c)))
        .fold(0u64, u64::saturating_add)
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

    // Each lock (scheduler lock by site, shared locks by name): its wait
    // growth (lock_spin state), and in kernel time the growth of its free
    // takes and of its holds (the lock's lines moving between CPUs make
    // both longer).
    let sched = SchedLockSite::ALL.iter().map(|s| {
        let wait = delta(one, n, k, site::wait_cycles.at(*s));
        let hold =
            delta(one, n, k, site::hold_cycles.at(*s)) + delta(one, n, k, site::take_cycles.at(*s));
        (format!("scheduler_lock {}", s.label()), wait, hold)
    });
    let shared = SharedLock::ALL.iter().map(|l| {
        let wait = delta(one, n, k, sk::wait_cycles.at(*l));
        let hold =
            delta(one, n, k, sk::hold_cycles.at(*l)) + delta(one, n, k, sk::take_cycles.at(*l));
        (format!("shared_kernel_lock {}", l.label()), wait, hold)
    });
    let by_lock: Vec<(String, i128, i128)> = sched.chain(shared).collect();
    let held: i128 = by_lock.iter().map(|l| l.2).sum();
    let locks: Vec<(String, i128)> = by_lock.iter().map(|(n, w, h)| (n.clone(), w + h)).collect();
    let segments = Segment::ALL
        .iter()
        .map(|s| (format!("segment {}", s.label()), delta(one, n, k, segment::cycles.at(*s))))
        .collect();
    let cause = |name: &str, s: CpuState, parts: Vec<(String, i128)>| Cause {
        name: name.into(),
        cycles: d(s),
        parts: ranked(parts),
    };
    let lock_cause =
        Cause { name: LOCKS.into(), cycles: d(CpuState::LockSpin) + held, parts: ranked(locks) };
    let idle_parts = {
        let idle = CpuState::Idle as usize;
        let waiting = imbalance(n, sn[idle]) as i128 - k as i128 * imbalance(one, s1[idle]) as i128;
        vec![
            (IMBALANCE.to_string(), waiting),
            ("no thread waiting".to_string(), d(CpuState::Idle) - waiting),
        ]
    };
    let mut causes = vec![
        cause("idle", CpuState::Idle, idle_parts),
        lock_cause,
        Cause {
            name: KERNEL_OTHER.into(),
            cycles: d(CpuState::Kernel) - held,
            parts: ranked(segments),
        },
        cause("irq", CpuState::Irq, Vec::new()),
        cause("shootdown", CpuState::Shootdown, Vec::new()),
        cause("measure", CpuState::Measure, Vec::new()),
        cause("unexplained (user time growth)", CpuState::User, Vec::new()),
    ];
    causes.sort_by_key(|c| core::cmp::Reverse(c.cycles.unsigned_abs()));
    let remainder = lost - causes.iter().map(|c| c.cycles).sum::<i128>();
    Ok(ScalingLoss {
        workers,
        cpus: cn as u32,
        work_factor: k,
        speedup: k as f64 * w1 as f64 / wn.max(1) as f64,
        lost,
        causes,
        remainder,
        tsc_khz: n.begin.map_or(0, |b| b.tsc_khz),
        run_delay: (runnable(n), runnable(one).saturating_mul(k as u64)),
        migrations: (migrations(n), migrations(one).saturating_mul(k as u64)),
        base_user: s1[CpuState::User as usize].saturating_mul(k as u64),
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

    /// The ideal speedup: one per worker, at most one per CPU.
    pub fn ideal(&self) -> u32 {
        self.workers.min(self.cpus.max(1))
    }

    /// Share of the loss, in percent.
    pub fn share(&self, cycles: i128) -> f64 {
        if self.lost == 0 {
            return 0.0;
        }
        cycles as f64 * 100.0 / self.lost as f64
    }

    /// Cycles of `cause`'s part `part` (0 when absent).
    pub fn part(&self, cause: &str, part: &str) -> i128 {
        (self.causes.iter().filter(|c| c.name == cause))
            .flat_map(|c| c.parts.iter())
            .find(|(n, _)| n == part)
            .map_or(0, |(_, v)| *v)
    }

    /// The named cause with the most lost cycles (not `unexplained`).
    pub fn top_named(&self) -> Option<&Cause> {
        self.causes.iter().filter(|c| !c.name.starts_with("unexplained")).max_by_key(|c| c.cycles)
    }

    /// The kernel's first cause: the named cause with the most lost cycles,
    /// leaving out the measurement's own (`measure`): what the kernel
    /// would have lost without the instrument.
    pub fn top_kernel_cause(&self) -> Option<&Cause> {
        (self.causes.iter())
            .filter(|c| !c.name.starts_with("unexplained") && c.name != "measure")
            .max_by_key(|c| c.cycles)
    }

    /// How much more user time the n-worker case spent than k times the
    /// 1-worker case, as a fraction of the latter (0.2: 20% more). With a
    /// fixed amount of user work, growth beyond a few percent means the
    /// emulator or host ran every CPU slower in that run.
    pub fn user_growth(&self) -> f64 {
        let c = self.causes.iter().find(|c| c.name.starts_with("unexplained"));
        let grown = c.map_or(0, |c| c.cycles) as f64;
        if self.base_user == 0 {
            return 0.0;
        }
        grown / self.base_user as f64
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
        let cell = |c: i128| format!("{:.1} ({:.0}%)", self.ms(c), self.share(c));
        let by = |name: &str| {
            cell(self.causes.iter().find(|c| c.name.starts_with(name)).map_or(0, |c| c.cycles))
        };
        let cells = [
            by("idle"),
            cell(self.part("idle", IMBALANCE)),
            by("locks"),
            by("kernel"),
            by("irq"),
            by("shootdown"),
            by("measure"),
            by("unexplained"),
            format!(
                "{:.1} / {:.1}",
                self.ms(self.run_delay.0 as i128),
                self.ms(self.run_delay.1 as i128)
            ),
            format!("{} / {}", self.migrations.0, self.migrations.1),
        ];
        format!(
            "| {case} | {} | {:.2} | {:.1} | {} |",
            self.workers,
            self.speedup,
            self.ms(self.lost),
            cells.join(" | ")
        )
    }

    /// Header of [`ScalingLoss::markdown_row`]'s table.
    pub const MARKDOWN_HEADER: &'static str = "| case | workers | speedup (measure pass) | lost CPU ms | idle | of which imbalance | locks (spin + hold growth) | kernel (other) | irq | shootdown | measure | unexplained (user growth) | run-queue delay, thread-ms (n / k x 1) | migrations (n / k x 1) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// Text lines: the causes with their biggest parts.
    pub fn detail_lines(&self, case: &str) -> Vec<String> {
        let mut out = vec![format!(
            "{case}: ideal {}x, measured {:.2}x (measure pass{}); lost {:.1} CPU-ms; named causes {:.0}%",
            self.ideal(),
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
        out.push(format!(
            "  threads felt: run-queue delay {:.1} thread-ms (1-worker case x{}: {:.1}); \
             migrations {} ({})",
            self.ms(self.run_delay.0 as i128),
            self.work_factor,
            self.ms(self.run_delay.1 as i128),
            self.migrations.0,
            self.migrations.1
        ));
        out
    }
}

/// The median (middle value; mean of the two middle values for an even
/// count) of `v`.
fn median_of(mut v: Vec<i128>) -> i128 {
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// The per-figure median of repeated explanations of one case (the same
/// workers, CPUs and work factor): the loss, every cause and part, the
/// speedup and the threads' figures, each the median over `losses`. A
/// noisy emulator moves single runs by tens of CPU-ms; the medians are
/// what a verdict should read. The causes then need not add up to the
/// loss exactly (`remainder` says by how much). `None` for no losses.
pub fn median(losses: &[ScalingLoss]) -> Option<ScalingLoss> {
    let first = losses.first()?;
    let of = |f: &dyn Fn(&ScalingLoss) -> i128| median_of(losses.iter().map(f).collect());
    let mut causes: Vec<Cause> = (first.causes.iter())
        .map(|c| {
            let cycles =
                of(&|l| l.causes.iter().find(|x| x.name == c.name).map_or(0, |x| x.cycles));
            let mut names: Vec<&String> = losses
                .iter()
                .flat_map(|l| l.causes.iter())
                .filter(|x| x.name == c.name)
                .flat_map(|x| x.parts.iter().map(|p| &p.0))
                .collect();
            names.sort();
            names.dedup();
            let parts =
                names.into_iter().map(|n| (n.clone(), of(&|l| l.part(&c.name, n)))).collect();
            Cause { name: c.name.clone(), cycles, parts: ranked(parts) }
        })
        .collect();
    causes.sort_by_key(|c| core::cmp::Reverse(c.cycles.unsigned_abs()));
    let lost = of(&|l| l.lost);
    let mut speedups: Vec<f64> = losses.iter().map(|l| l.speedup).collect();
    speedups.sort_by(f64::total_cmp);
    let n = speedups.len();
    let speedup =
        if n % 2 == 1 { speedups[n / 2] } else { (speedups[n / 2 - 1] + speedups[n / 2]) / 2.0 };
    let remainder = lost - causes.iter().map(|c| c.cycles).sum::<i128>();
    let pair = |f: &dyn Fn(&ScalingLoss) -> (u64, u64)| {
        (of(&|l| f(l).0 as i128) as u64, of(&|l| f(l).1 as i128) as u64)
    };
    Some(ScalingLoss {
        workers: first.workers,
        cpus: first.cpus,
        work_factor: first.work_factor,
        speedup,
        lost,
        causes,
        remainder,
        tsc_khz: first.tsc_khz,
        run_delay: pair(&|l| l.run_delay),
        migrations: pair(&|l| l.migrations),
        base_user: of(&|l| l.base_user as i128) as u64,
    })
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
        // The heap lock's holds and free takes grew by 10 000 cycles of the
        // kernel time.
        two.set_counter(Phase::Work, sk::hold_cycles.at(SharedLock::Heap), 7_000);
        two.set_counter(Phase::Work, sk::take_cycles.at(SharedLock::Heap), 3_000);
        // 8 of 10 idle samples saw a queued thread: 24 000 of the 30 000
        // idle cycles were beside waiting work.
        two.set_counter(Phase::Work, timer::idle_samples.into(), 10);
        two.set_counter(Phase::Work, timer::idle_samples_work_queued.into(), 8);
        two.set_counter(Phase::Work, thread_placement::migrations.at(1), 3);
        let l = scaling_loss(&one, &two, 2, 1).unwrap();
        assert_eq!(l.lost, 200_000);
        assert_eq!(l.remainder, 0);
        let get = |n: &str| l.causes.iter().find(|c| c.name.starts_with(n)).unwrap().cycles;
        assert_eq!(get("locks"), 130_000);
        assert_eq!(get("idle"), 30_000);
        assert_eq!(get("kernel"), 20_000);
        assert_eq!(get("unexplained"), 20_000);
        assert_eq!(get("irq"), 0);
        assert_eq!(l.top_named().unwrap().name, LOCKS);
        assert_eq!(l.top_kernel_cause().unwrap().name, LOCKS);
        assert!((l.user_growth() - 20_000.0 / 900_000.0).abs() < 1e-12);
        assert_eq!(l.part("idle", IMBALANCE), 24_000);
        assert_eq!(l.part("idle", "no thread waiting"), 6_000);
        assert_eq!(l.migrations, (3, 0));
        let lock = &l.causes.iter().find(|c| c.name == LOCKS).unwrap().parts;
        assert_eq!(lock[0], ("scheduler_lock timer_select".to_string(), 100_000));
        assert_eq!(lock[1], ("shared_kernel_lock heap".to_string(), 30_000));
        assert!((l.speedup - 1_000_000.0 / 600_000.0).abs() < 1e-9);
        assert!((l.named_share() - 90.0).abs() < 1e-9, "{}", l.named_share());
        assert!((l.ms(l.lost) - 200.0).abs() < 1e-9);
        assert!(l.markdown_row("smp2-w2").starts_with("| smp2-w2 | 2 | 1.67 | 200.0 |"));
        assert!(l.detail_lines("smp2-w2")[0].contains("lost 200.0 CPU-ms"));
    }

    #[test]
    fn the_median_of_repeats_takes_each_figure_s_middle_value() {
        let one = report(1, 1_000, &[[1_000, 0, 0, 0, 0, 0, 0]]);
        // Three repeats: idle 100, 300, 200; lock spin 50, 10, 30.
        let two = |idle: u64, spin: u64| {
            let mut r = report(
                2,
                600 + (idle + spin) / 2,
                &[[600, 0, spin / 2, 0, 0, idle / 2, 0], [600, 0, spin / 2, 0, 0, idle / 2, 0]],
            );
            r.set_counter(Phase::Work, site::wait_cycles.at(SchedLockSite::Yield), spin);
            r
        };
        let losses: Vec<ScalingLoss> = [(100, 50), (300, 10), (200, 30)]
            .iter()
            .map(|(i, s)| scaling_loss(&one, &two(*i, *s), 2, 1).unwrap())
            .collect();
        let m = median(&losses).unwrap();
        let get = |n: &str| m.causes.iter().find(|c| c.name.starts_with(n)).unwrap().cycles;
        assert_eq!((get("idle"), get("locks")), (200, 30));
        assert_eq!(m.part(LOCKS, "scheduler_lock yield"), 30);
        // Lost: 350 (200 + 150), 510, 430 -> 430; causes 200 + 30 + 200 (user).
        assert_eq!(m.lost, 430);
        assert_eq!(m.remainder, 0);
        assert_eq!(median(&[]), None);
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
        assert_eq!((get("locks"), get("kernel"), get("unexplained")), (300, 200, 0));
        assert_eq!(l.remainder, 0);
    }
}
