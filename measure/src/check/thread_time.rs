//! Identities of the per-thread time by state (`thread_time` lines).

use super::identities::Ctx;
use super::Row;
use crate::catalogue::{scheduler, thread_ops};
use crate::cpu_time::CpuState as S;
use crate::phase::Phase;
use crate::thread_time::ThreadState;

impl Ctx<'_> {
    /// Per thread: its states add up to at most the phase's length (less
    /// when it was created or exited inside the phase; it is never in two
    /// states at once). Over all threads: a CPU runs one accounted thread
    /// or its idle thread at every instant (switch-out, switch-in and the
    /// CPU's state change share one TSC), so the threads' `running` lies
    /// between the CPUs' user + kernel time and their non-idle time; give
    /// or take 1% of the phase per CPU, as `cpu_time_sum` (a thread's
    /// stretch that began before its first change, boot threads', is not
    /// accounted). Lock spin is not in the lower bound: an idle CPU's
    /// select spins on a run-queue lock in its idle thread (seen: 214 500
    /// cycles of a 6.9 M-cycle shutdown phase, while the other CPU stole).
    pub(super) fn thread_time(&self, rows: &mut Vec<Row>) {
        if self.r.thread_time.is_empty() {
            return; // a log from before the accounting
        }
        let refused = self.r.counter(Phase::Aggregate, thread_ops::time_rows_refused);
        for phase in [Phase::SpawnReady, Phase::Work, Phase::Shutdown] {
            if refused > 0 {
                let why = format!("{refused} thread_time pieces refused (table full)");
                rows.push(Row::skip("thread_time_running", Some(phase), "running", why));
                continue;
            }
            let Some(&length) = self.r.phase_cycles.get(&phase) else { continue };
            let threads = self.r.thread_time.values().filter(|t| t.phase == phase);
            let mut running = 0u64;
            for t in threads {
                let sum = t.cycles.iter().fold(0u64, |a, c| a.saturating_add(*c));
                running = running.saturating_add(t.get(ThreadState::Running));
                rows.push(Row::new(
                    "thread_time_sum",
                    Some(phase),
                    format!("thread {:#x}: states <= phase cycles", t.thread),
                    length,
                    sum,
                    (length, 0),
                ));
            }
            let cpu = |which: &[S]| -> u64 {
                (self.r.cpu_time.iter())
                    .filter(|((p, _), _)| *p == phase)
                    .flat_map(|(_, c)| which.iter().map(|s| c[*s as usize]))
                    .fold(0u64, u64::saturating_add)
            };
            if !self.r.cpu_time.keys().any(|(p, _)| *p == phase) {
                continue;
            }
            let low = cpu(&[S::User, S::Kernel]);
            let high = cpu(&[S::User, S::Kernel, S::LockSpin, S::Irq, S::Shootdown, S::Measure]);
            let tol = length / 100 * self.cpus;
            rows.push(Row::new(
                "thread_time_running",
                Some(phase),
                "running (all threads) within [user + kernel, non-idle] (all CPUs)",
                low,
                running,
                (tol, high - low + tol),
            ));
        }
    }

    /// Every switch-in of a thread (not the idle thread) ends a runnable
    /// stretch and counts one run-queue delay on its CPU, in the same
    /// `switch_to` that counts `scheduler.outcome_runnable`: over all CPUs
    /// and kinds the histograms' counts equal it over the measured window
    /// (`spawn_ready` to `shutdown` together), give or take one switch per
    /// CPU at each of its two ends. Inside the window a switch can fall on
    /// either side of a mark: the delay takes the phase current when it is
    /// recorded, the counter the phase its CPU's shard was read in, and a
    /// CPU that switches often while the marking vCPU is stalled between
    /// the two moves several (CI saw 4 and 15 at one mark), so the phases
    /// are not compared one by one.
    pub(super) fn run_delay(&self, rows: &mut Vec<Row>) {
        if self.r.run_delay.is_empty() {
            return; // a log from before the histograms
        }
        let window = [Phase::SpawnReady, Phase::Work, Phase::Shutdown];
        let phases: Vec<Phase> =
            window.into_iter().filter(|p| self.r.phase_cycles.contains_key(p)).collect();
        if phases.is_empty() {
            return;
        }
        let count: u64 = (self.r.run_delay.iter())
            .filter(|((p, _, _), _)| phases.contains(p))
            .flat_map(|(_, (_, b))| b.values())
            .sum();
        let counted: u64 =
            phases.iter().map(|p| self.r.counter(*p, scheduler::outcome_runnable)).sum();
        rows.push(Row::new(
            "run_delay_count",
            None,
            "run_delay counts (all CPUs, kinds) = scheduler.outcome_runnable, spawn_ready..shutdown",
            counted,
            count,
            (2 * self.cpus, 2 * self.cpus),
        ));
    }
}
