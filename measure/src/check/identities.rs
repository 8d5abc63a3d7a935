//! The identities themselves: one method of [`Ctx`] each, appending its
//! rows (see the module above for the tolerances' two sources).

use std::collections::BTreeMap;

use super::{CheckConfig, Row, Verdict};
use crate::catalogue::{
    kernel_pc_samples as kps, scheduler as sched, scheduler_lock as sl,
    scheduler_lock_site as site, shared_kernel_lock as sk, timer, user_pc_samples as ups,
    SchedLockSite, SharedLock,
};
use crate::declare::{Counter, Hist, Kind};
use crate::phase::Phase;
use crate::record::{ContentionClass, Mode};
use crate::report::Report;

/// What every identity needs: the report, its CPU count and TSC rate.
pub(super) struct Ctx<'a> {
    pub r: &'a Report,
    pub cpus: u64,
    pub tsc_khz: u64,
    pub cfg: &'a CheckConfig,
}

/// A phase's snapshot boundaries: (at its start, at its end), 0 or 1 each.
fn boundaries(r: &Report, phase: Phase) -> (u64, u64) {
    let first_mark = r.checkpoints.keys().copied().find(|p| *p != Phase::Boot);
    match phase {
        Phase::Boot => (0, 1),
        Phase::Aggregate => (0, 1),
        Phase::FinalTotal => (u64::from(first_mark.is_some_and(|p| p < Phase::FinalTotal)), 1),
        _ => (1, 1),
    }
}

/// The phases `final_total` sums: from the first non-boot mark (boot when
/// there is none) up to the `final_total` mark, those with a checkpoint.
fn final_total_members(r: &Report) -> Option<Vec<Phase>> {
    r.checkpoints.get(&Phase::FinalTotal)?;
    let first = [Phase::SpawnReady, Phase::Work, Phase::Shutdown]
        .into_iter()
        .find(|p| r.checkpoints.contains_key(p))
        .unwrap_or(Phase::Boot);
    Some(
        [Phase::Boot, Phase::SpawnReady, Phase::Work, Phase::Shutdown]
            .into_iter()
            .filter(|p| *p == first || (*p > first && r.checkpoints.contains_key(p)))
            .collect(),
    )
}

fn counter_name(c: Counter) -> String {
    let g = c.group_desc();
    match g.dim.label(c.dim as usize) {
        Some(l) => format!("{}.{} {}={l}", g.name, c.field_desc().name, g.dim.key),
        None => format!("{}.{}", g.name, c.field_desc().name),
    }
}

fn hist_name(h: Hist) -> String {
    let g = h.group_desc();
    match g.dim.label(h.dim as usize) {
        Some(l) => format!("{}_hist kind={} {}={l}", g.name, h.hist_desc().name, g.dim.key),
        None => format!("{}_hist kind={}", g.name, h.hist_desc().name),
    }
}

/// One lock statistics family: `scheduler_lock` or one `shared_kernel_lock`
/// entry, with its contention-stack class and lock indices.
pub(super) struct LockFamily {
    pub(super) name: String,
    pub(super) acquisitions: Counter,
    /// Acquisitions of a lock last released on another CPU.
    pub(super) handoffs: Counter,
    pub(super) contended: Counter,
    pub(super) wait_cycles: Counter,
    pub(super) wait_max: Counter,
    wait_hist: Hist,
    hold_hist: Hist,
    pub(super) class: ContentionClass,
    /// Contention-stack lock indices that belong to this family.
    pub(super) locks: Vec<u8>,
}

