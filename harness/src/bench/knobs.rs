//! Every benchmark environment knob, read in one place (documented in
//! docs/benchmarks.md). Thread-scale knobs start `CAPOS_THREAD_SCALE_`,
//! process-scale ones `CAPOS_SMP_SCALE_`, ipc-scale ones
//! `CAPOS_IPC_SCALE_`; `CAPOS_BENCH_` ones apply to all.
//! The Linux baselines read the same knobs so both OSes run the same workload.

use anyhow::{bail, Result};

use super::sched_policy::{self, SchedPolicy};
use super::Benchmark;

#[derive(Clone, Debug, PartialEq)]
pub struct Knobs {
    /// `_RUNS`: complete repetitions per case (default 5).
    pub runs: u32,
    /// `_GUEST_MEASURE`: build the capOS guest with the `measure` feature.
    pub guest_measure: bool,
    /// `_OVERHEAD_RUNS`: rounds of `bench-capos`'s overhead pass (unset:
    /// 5 with `_GUEST_MEASURE=1`, else off; 0: off).
    pub overhead_runs: Option<u32>,
    /// `CAPOS_THREAD_SCALE_TOTAL_BLOCKS`: input size in 64-byte blocks.
    pub total_blocks: Option<u64>,
    /// `CAPOS_THREAD_SCALE_WORK_ROUNDS`: mixing rounds per block.
    pub work_rounds: Option<u32>,
    /// `CAPOS_SMP_SCALE_RANGE=lo..hi`: prime-counting range.
    pub range: Option<(u32, u32)>,
    /// `CAPOS_IPC_SCALE_CALLS`: calls per client.
    pub calls: Option<u32>,
    /// `_INCLUDE_SMT`: add the 8-worker SMT diagnostic case (needs 8 host CPUs).
    pub include_smt: bool,
    /// `_REQUIRE_SPEEDUP`: fail unless KVM evidence shows the 1->2 work speedup.
    pub require_speedup: bool,
    /// `_SPEEDUP_THRESHOLD` (default 1.6).
    pub speedup_threshold: f64,
    /// `_REQUIRE_TOTAL_SPEEDUP`: the same for `total` (thread-scale only).
    pub require_total_speedup: bool,
    /// `_TOTAL_SPEEDUP_THRESHOLD` (default 1.6).
    pub total_speedup_threshold: f64,
    /// `_REQUIRE_SPEEDUP_1TO4` / `_REQUIRE_TOTAL_SPEEDUP_1TO4`: enforce the
    /// 1->4 gates (off by default; never under TCG, where they are "not
    /// collected").
    pub require_speedup_1to4: bool,
    pub require_total_speedup_1to4: bool,
    /// `_SPEEDUP_THRESHOLD_1TO4` / `_TOTAL_SPEEDUP_THRESHOLD_1TO4` (default 3.2).
    pub speedup_threshold_1to4: f64,
    pub total_speedup_threshold_1to4: f64,
    /// `_SUPPRESS_SWITCH_LOGS`: ask the capOS guest not to log thread switches.
    pub suppress_switch_logs: bool,
    /// `_PROFILE`: `perf record` the QEMU (capOS and Linux guest rows) or
    /// native baseline process of every timed run, with perf.data,
    /// perf.script, perf.report.txt, profile-command.txt and qemu.status in
    /// its run directory (`bench::profile`); off, with a note saying why,
    /// when `perf record` does not work here.
    pub profile: bool,
    /// `CAPOS_BENCH_DISTURB_PCT`: other processes' share of host CPU above
    /// which a run counts as disturbed (default 10).
    pub disturb_pct: f64,
    /// `CAPOS_BENCH_DISTURB_RETRIES`: retries of a disturbed run (default 2).
    pub disturb_retries: u32,
    /// `CAPOS_SCHED_POLICY`: the capOS run-queue policies, each its own rows
    /// (default `percpu`).
    pub sched_policies: Vec<SchedPolicy>,
    /// `CAPOS_BENCH_CPUS`: host CPUs to pin to (`0-3`, `0,2`), as `--cpus`
    /// (which wins when both are given).
    pub host_cpus: Option<String>,
}

