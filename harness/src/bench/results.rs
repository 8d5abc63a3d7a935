//! results.csv: one row per accepted run, the same schema for every OS and
//! both benchmarks (cells that do not apply are empty). The reader goes by
//! column name and tolerates missing optional columns (older files).

use std::path::Path;

use anyhow::{bail, Context, Result};
use capos_workloads::line::{IpcScaleLine, ProcessScaleLine, ThreadScaleLine};

use super::{csv, Benchmark};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub benchmark: String,
    pub os: String,
    /// `kvm`, `tcg` or `native`.
    pub accel: String,
    /// Case label, e.g. `smp2-w2` (`smp2-w2-global` under `sched=global`).
    pub case: String,
    /// capOS run-queue policy (`percpu` / `global`); empty for Linux rows.
    pub sched_policy: String,
    pub cpus: u32,
    pub workers: u32,
    pub run: u32,
    /// Attempts used (1 unless disturbed runs were retried).
    pub attempts: u32,
    pub checksum: String,
    pub spawn_ready: Option<u64>,
    /// The timed window (`work` / `elapsed`), guest cycles.
    pub work: u64,
    pub shutdown: Option<u64>,
    pub total: Option<u64>,
    pub work_ns: Option<u64>,
    pub total_ns: Option<u64>,
    pub blocks: Option<u64>,
    pub work_rounds: Option<u32>,
    pub range: String,
    pub primes: Option<u64>,
    /// ipc-scale: calls each client made (all pairs: `workers` x `calls`).
    pub calls: Option<u64>,
    pub parent_wait: String,
    pub bench_class: String,
    pub hot_section_syscalls: Option<u64>,
    pub verified: bool,
    pub accepted: Option<bool>,
    pub disturbed: bool,
    pub other_cpu_pct: Option<f64>,
    /// Host CPUs the run was pinned to (`0,1`), empty when not pinned.
    pub host_cpus: String,
    pub wall_ms: Option<u64>,
    pub serial_log: String,
    pub user_pc_symbol_report: String,
    pub guest_symbol_map: String,
}

pub const COLUMNS: [&str; 34] = [
    "benchmark",
    "os",
    "accel",
    "case",
    "sched_policy",
    "cpus",
    "workers",
    "run",
    "attempts",
    "checksum",
    "spawn_ready",
    "work",
    "elapsed",
    "shutdown",
    "total",
    "work_ns",
    "total_ns",
    "blocks",
    "work_rounds",
    "range",
    "primes",
    "calls",
    "parent_wait",
    "bench_class",
    "hot_section_syscalls",
    "verified",
    "accepted",
    "disturbed",
    "other_cpu_pct",
    "host_cpus",
    "wall_ms",
    "serial_log",
    "user_pc_symbol_report",
    "guest_symbol_map",
];

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl Row {
    pub fn from_thread_line(l: &ThreadScaleLine) -> Row {
        Row {
            benchmark: Benchmark::ThreadScale.name().into(),
            cpus: l.cpus,
            workers: l.threads,
            checksum: format!("0x{:016x}", l.checksum),
            spawn_ready: Some(l.spawn_ready),
            work: l.work,
            shutdown: Some(l.shutdown),
            total: Some(l.total),
            work_ns: l.work_ns,
            total_ns: l.total_ns,
            blocks: Some(l.blocks),
            work_rounds: Some(l.work_rounds),
            parent_wait: l.parent_wait.as_str().into(),
            bench_class: l.bench_class.as_str().into(),
            hot_section_syscalls: l.hot_section_syscalls,
            verified: l.verified,
            accepted: Some(l.accepted),
            ..Row::default()
        }
    }

    pub fn from_process_line(l: &ProcessScaleLine) -> Row {
        Row {
            benchmark: Benchmark::ProcessScale.name().into(),
            cpus: l.cpus,
            workers: l.workers,
            checksum: format!("0x{:016x}", l.checksum),
            work: l.elapsed,
            work_ns: l.elapsed_ns,
            range: format!("{}..{}", l.lo, l.hi),
            primes: Some(l.primes),
            verified: l.verified,
            ..Row::default()
        }
    }

    pub fn from_ipc_line(l: &IpcScaleLine) -> Row {
        Row {
            benchmark: Benchmark::IpcScale.name().into(),
            cpus: l.cpus,
            workers: l.pairs,
            checksum: format!("0x{:016x}", l.checksum),
            spawn_ready: Some(l.spawn_ready),
            work: l.work,
            shutdown: Some(l.shutdown),
            work_ns: l.work_ns,
            calls: Some(u64::from(l.calls)),
            verified: l.verified,
            ..Row::default()
        }
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.benchmark.clone(),
            self.os.clone(),
            self.accel.clone(),
            self.case.clone(),
            self.sched_policy.clone(),
            self.cpus.to_string(),
            self.workers.to_string(),
            self.run.to_string(),
            self.attempts.to_string(),
            self.checksum.clone(),
            opt(&self.spawn_ready),
            self.work.to_string(),
            self.work.to_string(),
            opt(&self.shutdown),
            opt(&self.total),
            opt(&self.work_ns),
            opt(&self.total_ns),
            opt(&self.blocks),
            opt(&self.work_rounds),
            self.range.clone(),
            opt(&self.primes),
            opt(&self.calls),
            self.parent_wait.clone(),
            self.bench_class.clone(),
            opt(&self.hot_section_syscalls),
            self.verified.to_string(),
            opt(&self.accepted),
            self.disturbed.to_string(),
            self.other_cpu_pct.map(|p| format!("{p:.1}")).unwrap_or_default(),
            self.host_cpus.clone(),
            opt(&self.wall_ms),
            self.serial_log.clone(),
            self.user_pc_symbol_report.clone(),
            self.guest_symbol_map.clone(),
        ]
    }
}

