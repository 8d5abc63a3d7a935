//! `capos-harness`: builds capOS images, packs the initrd, runs QEMU and the
//! kernel tests. Paths are relative to the workspace root (`--root`, default:
//! the workspace the harness was built from).

mod accel;
mod archive;
mod bench;
mod build;
mod call_paths;
mod cli;
mod compare;
mod cpu_states;
mod fidelity;
mod fuzz;
mod hangdump;
mod iso;
mod ktest;
mod limine;
mod measure_log;
mod measure_tools;
mod profile_run;
mod progress;
mod qemu;
mod render_check;
mod rundir;
mod session;
mod smokes;
mod suite;
#[cfg(test)]
mod tools;
mod user;
mod zero_cost;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::build::{CargoBuild, KernelFlavor};
use crate::cli::{Cli, Command, IsoArgs, KtestArgs, RunArgs, SymbolizeArgs};
use crate::ktest::Expect;

fn main() {
    match real_main() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("harness: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn real_main() -> Result<bool> {
    let cli = Cli::parse();
    let root = workspace_root(cli.root.as_deref())?;
    qemu::install_interrupt_handler()?;
    match cli.command {
        Command::Build(a) => {
            CargoBuild::loader().run(&root)?;
            CargoBuild::kernel(if a.ktest { KernelFlavor::Ktest } else { KernelFlavor::Normal })
                .run(&root)?;
            Ok(true)
        }
        Command::Run(a) => cmd_run(&root, &a).map(|()| true),
        Command::Ktest(a) => cmd_ktest(&root, &a).map(|()| true),
        Command::TestSuite(a) => suite::run(&root, &a),
        Command::RunSmokes(a) => smokes::run(&root, &a),
        Command::Iso(a) => cmd_iso(&root, &a).map(|()| true),
        Command::Symbolize(a) => cmd_symbolize(&a).map(|()| true),
        Command::BenchCapos(a) => bench::commands::capos(&root, &a),
        Command::BenchLinuxNative(a) => bench::commands::native(&root, &a),
        Command::BenchLinuxGuest(a) => bench::commands::guest(&root, &a),
        Command::BenchSummary(a) => bench::commands::summary(&a),
        Command::Fuzz(a) => fuzz::run(&root, &a),
        Command::MeasureCheck(a) => measure_tools::run_check(&a),
        Command::MeasureCoverage(a) => measure_tools::run_coverage(&a),
        Command::Fidelity(a) => fidelity::run(&root, &a),
        Command::Profile(a) => profile_run::run(&root, &a),
        Command::Compare(a) => compare::run(&root, &a),
        Command::RenderCheck(a) => render_check::run(&a),
    }
}

fn workspace_root(given: Option<&Path>) -> Result<PathBuf> {
    let root = match given {
        Some(p) => p.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("harness manifest dir has no parent")?
            .into(),
    };
    if !root.join("Cargo.toml").is_file() {
        bail!("{} is not the capOS workspace root (no Cargo.toml); pass --root", root.display());
    }
    Ok(root)
}

fn cmd_run(root: &Path, a: &RunArgs) -> Result<()> {
    let accel = session::pick_accel(&a.qemu)?;
    let outcome = match &a.limine_dir {
        None => {
            let images = build::build_images(root, KernelFlavor::Normal)?;
            session::boot_direct(root, "run", &images, &a.cmdline, a.smp, &a.qemu, accel)?.1
        }
        Some(limine_dir) => {
            // The same kernel, modules and command line as the direct boot,
            // on an ISO that the real Limine boots.
            let staged = limine::stage(root, limine_dir)?;
            let images = build::build_images(root, KernelFlavor::Normal)?;
            session::boot_limine(
                root, "run-iso", &images, &a.cmdline, a.smp, &a.qemu, accel, &staged, None,
            )?
            .1
        }
    };
    eprintln!("harness: guest exit: {}", outcome.exit.describe());
    outcome
        .exit
        .check(true)
        .with_context(|| format!("the run failed; console in {}", outcome.serial_log.display()))
}

fn cmd_ktest(root: &Path, a: &KtestArgs) -> Result<()> {
    let accel = session::pick_accel(&a.qemu)?;
    let images = build::build_images(root, KernelFlavor::Ktest)?;
    let expect =
        if a.expect_failure { Expect::FailureOf(a.filter.clone()) } else { Expect::AllPass };
    let ask = session::KtestAsk {
        filter: a.filter.as_deref(),
        extra_cmdline: &a.cmdline,
        expect: &expect,
    };
    let run = session::run_ktest(root, &images, a.smp, &ask, &a.qemu, accel)?;
    if !run.problems.is_empty() {
        let list: Vec<String> = run.problems.iter().map(ToString::to_string).collect();
        bail!(
            "ktest smp={} failed:\n  {}\n(console in {})",
            a.smp,
            list.join("\n  "),
            run.outcome.serial_log.display()
        );
    }
    Ok(())
}

fn cmd_iso(root: &Path, a: &IsoArgs) -> Result<()> {
    let staged = limine::stage(root, &a.limine_dir)?;
    // The default image's kernel and modules; the ISO boots through
    // Limine itself, so the PVH loader is not on it.
    let images = build::build_images(root, KernelFlavor::Normal)?;
    let out = a.out.clone().unwrap_or_else(|| root.join("target").join("capos.iso"));
    iso::build_iso(&images, &a.cmdline, &staged, &out)
}

fn cmd_symbolize(a: &SymbolizeArgs) -> Result<()> {
    let sym = capos_symbolize::Symbolizer::from_path(&a.elf)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line.context("reading stdin")?;
        let text = String::from_utf8_lossy(&line);
        writeln!(out, "{}", sym.annotate_line(text.trim_end_matches('\r')))
            .context("writing stdout")?;
    }
    out.flush().context("writing stdout")
}