pub(super) fn lock_families() -> Vec<LockFamily> {
    let mut out = vec![LockFamily {
        name: "scheduler_lock".into(),
        acquisitions: sl::acquisitions.into(),
        handoffs: sl::handoffs.into(),
        contended: sl::contended.into(),
        wait_cycles: sl::wait_cycles.into(),
        wait_max: sl::wait_max.into(),
        wait_hist: sl::wait.into(),
        hold_hist: sl::hold.into(),
        class: ContentionClass::SchedulerLock,
        locks: (0..SchedLockSite::ALL.len() as u8).collect(),
    }];
    for (i, l) in SharedLock::ALL.iter().enumerate() {
        out.push(LockFamily {
            name: format!("shared_kernel_lock lock={}", l.label()),
            acquisitions: sk::acquisitions.at(*l),
            handoffs: sk::handoffs.at(*l),
            contended: sk::contended.at(*l),
            wait_cycles: sk::wait_cycles.at(*l),
            wait_max: sk::wait_max.at(*l),
            wait_hist: sk::wait.at(*l),
            hold_hist: sk::hold.at(*l),
            class: ContentionClass::SharedKernelLock,
            locks: vec![i as u8],
        });
    }
    out
}

impl Ctx<'_> {
    fn get(&self, phase: Phase, c: impl Into<Counter>) -> u64 {
        self.r.counter(phase, c)
    }

    fn hist_entries(&self, phase: Phase, h: Hist) -> u64 {
        self.r.hists.get(&(phase, h)).map_or(0, |b| b.values().sum())
    }

    /// Events that may straddle this phase's boundaries: one per CPU each.
    pub(super) fn straddle(&self, phase: Phase) -> u64 {
        let (s, e) = boundaries(self.r, phase);
        (s + e) * self.cpus
    }

    /// The tick rate: the report's own (`instrument tick_hz=`), else the
    /// configured one.
    fn tick_hz(&self) -> u32 {
        match self.r.instrument.map_or(0, |i| i.tick_hz) {
            0 => self.cfg.tick_hz,
            hz => u32::try_from(hz).unwrap_or(u32::MAX),
        }
    }

    /// The sample clock's rate, on the same terms (`instrument sample_hz=`).
    fn sample_hz(&self) -> u32 {
        match self.r.instrument.map_or(0, |i| i.sample_hz) {
            0 => self.cfg.sample_hz,
            hz => u32::try_from(hz).unwrap_or(u32::MAX),
        }
    }

    /// `timer.interrupts` = tick rate x CPUs x phase seconds. Checked on the
    /// phases after start-up: during `boot` the application processors
    /// start their timers one by one, and `aggregate` includes `boot`.
    pub(super) fn timer_rate(&self, phase: Phase, rows: &mut Vec<Row>) {
        let subject = "timer.interrupts = tick_hz x cpus x seconds";
        self.clock_rate("timer_rate", subject, self.tick_hz(), timer::interrupts, phase, rows);
    }

    /// `timer.sample_interrupts` = sample rate x CPUs x phase seconds: the
    /// sample clock is a second clock on the same timer, with the same
    /// calibration, the same deadlines a vCPU can miss, and the same
    /// boundaries.
    pub(super) fn sample_rate(&self, phase: Phase, rows: &mut Vec<Row>) {
        let subject = "timer.sample_interrupts = sample_hz x cpus x seconds";
        let c = timer::sample_interrupts;
        self.clock_rate("sample_rate", subject, self.sample_hz(), c, phase, rows);
    }

    /// One clock's interrupts against its rate (see [`Ctx::timer_rate`]).
    fn clock_rate(
        &self,
        identity: &'static str,
        subject: &str,
        hz: u32,
        counter: impl Into<Counter>,
        phase: Phase,
        rows: &mut Vec<Row>,
    ) {
        if matches!(phase, Phase::Boot | Phase::Aggregate) {
            return;
        }
        let Some(&cycles) = self.r.phase_cycles.get(&phase) else {
            return rows.push(Row::skip(identity, Some(phase), subject, "no phase length".into()));
        };
        if self.tsc_khz == 0 {
            let why = "tsc_khz unknown".to_string();
            return rows.push(Row::skip(identity, Some(phase), subject, why));
        }
        let seconds = cycles as f64 / (self.tsc_khz as f64 * 1000.0);
        let exact = f64::from(hz) * self.cpus as f64 * seconds;
        let rate = exact * f64::from(self.cfg.rate_permille) / 1000.0;
        let lost = exact * f64::from(self.cfg.lost_tick_permille) / 1000.0;
        // Each CPU's clock gives floor or ceil of its share in any window:
        // under one interrupt per CPU for the whole phase, plus one per CPU
        // per snapshot boundary for the interrupt in flight while it is read.
        let window = (self.cpus + self.straddle(phase)) as f64;
        let expected = exact.round() as u64;
        let lo = (exact - rate - lost - window).floor().max(0.0) as u64;
        let hi = (exact + rate + window).ceil() as u64;
        let measured = self.get(phase, counter);
        rows.push(Row::new(
            identity,
            Some(phase),
            subject,
            expected,
            measured,
            (expected - lo.min(expected), hi.saturating_sub(expected)),
        ));
    }

    /// Every tick lands in user or kernel mode.
    pub(super) fn timer_split(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        rows.push(Row::new(
            "timer_split",
            Some(phase),
            "timer.user_scheduler + kernel_only",
            self.get(phase, timer::interrupts),
            self.get(phase, timer::user_scheduler) + self.get(phase, timer::kernel_only),
            (t, t),
        ));
    }

    /// Every switch to a thread that is not idle runs a candidate the pick
    /// took from the local queue or stole (`sched::dispatch::schedule`);
    /// a candidate is never retried or dropped.
    pub(super) fn scheduler_choice(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let choices =
            self.get(phase, sched::candidates_local) + self.get(phase, sched::candidates_stolen);
        rows.push(Row::new(
            "scheduler_choice",
            Some(phase),
            "scheduler.candidates_local + stolen",
            self.get(phase, sched::outcome_runnable),
            choices,
            (t, t),
        ));
    }

    /// Every sample-clock interrupt takes one PC sample and one stack
    /// sample (kept or lost to a full table).
    pub(super) fn samples_per_interrupt(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let ticks = self.get(phase, timer::sample_interrupts);
        let pcs = self.get(phase, ups::samples)
            + self.get(phase, ups::overflow)
            + self.get(phase, kps::samples)
            + self.get(phase, kps::overflow);
        rows.push(Row::new(
            "samples_per_interrupt",
            Some(phase),
            "user + kernel pc samples (+ overflow) = timer.sample_interrupts",
            ticks,
            pcs,
            (t, t),
        ));
        let stacks = self.get(phase, ups::stacks)
            + self.get(phase, ups::stack_overflow)
            + self.get(phase, kps::stacks)
            + self.get(phase, kps::stack_overflow);
        rows.push(Row::new(
            "stacks_per_interrupt",
            Some(phase),
            "user + kernel stack samples (+ overflow) = timer.sample_interrupts",
            ticks,
            stacks,
            (t, t),
        ));
    }

    /// Idle samples are sample interrupts that found the idle thread, and
    /// those beside waiting work are idle samples: `work_queued <= idle <=
    /// sample_interrupts`.
    pub(super) fn idle_samples(&self, phase: Phase, rows: &mut Vec<Row>) {
        let ticks = self.get(phase, timer::sample_interrupts);
        let idle = self.get(phase, timer::idle_samples);
        let queued = self.get(phase, timer::idle_samples_work_queued);
        rows.push(Row::new(
            "idle_samples",
            Some(phase),
            "timer.idle_samples <= timer.sample_interrupts",
            ticks,
            idle,
            (ticks, 0),
        ));
        rows.push(Row::new(
            "idle_samples_work_queued",
            Some(phase),
            "timer.idle_samples_work_queued <= timer.idle_samples",
            idle,
            queued,
            (idle, 0),
        ));
    }

    /// Whole run: every stack sample (kept or not) is one entry of its
    /// CPU's time-ordered ring or one `timer.sample_ring_dropped`; every
    /// entry's stack id is defined; each CPU's entries are in time order.
    pub(super) fn timed_samples(&self, rows: &mut Vec<Row>) {
        let all = Phase::Aggregate;
        let stacks = self.get(all, ups::stacks)
            + self.get(all, ups::stack_overflow)
            + self.get(all, kps::stacks)
            + self.get(all, kps::stack_overflow);
        let kept = self.r.timed_samples.len() as u64;
        rows.push(Row::new(
            "timed_samples",
            Some(all),
            "time-ordered samples + timer.sample_ring_dropped = stack samples (+ overflow)",
            stacks,
            kept + self.get(all, timer::sample_ring_dropped),
            (0, 0),
        ));
        let undefined = (self.r.timed_samples.iter())
            .filter(|s| s.stack != 0 && !self.r.stack_defs.contains_key(&s.stack))
            .count() as u64;
        rows.push(Row::new(
            "timed_stack_ids",
            None,
            "time-ordered samples naming no stack_def",
            0,
            undefined,
            (0, 0),
        ));
        let unordered = (self.r.timed_samples.windows(2))
            .filter(|w| w[0].cpu == w[1].cpu && w[1].tsc < w[0].tsc)
            .count() as u64;
        rows.push(Row::new(
            "timed_order",
            None,
            "time-ordered samples earlier than their CPU's previous one",
            0,
            unordered,
            (0, 0),
        ));
    }

    /// CPU time by state: on every CPU, a phase's states add up to the
    /// phase's length within 1% (a state's cycles are split at the mark
    /// TSCs; what is left is the CPU's last stretch before the snapshot, or
    /// a phase the CPU joined late), and every CPU of the run accounted.
    pub(super) fn cpu_time(&self, rows: &mut Vec<Row>) {
        if self.r.cpu_time.is_empty() {
            return; // a log from before the accounting
        }
        for phase in [Phase::SpawnReady, Phase::Work, Phase::Shutdown, Phase::FinalTotal] {
            let Some(&length) = self.r.phase_cycles.get(&phase) else { continue };
            let cpus: Vec<(u8, u64)> = (self.r.cpu_time.iter())
                .filter(|((p, _), _)| *p == phase)
                .map(|((_, cpu), c)| (*cpu, c.iter().fold(0u64, |a, v| a.saturating_add(*v))))
                .collect();
            rows.push(Row::new(
                "cpu_time_cpus",
                Some(phase),
                "CPUs with cpu_time lines = cpus",
                self.cpus,
                cpus.len() as u64,
                (0, 0),
            ));
            self.lock_spin(phase, rows);
            let tol = length / 100;
            for (cpu, sum) in cpus {
                rows.push(Row::new(
                    "cpu_time_sum",
                    Some(phase),
                    format!("cpu {cpu}: states = phase cycles"),
                    length,
                    sum,
                    (tol, tol),
                ));
            }
        }
    }

    /// `lock_spin` over all CPUs = the wait cycles of every measured lock
    /// (scheduler and shared): the same spins, timed by the same TSC reads.
    /// Less when an interrupt landed inside a spin (a `SpinLock` spins
    /// with interrupts on; the handler's time is its own state): at most
    /// the phase's handler time. A spin across a mark is split by the
    /// clock but counted whole by the lock: one longest wait per CPU.
    fn lock_spin(&self, phase: Phase, rows: &mut Vec<Row>) {
        use crate::cpu_time::CpuState as S;
        let states = |which: &[S]| -> u64 {
            (self.r.cpu_time.iter())
                .filter(|((p, _), _)| *p == phase)
                .flat_map(|(_, c)| which.iter().map(|s| c[*s as usize]))
                .fold(0u64, u64::saturating_add)
        };
        let spin = states(&[S::LockSpin]);
        let handlers = states(&[S::Irq, S::Measure, S::Shootdown]);
        let shared_wait: u64 =
            SharedLock::ALL.iter().map(|l| self.get(phase, sk::wait_cycles.at(*l))).sum();
        let wait = self.get(phase, sl::wait_cycles).saturating_add(shared_wait);
        // The longest wait of the whole run: a wait that straddles a mark
        // is counted (by its lock) in the phase whose snapshot saw it, which
        // may be the neighbour of the one the clock gave most of its time.
        let all = Phase::Aggregate;
        let longest = SharedLock::ALL
            .iter()
            .map(|l| self.get(all, sk::wait_max.at(*l)))
            .chain([self.get(all, sl::wait_max)])
            .max()
            .unwrap_or(0);
        let straddle = longest.saturating_mul(self.cpus);
        rows.push(Row::new(
            "cpu_time_lock_spin",
            Some(phase),
            "lock_spin (all CPUs) = scheduler + shared lock wait_cycles",
            wait,
            spin,
            (handlers.saturating_add(straddle), straddle),
        ));
    }

    /// The sample lines add up to the sample counters, over the phases
    /// that span the measured run: `aggregate` (everything) and
    /// `final_total` (the marked window). Not phase by phase: a sample
    /// takes the phase current when it is taken, its counter the phase its
    /// CPU's shard is read in, and a marking vCPU the host stalls between
    /// switching the phase and reading the sample counters lets another
    /// CPU take several samples in between (CI saw `boot` count 44 samples
    /// against 41 lines at SMP 2, tolerance 2). Both windows end at a
    /// snapshot, so one sample per CPU may differ there.
    pub(super) fn sample_lines(&self, phase: Phase, rows: &mut Vec<Row>) {
        if !matches!(phase, Phase::Aggregate | Phase::FinalTotal) {
            return;
        }
        let t = self.straddle(phase);
        for (mode, samples, stacks, name) in [
            (Mode::User, Counter::from(ups::samples), Counter::from(ups::stacks), "user"),
            (Mode::Kernel, kps::samples.into(), kps::stacks.into(), "kernel"),
        ] {
            let pcs: u64 = (self.r.pc_samples.iter())
                .filter(|((p, t, _), _)| *p == phase && t.family() == mode)
                .map(|(_, n)| n)
                .sum();
            rows.push(Row::new(
                "pc_sample_lines",
                Some(phase),
                format!("{name}_pc_sample counts"),
                self.get(phase, samples),
                pcs,
                (t, t),
            ));
            let st: u64 = (self.r.stack_samples.iter())
                .filter(|((p, t, _), _)| *p == phase && t.family() == mode)
                .map(|(_, n)| n)
                .sum();
            rows.push(Row::new(
                "stack_sample_lines",
                Some(phase),
                format!("{name}_stack_sample counts"),
                self.get(phase, stacks),
                st,
                (t, t),
            ));
        }
    }

    /// `scheduler_lock` = the sum over its `scheduler_lock_site` sites.
    pub(super) fn lock_site_sum(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let wait_max = self.get(Phase::Aggregate, sl::wait_max);
        let hold_max = self.get(Phase::Aggregate, sl::hold_max);
        let take_max = wait_max.max(hold_max);
        let pairs: [(Counter, _, u64); 6] = [
            (sl::acquisitions.into(), site::acquisitions, 1),
            (sl::handoffs.into(), site::handoffs, 1),
            (sl::take_cycles.into(), site::take_cycles, take_max),
            (sl::contended.into(), site::contended, 1),
            (sl::wait_cycles.into(), site::wait_cycles, wait_max),
            (sl::hold_cycles.into(), site::hold_cycles, hold_max),
        ];
        for (total, per_site, unit) in pairs {
            let sum: u64 =
                SchedLockSite::ALL.iter().map(|s| self.get(phase, per_site.at(*s))).sum();
            rows.push(Row::new(
                "lock_site_sum",
                Some(phase),
                format!("scheduler_lock_site.{} (all sites)", per_site.desc().name),
                self.get(phase, total),
                sum,
                (t * unit, t * unit),
            ));
        }
    }

    /// Wait histogram entries = contended acquisitions; hold histogram
    /// entries = acquisitions, less holds still in progress at the end,
    /// plus those in progress at the start.
    pub(super) fn lock_hists(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let (s, e) = boundaries(self.r, phase);
        for f in lock_families() {
            let contended = self.get(phase, f.contended);
            let acq = self.get(phase, f.acquisitions);
            let waits = self.hist_entries(phase, f.wait_hist);
            let holds = self.hist_entries(phase, f.hold_hist);
            if contended + acq + waits + holds == 0 {
                continue;
            }
            rows.push(Row::new(
                "hist_wait",
                Some(phase),
                format!("{} contended", f.name),
                contended,
                waits,
                (t, t),
            ));
            let (below, above) = (t + e * self.cpus, t + s * self.cpus);
            rows.push(Row::new(
                "hist_hold",
                Some(phase),
                format!("{} acquisitions", f.name),
                acq,
                holds,
                (below, above),
            ));
        }
    }

    /// Contention stacks' counts and waits add up to the lock counters,
    /// unless the contention table overflowed.
    pub(super) fn contention(&self, phase: Phase, rows: &mut Vec<Row>) {
        let t = self.straddle(phase);
        let overflow = self.get(phase, kps::contention_overflow);
        let mut by: BTreeMap<(u8, u8), (u64, u64)> = BTreeMap::new();
        for ((p, class, lock, _), (n, w)) in &self.r.contention_stacks {
            if *p == phase {
                let e = by.entry((*class, *lock)).or_default();
                e.0 += n;
                e.1 += w;
            }
        }
        let all: u64 = by.values().map(|(n, _)| n).sum();
        rows.push(Row::new(
            "contention_stacks",
            Some(phase),
            "kernel_pc_samples.contention_stacks",
            self.get(phase, kps::contention_stacks),
            all,
            (t, t),
        ));
        for f in lock_families() {
            let (n, w) = f
                .locks
                .iter()
                .filter_map(|l| by.get(&(f.class as u8, *l)))
                .fold((0, 0), |(n, w), (a, b)| (n + a, w + b));
            let contended = self.get(phase, f.contended);
            let wait = self.get(phase, f.wait_cycles);
            if n + w + contended + wait == 0 {
                continue;
            }
            if overflow > 0 {
                let why = format!("{overflow} contention stacks overflowed");
                rows.push(Row::skip("contention_wait", Some(phase), &f.name, why));
                continue;
            }
            let unit = self.get(Phase::Aggregate, f.wait_max);
            rows.push(Row::new(
                "contention_count",
                Some(phase),
                format!("{} contended", f.name),
                contended,
                n,
                (t, t),
            ));
            rows.push(Row::new(
                "contention_wait",
                Some(phase),
                format!("{} wait_cycles", f.name),
                wait,
                w,
                (t * unit, t * unit),
            ));
        }
    }

    /// `final_total` is the sum (for `max` fields the maximum, for
    /// histograms the bucket-wise sum) of the phases it covers. Both sides
    /// come from the same snapshots, so this is exact. `min` fields are not
    /// checked: a phase that saw nothing reports 0, indistinguishable from
    /// a seen 0.
    pub(super) fn final_total(&self, rows: &mut Vec<Row>) {
        let Some(members) = final_total_members(self.r) else { return };
        let ft = Phase::FinalTotal;
        for c in Counter::all() {
            let values = members.iter().map(|p| self.get(*p, c));
            let expected = match c.kind {
                Kind::Sum => values.fold(0u64, u64::wrapping_add),
                Kind::Max => values.max().unwrap_or(0),
                Kind::Min => continue,
            };
            let measured = self.get(ft, c);
            if expected == 0 && measured == 0 {
                continue;
            }
            let id = if c.kind == Kind::Sum { "final_total_sum" } else { "final_total_max" };
            rows.push(Row::new(id, Some(ft), counter_name(c), expected, measured, (0, 0)));
        }
        for h in Hist::all() {
            let mut sum: BTreeMap<u8, u64> = BTreeMap::new();
            for p in &members {
                for (b, n) in self.r.hists.get(&(*p, h)).into_iter().flatten() {
                    *sum.entry(*b).or_default() += n;
                }
            }
            let got = self.r.hists.get(&(ft, h)).cloned().unwrap_or_default();
            if sum.is_empty() && got.is_empty() {
                continue;
            }
            let mut row = Row::new(
                "final_total_hist",
                Some(ft),
                hist_name(h),
                sum.values().sum(),
                got.values().sum(),
                (0, 0),
            );
            if sum != got {
                row.verdict = Verdict::Fail;
            }
            rows.push(row);
        }
    }
}