/// The seed's names of two knobs, read as the `CAPOS_` ones (an error when
/// both are set and differ): `LINUX_THREAD_SCALE_TOTAL_BLOCKS` and
/// `LINUX_SMP_SCALE_INCLUDE_SMT`.
const SEED_ALIASES: [(&str, &str); 2] = [
    ("CAPOS_THREAD_SCALE_TOTAL_BLOCKS", "LINUX_THREAD_SCALE_TOTAL_BLOCKS"),
    ("CAPOS_SMP_SCALE_INCLUDE_SMT", "LINUX_SMP_SCALE_INCLUDE_SMT"),
];

/// `name`'s value through `get`, or its seed alias's.
fn with_alias(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<String>> {
    let ours = get(name);
    let Some((_, alias)) = SEED_ALIASES.iter().find(|(n, _)| *n == name) else {
        return Ok(ours);
    };
    match (ours, get(alias)) {
        (Some(a), Some(b)) if a.trim() != b.trim() => {
            bail!("{name}={a} and {alias}={b} disagree (they are one knob)")
        }
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

pub fn prefix(bench: Benchmark) -> &'static str {
    match bench {
        Benchmark::ThreadScale => "CAPOS_THREAD_SCALE_",
        Benchmark::ProcessScale => "CAPOS_SMP_SCALE_",
        Benchmark::IpcScale => "CAPOS_IPC_SCALE_",
    }
}

fn flag(name: &str, v: Option<String>) -> Result<bool> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("0") | Some("false") | Some("no") => Ok(false),
        Some("1") | Some("true") | Some("yes") => Ok(true),
        Some(other) => bail!("{name}={other}: expected 1/0, true/false or yes/no"),
    }
}

fn number<T: std::str::FromStr>(name: &str, v: Option<String>, default: T) -> Result<T> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => s.parse().map_err(|_| anyhow::anyhow!("{name}={s}: not a valid number")),
    }
}

