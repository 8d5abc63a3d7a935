//! What to run: from argv, or from `capos.bench=` on the kernel command line.

use std::fmt;

use capos_workloads::{ipc_scale, process_scale, thread_scale};

pub const USAGE: &str =
    "usage: capos-linux-baseline thread-scale --threads N [--blocks B] [--rounds R] [--runs K]\n       \
                         capos-linux-baseline process-scale --workers N [--lo L] [--hi H] [--runs K]\n       \
                         capos-linux-baseline ipc-scale --pairs N [--calls C] [--runs K]";

/// Kernel command-line key: `capos.bench=<case>[,key=value...][;<case>...]`.
pub const CMDLINE_KEY: &str = "capos.bench=";

#[allow(clippy::enum_variant_names)] // the variants are the benchmarks' own names
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    ThreadScale { threads: u32, blocks: u64, rounds: u32 },
    ProcessScale { workers: u32, lo: u32, hi: u32 },
    IpcScale { pairs: u32, calls: u32 },
}

impl fmt::Display for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bench::ThreadScale { threads, blocks, rounds } => {
                write!(f, "thread-scale threads={threads} blocks={blocks} rounds={rounds}")
            }
            Bench::ProcessScale { workers, lo, hi } => {
                write!(f, "process-scale workers={workers} range={lo}..{hi}")
            }
            Bench::IpcScale { pairs, calls } => write!(f, "ipc-scale pairs={pairs} calls={calls}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub bench: Bench,
    pub runs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    NoBenchmark,
    UnknownBenchmark(String),
    UnknownOption(String),
    MissingValue(String),
    BadValue(String, String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::NoBenchmark => {
                write!(f, "no benchmark named (thread-scale, process-scale or ipc-scale)")
            }
            SpecError::UnknownBenchmark(b) => write!(f, "unknown benchmark `{b}`"),
            SpecError::UnknownOption(o) => write!(f, "unknown option `{o}`"),
            SpecError::MissingValue(o) => write!(f, "option `{o}` needs a value"),
            SpecError::BadValue(o, v) => write!(f, "option `{o}`: `{v}` is not a valid value"),
        }
    }
}

fn num<T: std::str::FromStr + PartialOrd + From<u8>>(
    key: &str,
    v: &str,
    min: u8,
) -> Result<T, SpecError> {
    match v.parse::<T>() {
        Ok(n) if n >= T::from(min) => Ok(n),
        _ => Err(SpecError::BadValue(key.to_string(), v.to_string())),
    }
}

impl Spec {
    /// `<bench> [--key value | --key=value]...`
    pub fn from_args(args: &[String]) -> Result<Spec, SpecError> {
        let (name, rest) = args.split_first().ok_or(SpecError::NoBenchmark)?;
        let mut pairs = Vec::new();
        let mut it = rest.iter();
        while let Some(a) = it.next() {
            let opt = a.strip_prefix("--").ok_or_else(|| SpecError::UnknownOption(a.clone()))?;
            match opt.split_once('=') {
                Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                None => {
                    let v = it.next().ok_or_else(|| SpecError::MissingValue(a.clone()))?;
                    pairs.push((opt.to_string(), v.clone()));
                }
            }
        }
        Spec::build(name, &pairs)
    }

    fn build(name: &str, pairs: &[(String, String)]) -> Result<Spec, SpecError> {
        let mut runs = 1u32;
        let mut bench = match name {
            "thread-scale" => Bench::ThreadScale {
                threads: 1,
                blocks: thread_scale::DEFAULT_TOTAL_BLOCKS,
                rounds: thread_scale::DEFAULT_WORK_ROUNDS,
            },
            "process-scale" => Bench::ProcessScale {
                workers: 1,
                lo: process_scale::DEFAULT_LO,
                hi: process_scale::DEFAULT_HI,
            },
            "ipc-scale" => Bench::IpcScale { pairs: 1, calls: ipc_scale::DEFAULT_CALLS },
            other => return Err(SpecError::UnknownBenchmark(other.to_string())),
        };
        for (k, v) in pairs {
            match (&mut bench, k.as_str()) {
                (_, "runs") => runs = num(k, v, 1)?,
                (Bench::ThreadScale { threads, .. }, "threads") => *threads = num(k, v, 1)?,
                (Bench::ThreadScale { blocks, .. }, "blocks") => *blocks = num(k, v, 1)?,
                (Bench::ThreadScale { rounds, .. }, "rounds") => *rounds = num(k, v, 0)?,
                (Bench::ProcessScale { workers, .. }, "workers") => *workers = num(k, v, 1)?,
                (Bench::ProcessScale { lo, .. }, "lo") => *lo = num(k, v, 0)?,
                (Bench::ProcessScale { hi, .. }, "hi") => *hi = num(k, v, 0)?,
                (Bench::IpcScale { pairs, .. }, "pairs") => *pairs = num(k, v, 1)?,
                (Bench::IpcScale { calls, .. }, "calls") => *calls = num(k, v, 1)?,
                _ => return Err(SpecError::UnknownOption(format!("--{k}"))),
            }
        }
        if let Bench::ProcessScale { lo, hi, .. } = bench {
            if lo > hi {
                return Err(SpecError::BadValue("lo".into(), format!("{lo} > hi {hi}")));
            }
        }
        Ok(Spec { bench, runs })
    }

