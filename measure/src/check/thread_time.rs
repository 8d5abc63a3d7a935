//! Identities of the per-thread time by state (`thread_time` lines).

use super::identities::Ctx;
use super::Row;
use crate::cpu_time::CpuState as S;
use crate::phase::Phase;
use crate::thread_time::ThreadState;

impl Ctx<'_> {
    /// Per thread: its states add up to at most the phase's length (less
    /// when it was created or exited inside the phase; it is never in two
    /// states at once). Over all threads: a CPU runs one accounted thread
    /// or its idle thread at every instant (switch-out and switch-in share
    /// one TSC), so the threads' `running` lies between the CPUs' user +
    /// kernel + lock_spin time and their non-idle time; give or take 1% of
    /// the phase per CPU, as `cpu_time_sum` (a thread's stretch that began
    /// before its first change, boot threads', is not accounted).
    pub(super) fn thread_time(&self, rows: &mut Vec<Row>) {
        if self.r.thread_time.is_empty() {
            return; // a log from before the accounting
        }
        for phase in [Phase::SpawnReady, Phase::Work, Phase::Shutdown] {
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
            let low = cpu(&[S::User, S::Kernel, S::LockSpin]);
            let high = cpu(&[S::User, S::Kernel, S::LockSpin, S::Irq, S::Shootdown, S::Measure]);
            let tol = length / 100 * self.cpus;
            rows.push(Row::new(
                "thread_time_running",
                Some(phase),
                "running (all threads) within [user + kernel + lock_spin, non-idle] (all CPUs)",
                low,
                running,
                (tol, high - low + tol),
            ));
        }
    }
}
