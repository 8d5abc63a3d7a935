//! `capos-flamegraphs`: profiling views of capOS measure reports.
//!
//! ```text
//! capos-flamegraphs run  --report measure.log [--kernel ELF] [--elf NAME=PATH]... --out DIR
//! capos-flamegraphs diff --before measure-1.log --after measure-4.log [--kernel ELF] [--elf NAME=PATH]...
//!                        --out DIR [--stem diff-work-1-vs-4] [--phase work] [--labels 1-worker,4-workers]
//! capos-flamegraphs timeline --report measure.log --out DIR
//! capos-flamegraphs index --input index.json --out DIR
//! ```
//!
//! Each prints the paths it wrote, one per line.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use capos_flamegraphs::{
    write_differential, write_index, write_run_profile, write_timeline, IndexInput, Scope,
};
use capos_measure::phase::Phase;
use capos_symbolize::{read_report, ElfPaths, ReportInput};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "capos-flamegraphs",
    about = "Flamegraphs, timeline and index.html from capOS measure reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// PC report, symbol map, work (all threads, per process, per thread), run and
    /// contention flamegraphs, who-ran-where.txt and timeline of one run.
    Run {
        #[arg(long, value_name = "PATH")]
        report: PathBuf,
        #[command(flatten)]
        elfs: ElfArgs,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Differential flamegraph of two runs (e.g. 1 worker vs N workers).
    Diff {
        #[arg(long, value_name = "PATH")]
        before: PathBuf,
        #[arg(long, value_name = "PATH")]
        after: PathBuf,
        #[command(flatten)]
        elfs: ElfArgs,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, default_value = "diff-work")]
        stem: String,
        /// A phase name, or `run` for the whole run.
        #[arg(long, default_value = "work")]
        phase: String,
        /// Two labels, comma-separated.
        #[arg(long, default_value = "before,after")]
        labels: String,
    },
    /// Per-CPU timeline (Chrome trace JSON) of one run.
    Timeline {
        #[arg(long, value_name = "PATH")]
        report: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// index.html from a JSON IndexInput.
    Index {
        #[arg(long, value_name = "PATH")]
        input: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct ElfArgs {
    /// Kernel ELF, for kernel-half addresses.
    #[arg(long, value_name = "PATH")]
    kernel: Option<PathBuf>,
    /// User program ELF as NAME=PATH (NAME as in `load_map binary=`). Repeatable.
    #[arg(long = "elf", value_name = "NAME=PATH")]
    elfs: Vec<String>,
}

impl ElfArgs {
    fn paths(&self) -> Result<ElfPaths> {
        let mut paths = ElfPaths { kernel: self.kernel.clone(), ..ElfPaths::default() };
        for arg in &self.elfs {
            paths.add_program_arg(arg).map_err(anyhow::Error::msg)?;
        }
        Ok(paths)
    }
}

fn load(path: &Path) -> Result<ReportInput> {
    read_report(path).with_context(|| format!("reading {}", path.display()))
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run { report, elfs, out } => {
            let p = write_run_profile(&load(&report)?, &elfs.paths()?, &out)?;
            for path in [
                &p.pc_report.report,
                &p.pc_report.symbol_map,
                &p.work.svg,
                &p.work_by_thread.svg,
                &p.whole_run.svg,
                &p.contention.svg,
                &p.timeline,
                &p.who_ran.path,
            ] {
                println!("{}", path.display());
            }
            for g in p.per_thread.processes.iter().chain(&p.per_thread.threads) {
                println!("{}", g.files.svg.display());
            }
        }
        Command::Diff { before, after, elfs, out, stem, phase, labels } => {
            let scope = match phase.as_str() {
                "run" => Scope::WholeRun,
                name => Scope::Phase(
                    Phase::from_name(name).with_context(|| format!("unknown phase `{name}`"))?,
                ),
            };
            let Some((l0, l1)) = labels.split_once(',') else {
                bail!("--labels wants two labels: A,B")
            };
            let (b, a) = (load(&before)?, load(&after)?);
            let g = write_differential(
                &b.report,
                &a.report,
                &elfs.paths()?,
                scope,
                (l0, l1),
                &out,
                &stem,
            )?;
            println!("{}\n{}", g.folded.display(), g.svg.display());
        }
        Command::Timeline { report, out } => {
            println!("{}", write_timeline(&load(&report)?.report, &out)?.display())
        }
        Command::Index { input, out } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let input: IndexInput = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", input.display()))?;
            let outcome = write_index(&input, &out)?;
            for m in &outcome.missing {
                eprintln!("capos-flamegraphs: warning: missing {}", m.display());
            }
            println!("{}", outcome.path.display());
        }
    }
    Ok(())
}
