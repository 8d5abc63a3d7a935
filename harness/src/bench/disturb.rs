//! Host disturbance: how much CPU *other* processes took while a run was
//! in its window.
//!
//! Busy time of the CPUs considered comes from `/proc/stat` (all CPUs, or
//! the pinned set's `cpuN` lines). Our own share is the CPU time of this
//! harness plus its reaped children (`getrusage(RUSAGE_SELF/CHILDREN)`:
//! that covers QEMU, a `perf` wrapper and the baseline's forked workers,
//! which `/proc/<pid>/stat` of one live process would miss at exit).
//! `other_cpu_pct` is (busy - ours) as a percentage of the window's capacity.

use anyhow::{bail, Context, Result};

/// Jiffies of a set of CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

/// Sums the `cpu` line (all CPUs) or the `cpuN` lines of `cpus`.
pub fn parse_proc_stat(text: &str, cpus: Option<&[u32]>) -> Result<CpuTimes> {
    let mut t = CpuTimes::default();
    let mut found = 0;
    for line in text.lines() {
        let mut it = line.split_ascii_whitespace();
        let Some(name) = it.next() else { continue };
        let wanted = match (name.strip_prefix("cpu"), cpus) {
            (Some(""), None) => true,
            (Some(n), Some(set)) if !n.is_empty() => {
                n.parse::<u32>().is_ok_and(|n| set.contains(&n))
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        // user nice system idle iowait irq softirq steal (guest* are inside user).
        let v: Vec<u64> = it.take(8).map(|x| x.parse().unwrap_or(0)).collect();
        if v.len() < 4 {
            bail!("short /proc/stat line `{line}`");
        }
        let idle = v[3] + v.get(4).copied().unwrap_or(0);
        let all: u64 = v.iter().sum();
        t.total += all;
        t.busy += all - idle;
        found += 1;
    }
    if found == 0 {
        bail!("/proc/stat has none of the CPUs asked for");
    }
    Ok(t)
}

/// utime + stime (clock ticks) from `/proc/<pid>/stat`: for sampling a live
/// QEMU (e.g. per phase); whole runs use rusage, which survives the exit.
#[allow(dead_code)]
pub fn parse_pid_stat(text: &str) -> Result<u64> {
    // The command name is in parentheses and may hold spaces or ')'.
    let after = &text[text.rfind(')').context("no `)` in /proc/<pid>/stat")? + 1..];
    let f: Vec<&str> = after.split_ascii_whitespace().collect();
    // After the name: state(0) ppid ... utime is field 14 overall -> index 11 here.
    let num =
        |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).context("short /proc/<pid>/stat");
    Ok(num(11)? + num(12)?)
}

/// Percentage of the window's CPU capacity used by others.
pub fn other_cpu_pct(before: CpuTimes, after: CpuTimes, ours_jiffies: f64) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    let busy = after.busy.saturating_sub(before.busy) as f64;
    ((busy - ours_jiffies).max(0.0) / total as f64 * 100.0).min(100.0)
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU seconds of this process plus its reaped children.
fn own_cpu_secs() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: rusage is plain data; all-zero is valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a writable rusage for the call's duration.
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            for tv in [ru.ru_utime, ru.ru_stime] {
                total += tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            }
        }
    }
    total
}

/// A window being observed.
pub struct Probe {
    cpus: Option<Vec<u32>>,
    before: CpuTimes,
    own_before: f64,
}

impl Probe {
    /// Starts a window over `cpus` (None: all CPUs).
    pub fn start(cpus: Option<Vec<u32>>) -> Result<Probe> {
        let before = read_proc_stat(cpus.as_deref())?;
        Ok(Probe { cpus, before, own_before: own_cpu_secs() })
    }

    /// Ends the window (after the measured process was reaped).
    pub fn finish(self) -> Result<f64> {
        let after = read_proc_stat(self.cpus.as_deref())?;
        let ours = (own_cpu_secs() - self.own_before) * clk_tck();
        Ok(other_cpu_pct(self.before, after, ours))
    }
}

fn read_proc_stat(cpus: Option<&[u32]>) -> Result<CpuTimes> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?, cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str =
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 60 0 30 400 10 0 0 0 0 0\ncpu1 40 0 20 400 40 0 0 0 0 0\nintr 1 2\n";

    #[test]
    fn proc_stat_sums() {
        assert_eq!(parse_proc_stat(STAT, None).unwrap(), CpuTimes { busy: 150, total: 1000 });
        assert_eq!(parse_proc_stat(STAT, Some(&[1])).unwrap(), CpuTimes { busy: 60, total: 500 });
        assert!(parse_proc_stat(STAT, Some(&[7])).is_err());
    }

    #[test]
    fn pid_stat_with_odd_names() {
        let s = "4242 (qemu) sys (x)) S 1 2 3 4 5 6 7 8 9 10 250 35 0 0 20 0";
        assert_eq!(parse_pid_stat(s).unwrap(), 285);
        assert!(parse_pid_stat("no parens").is_err());
    }

    #[test]
    fn disturbance_arithmetic() {
        let before = CpuTimes { busy: 1000, total: 10_000 };
        let after = CpuTimes { busy: 1000 + 180, total: 10_000 + 200 };
        // We used 150 of the 180 busy jiffies: others took 30 of 200 = 15%.
        assert!((other_cpu_pct(before, after, 150.0) - 15.0).abs() < 1e-9);
        // Accounting noise never goes negative.
        assert_eq!(other_cpu_pct(before, after, 500.0), 0.0);
        assert_eq!(other_cpu_pct(before, before, 0.0), 0.0);
    }

    #[test]
    fn a_live_probe_works_here() {
        let p = Probe::start(None).unwrap();
        let pct = p.finish().unwrap();
        assert!((0.0..=100.0).contains(&pct));
    }
}
