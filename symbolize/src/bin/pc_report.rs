//! `capos-pc-report --report measure.log [--kernel ELF] [--elf NAME=PATH]... --out DIR`
//!
//! Writes `user-pc-symbols.log` and `guest-symbol-map.txt` into `DIR` and
//! prints their paths. `--report` takes `measure.log` text or a raw record
//! stream. ELF problems are listed inside the report, not fatal.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use capos_symbolize::{read_report, write_pc_report, ElfPaths};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "capos-pc-report",
    about = "Resolve a capOS measure report's PC samples to symbols"
)]
struct Args {
    /// measure.log (text) or the raw record stream.
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
    /// Kernel ELF, for kernel-half PCs.
    #[arg(long, value_name = "PATH")]
    kernel: Option<PathBuf>,
    /// A user program's ELF as NAME=PATH (NAME as in `load_map binary=`);
    /// a bare PATH is named by its file name. Repeatable.
    #[arg(long = "elf", value_name = "NAME=PATH")]
    elfs: Vec<String>,
    /// Output directory (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut elfs = ElfPaths { kernel: args.kernel, ..ElfPaths::default() };
    for arg in &args.elfs {
        elfs.add_program_arg(arg).map_err(anyhow::Error::msg)?;
    }
    let input =
        read_report(&args.report).with_context(|| format!("reading {}", args.report.display()))?;
    let paths = write_pc_report(&input.report, &elfs, &args.out)?;
    println!("{}", paths.report.display());
    println!("{}", paths.symbol_map.display());
    Ok(())
}