impl Knobs {
    pub fn from_env(bench: Benchmark) -> Result<Knobs> {
        Knobs::from_lookup(bench, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(bench: Benchmark, get: impl Fn(&str) -> Option<String>) -> Result<Knobs> {
        let p = prefix(bench);
        let k = |suffix: &str| format!("{p}{suffix}");
        for (name, _) in SEED_ALIASES {
            with_alias(&get, name)?;
        }
        let v = |suffix: &str| with_alias(&get, &k(suffix)).ok().flatten();
        let runs: u32 = number(&k("RUNS"), v("RUNS"), 5)?;
        if runs == 0 {
            bail!("{}=0: at least one run is needed", k("RUNS"));
        }
        let overhead_runs = match v("OVERHEAD_RUNS") {
            None => None,
            s if s.as_deref().map(str::trim) == Some("") => None,
            s => Some(number(&k("OVERHEAD_RUNS"), s, 0u32)?),
        };
        let total_blocks = match bench {
            Benchmark::ThreadScale => match v("TOTAL_BLOCKS") {
                None => None,
                s => Some(number(&k("TOTAL_BLOCKS"), s, 0u64)?).filter(|&b| b > 0),
            },
            _ => None,
        };
        let work_rounds = match bench {
            Benchmark::ThreadScale => match v("WORK_ROUNDS") {
                None => None,
                s => Some(number(&k("WORK_ROUNDS"), s, 0u32)?).filter(|&r| r > 0),
            },
            _ => None,
        };
        let calls = match bench {
            Benchmark::IpcScale => match v("CALLS") {
                None => None,
                s => Some(number(&k("CALLS"), s, 0u32)?).filter(|&c| c > 0),
            },
            _ => None,
        };
        let range = match (bench, v("RANGE")) {
            (Benchmark::ProcessScale, Some(s)) => {
                let parsed = s
                    .split_once("..")
                    .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
                match parsed {
                    Some((lo, hi)) if lo < hi => Some((lo, hi)),
                    _ => bail!("{}={s}: expected lo..hi with lo < hi <= 4294967295", k("RANGE")),
                }
            }
            _ => None,
        };
        let disturb_pct: f64 =
            number("CAPOS_BENCH_DISTURB_PCT", get("CAPOS_BENCH_DISTURB_PCT"), 10.0)?;
        if !(0.0..=100.0).contains(&disturb_pct) {
            bail!("CAPOS_BENCH_DISTURB_PCT={disturb_pct}: expected 0 to 100");
        }
        Ok(Knobs {
            runs,
            guest_measure: flag(&k("GUEST_MEASURE"), v("GUEST_MEASURE"))?,
            overhead_runs,
            total_blocks,
            work_rounds,
            range,
            calls,
            include_smt: flag(&k("INCLUDE_SMT"), v("INCLUDE_SMT"))?,
            require_speedup: flag(&k("REQUIRE_SPEEDUP"), v("REQUIRE_SPEEDUP"))?,
            speedup_threshold: number(&k("SPEEDUP_THRESHOLD"), v("SPEEDUP_THRESHOLD"), 1.6)?,
            require_total_speedup: flag(&k("REQUIRE_TOTAL_SPEEDUP"), v("REQUIRE_TOTAL_SPEEDUP"))?,
            total_speedup_threshold: number(
                &k("TOTAL_SPEEDUP_THRESHOLD"),
                v("TOTAL_SPEEDUP_THRESHOLD"),
                1.6,
            )?,
            require_speedup_1to4: flag(&k("REQUIRE_SPEEDUP_1TO4"), v("REQUIRE_SPEEDUP_1TO4"))?,
            require_total_speedup_1to4: flag(
                &k("REQUIRE_TOTAL_SPEEDUP_1TO4"),
                v("REQUIRE_TOTAL_SPEEDUP_1TO4"),
            )?,
            speedup_threshold_1to4: number(
                &k("SPEEDUP_THRESHOLD_1TO4"),
                v("SPEEDUP_THRESHOLD_1TO4"),
                3.2,
            )?,
            total_speedup_threshold_1to4: number(
                &k("TOTAL_SPEEDUP_THRESHOLD_1TO4"),
                v("TOTAL_SPEEDUP_THRESHOLD_1TO4"),
                3.2,
            )?,
            suppress_switch_logs: flag(&k("SUPPRESS_SWITCH_LOGS"), v("SUPPRESS_SWITCH_LOGS"))?,
            profile: flag(&k("PROFILE"), v("PROFILE"))?,
            disturb_pct,
            disturb_retries: number(
                "CAPOS_BENCH_DISTURB_RETRIES",
                get("CAPOS_BENCH_DISTURB_RETRIES"),
                2,
            )?,
            sched_policies: sched_policy::parse_list(
                get(sched_policy::ENV).as_deref().unwrap_or(""),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", sched_policy::ENV))?,
            host_cpus: get("CAPOS_BENCH_CPUS").filter(|s| !s.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn knobs(bench: Benchmark, pairs: &[(&str, &str)]) -> Result<Knobs> {
        let m: HashMap<String, String> =
            pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Knobs::from_lookup(bench, |k| m.get(k).cloned())
    }

    #[test]
    fn the_seed_names_of_two_knobs_are_honoured_and_pinning_is_a_knob() {
        let t =
            knobs(Benchmark::ThreadScale, &[("LINUX_THREAD_SCALE_TOTAL_BLOCKS", "4096")]).unwrap();
        assert_eq!(t.total_blocks, Some(4096));
        let both = [
            ("LINUX_THREAD_SCALE_TOTAL_BLOCKS", "4096"),
            ("CAPOS_THREAD_SCALE_TOTAL_BLOCKS", "8192"),
        ];
        let e = knobs(Benchmark::ThreadScale, &both).unwrap_err().to_string();
        assert!(e.contains("disagree"), "{e}");
        let same = [
            ("LINUX_THREAD_SCALE_TOTAL_BLOCKS", "4096"),
            ("CAPOS_THREAD_SCALE_TOTAL_BLOCKS", "4096"),
        ];
        assert_eq!(knobs(Benchmark::ThreadScale, &same).unwrap().total_blocks, Some(4096));
        let p = knobs(Benchmark::ProcessScale, &[("LINUX_SMP_SCALE_INCLUDE_SMT", "1")]).unwrap();
        assert!(p.include_smt);
        let pin = knobs(Benchmark::ThreadScale, &[("CAPOS_BENCH_CPUS", "0-3")]).unwrap();
        assert_eq!(pin.host_cpus.as_deref(), Some("0-3"));
        assert_eq!(knobs(Benchmark::ThreadScale, &[]).unwrap().host_cpus, None);
    }

    #[test]
    fn ipc_scale_knobs() {
        let k = knobs(
            Benchmark::IpcScale,
            &[
                ("CAPOS_IPC_SCALE_RUNS", "2"),
                ("CAPOS_IPC_SCALE_CALLS", "300"),
                ("CAPOS_IPC_SCALE_GUEST_MEASURE", "1"),
            ],
        )
        .unwrap();
        assert_eq!((k.runs, k.calls, k.guest_measure), (2, Some(300), true));
        assert_eq!(knobs(Benchmark::IpcScale, &[]).unwrap().calls, None);
        let e = knobs(Benchmark::IpcScale, &[("CAPOS_IPC_SCALE_CALLS", "many")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CAPOS_IPC_SCALE_CALLS=many"), "{e}");
        // Other benchmarks neither read it nor take ipc-scale's prefix.
        let t = knobs(Benchmark::ThreadScale, &[("CAPOS_IPC_SCALE_CALLS", "300")]).unwrap();
        assert_eq!(t.calls, None);
        let t = knobs(Benchmark::ThreadScale, &[("CAPOS_IPC_SCALE_RUNS", "2")]).unwrap();
        assert_eq!(t.runs, 5);
    }

    #[test]
    fn defaults() {
        let k = knobs(Benchmark::ThreadScale, &[]).unwrap();
        assert_eq!((k.runs, k.speedup_threshold, k.total_speedup_threshold), (5, 1.6, 1.6));
        assert!(!k.require_speedup && !k.include_smt && !k.profile && k.total_blocks.is_none());
        assert_eq!((k.disturb_pct, k.disturb_retries), (10.0, 2));
        assert_eq!(k.overhead_runs, None);
        assert_eq!(k.sched_policies, [SchedPolicy::PerCpu]);
    }

    #[test]
    fn values_and_errors() {
        let k = knobs(
            Benchmark::ThreadScale,
            &[
                ("CAPOS_THREAD_SCALE_RUNS", "3"),
                ("CAPOS_THREAD_SCALE_TOTAL_BLOCKS", "1048576"),
                ("CAPOS_THREAD_SCALE_WORK_ROUNDS", "512"),
                ("CAPOS_THREAD_SCALE_REQUIRE_TOTAL_SPEEDUP", "1"),
                ("CAPOS_THREAD_SCALE_TOTAL_SPEEDUP_THRESHOLD", "1.3"),
                ("CAPOS_SMP_SCALE_RUNS", "9"),
            ],
        )
        .unwrap();
        assert_eq!((k.runs, k.total_blocks, k.require_total_speedup), (3, Some(1_048_576), true));
        assert_eq!(k.work_rounds, Some(512));
        assert!(
            knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_WORK_ROUNDS", "many")]).is_err()
        );
        assert_eq!(k.total_speedup_threshold, 1.3);
        let k = knobs(
            Benchmark::ProcessScale,
            &[("CAPOS_SMP_SCALE_RUNS", "9"), ("CAPOS_SMP_SCALE_RANGE", "10..20")],
        )
        .unwrap();
        assert_eq!((k.runs, k.range), (9, Some((10, 20))));
        let e = knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_RUNS", "x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CAPOS_THREAD_SCALE_RUNS=x"), "{e}");
        assert!(knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_RUNS", "0")]).is_err());
        let k = knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_OVERHEAD_RUNS", "7")]);
        assert_eq!(k.unwrap().overhead_runs, Some(7));
        let e = knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_OVERHEAD_RUNS", "lots")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CAPOS_THREAD_SCALE_OVERHEAD_RUNS=lots"), "{e}");
        assert!(knobs(Benchmark::ThreadScale, &[("CAPOS_THREAD_SCALE_PROFILE", "maybe")]).is_err());
        assert!(knobs(Benchmark::ProcessScale, &[("CAPOS_SMP_SCALE_RANGE", "20..10")]).is_err());
        assert!(knobs(Benchmark::ProcessScale, &[("CAPOS_BENCH_DISTURB_PCT", "120")]).is_err());
        let k = knobs(Benchmark::ProcessScale, &[("CAPOS_SCHED_POLICY", "percpu,global")]);
        assert_eq!(k.unwrap().sched_policies, [SchedPolicy::PerCpu, SchedPolicy::Global]);
        let e = knobs(Benchmark::ThreadScale, &[("CAPOS_SCHED_POLICY", "rr")]).unwrap_err();
        assert!(e.to_string().contains("CAPOS_SCHED_POLICY"), "{e}");
    }
}