    /// The specs in `capos.bench=` of `cmdline`; `None` when the key is absent.
    pub fn from_cmdline(cmdline: &str) -> Option<Result<Vec<Spec>, SpecError>> {
        let value = cmdline.split_ascii_whitespace().find_map(|w| w.strip_prefix(CMDLINE_KEY))?;
        Some(
            value
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|case| {
                    let mut items = case.split(',');
                    let name = items.next().unwrap_or_default();
                    let pairs = items
                        .map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .ok_or_else(|| SpecError::MissingValue(kv.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    Spec::build(name, &pairs)
                })
                .collect(),
        )
    }

    /// What `/init` runs without `capos.bench=`: both benchmarks on all CPUs.
    pub fn defaults(cpus: u32) -> Vec<Spec> {
        let n = cpus.max(1);
        [format!("thread-scale,threads={n}"), format!("process-scale,workers={n}")]
            .iter()
            .filter_map(|c| Spec::from_cmdline(&format!("{CMDLINE_KEY}{c}")).and_then(Result::ok))
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn argv_forms() {
        let s =
            Spec::from_args(&args("thread-scale --threads 4 --blocks=1024 --rounds 2 --runs 3"))
                .unwrap();
        assert_eq!(
            s,
            Spec { bench: Bench::ThreadScale { threads: 4, blocks: 1024, rounds: 2 }, runs: 3 }
        );
        let s = Spec::from_args(&args("process-scale --workers 2")).unwrap();
        assert_eq!(
            s.bench,
            Bench::ProcessScale {
                workers: 2,
                lo: process_scale::DEFAULT_LO,
                hi: process_scale::DEFAULT_HI
            }
        );
        assert_eq!(Spec::from_args(&[]), Err(SpecError::NoBenchmark));
        assert!(matches!(Spec::from_args(&args("fft")), Err(SpecError::UnknownBenchmark(_))));
        assert!(matches!(
            Spec::from_args(&args("thread-scale --workers 2")),
            Err(SpecError::UnknownOption(_))
        ));
        assert!(matches!(
            Spec::from_args(&args("thread-scale --threads")),
            Err(SpecError::MissingValue(_))
        ));
        assert!(matches!(
            Spec::from_args(&args("thread-scale --threads 0")),
            Err(SpecError::BadValue(..))
        ));
        let s = Spec::from_args(&args("ipc-scale --pairs 4 --calls=50 --runs 2")).unwrap();
        assert_eq!(s, Spec { bench: Bench::IpcScale { pairs: 4, calls: 50 }, runs: 2 });
        assert!(matches!(
            Spec::from_args(&args("ipc-scale --pairs 0")),
            Err(SpecError::BadValue(..))
        ));
        assert!(matches!(
            Spec::from_args(&args("ipc-scale --workers 2")),
            Err(SpecError::UnknownOption(_))
        ));
        assert!(matches!(
            Spec::from_args(&args("process-scale --lo 9 --hi 3")),
            Err(SpecError::BadValue(..))
        ));
    }

    #[test]
    fn kernel_cmdline_forms() {
        let c = "console=ttyS0 quiet capos.bench=thread-scale,threads=2,runs=2;process-scale,workers=4,hi=1000 x=1";
        let specs = Spec::from_cmdline(c).unwrap().unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].runs, 2);
        assert_eq!(specs[1].bench, Bench::ProcessScale { workers: 4, lo: 0, hi: 1000 });
        assert!(Spec::from_cmdline("console=ttyS0").is_none());
        assert!(Spec::from_cmdline("capos.bench=thread-scale,threads").unwrap().is_err());
        assert_eq!(Spec::defaults(2).len(), 2);
    }
}