pub fn to_csv(rows: &[Row]) -> String {
    let mut out = csv::write_record(&COLUMNS.map(String::from));
    for r in rows {
        out.push_str(&csv::write_record(&r.cells()));
    }
    out
}

pub fn write(path: &Path, rows: &[Row]) -> Result<()> {
    std::fs::write(path, to_csv(rows)).with_context(|| format!("cannot write {}", path.display()))
}

pub fn read(path: &Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    from_csv(&text).with_context(|| format!("in {}", path.display()))
}

pub fn from_csv(text: &str) -> Result<Vec<Row>> {
    let records = csv::parse(text)?;
    let (header, body) = records.split_first().context("empty CSV (no header)")?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut rows = Vec::new();
    for (i, rec) in body.iter().enumerate() {
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        let line = i + 2;
        let get = |name: &str| col(name).and_then(|c| rec.get(c)).map(String::as_str).unwrap_or("");
        let req = |name: &str| -> Result<&str> {
            match get(name) {
                "" => bail!("line {line}: column `{name}` is missing or empty"),
                v => Ok(v),
            }
        };
        let num = |name: &str| -> Result<Option<u64>> {
            match get(name) {
                "" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .with_context(|| format!("line {line}: `{name}`={v} is not a number")),
            }
        };
        let boolean = |name: &str| -> Result<Option<bool>> {
            match get(name) {
                "" => Ok(None),
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                v => bail!("line {line}: `{name}`={v} is not true/false"),
            }
        };
        let required_num = |name: &str| {
            num(name)?.with_context(|| format!("line {line}: column `{name}` is missing"))
        };
        let small = |v: Option<u64>, name: &str| -> Result<Option<u32>> {
            v.map(|n| u32::try_from(n).with_context(|| format!("line {line}: `{name}` too large")))
                .transpose()
        };
        let work = match num("work")? {
            Some(w) => w,
            None => required_num("elapsed")?,
        };
        rows.push(Row {
            benchmark: req("benchmark")?.into(),
            os: req("os")?.into(),
            accel: req("accel")?.into(),
            case: get("case").into(),
            sched_policy: get("sched_policy").into(),
            cpus: small(Some(required_num("cpus")?), "cpus")?.unwrap_or(0),
            workers: small(Some(required_num("workers")?), "workers")?.unwrap_or(0),
            run: small(Some(required_num("run")?), "run")?.unwrap_or(0),
            attempts: small(num("attempts")?, "attempts")?.unwrap_or(1),
            checksum: get("checksum").into(),
            spawn_ready: num("spawn_ready")?,
            work,
            shutdown: num("shutdown")?,
            total: num("total")?,
            work_ns: num("work_ns")?,
            total_ns: num("total_ns")?,
            blocks: num("blocks")?,
            work_rounds: small(num("work_rounds")?, "work_rounds")?,
            range: get("range").into(),
            primes: num("primes")?,
            calls: num("calls")?,
            parent_wait: get("parent_wait").into(),
            bench_class: get("bench_class").into(),
            hot_section_syscalls: num("hot_section_syscalls")?,
            verified: boolean("verified")?
                .with_context(|| format!("line {line}: `verified` is missing"))?,
            accepted: boolean("accepted")?,
            disturbed: boolean("disturbed")?.unwrap_or(false),
            other_cpu_pct: match get("other_cpu_pct") {
                "" => None,
                v => Some(v.parse().with_context(|| format!("line {line}: `other_cpu_pct`={v}"))?),
            },
            host_cpus: get("host_cpus").into(),
            wall_ms: num("wall_ms")?,
            serial_log: get("serial_log").into(),
            user_pc_symbol_report: get("user_pc_symbol_report").into(),
            guest_symbol_map: get("guest_symbol_map").into(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn round_trip_from_fixture_lines() {
        let log = fixture("thread-scale-smp2.log");
        let line = log.lines().find(|l| l.contains("[thread-scale]")).unwrap();
        let mut r = Row::from_thread_line(&ThreadScaleLine::parse(line).unwrap());
        r.os = "linux-guest".into();
        r.accel = "tcg".into();
        r.case = "smp2-w2".into();
        r.attempts = 2;
        r.disturbed = true;
        r.other_cpu_pct = Some(12.5);
        r.host_cpus = "0,2".into();
        r.serial_log = "target/x/run, \"odd\".log".into();
        let p = ProcessScaleLine::parse(fixture("process-scale-smp1.log").trim_end()).unwrap();
        let mut q = Row::from_process_line(&p);
        q.os = "capos".into();
        q.accel = "kvm".into();
        q.sched_policy = "global".into();
        let rows = vec![r, q];
        assert_eq!(from_csv(&to_csv(&rows)).unwrap(), rows);
    }

    #[test]
    fn legacy_files_without_optional_columns_still_read() {
        let text = "benchmark,os,accel,cpus,workers,run,elapsed,verified\nthread-scale,capos,kvm,1,1,0,100,true\n";
        let rows = from_csv(text).unwrap();
        assert_eq!((rows[0].work, rows[0].attempts, rows[0].total), (100, 1, None));
        let bad = "benchmark,os,accel,cpus,workers,run,elapsed,verified\nthread-scale,capos,kvm,1,1,0,x,true\n";
        assert!(from_csv(bad).unwrap_err().to_string().contains("line 2"));
        assert!(from_csv("benchmark,os\nthread-scale,capos\n").is_err());
    }
}
