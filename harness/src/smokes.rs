//! `run-smokes`: every smoke program under its own manifest, judged by its
//! PASS line and the guest's exit.

use std::path::Path;

use anyhow::Result;

use crate::accel::Accel;
use crate::build::KernelFlavor;
use crate::cli::SmokeArgs;
use crate::qemu::ExitKind;
use crate::{session, user};
use capos_abi::guest::{user_text, GuestExit};

/// A smoke: its name (= manifest and `[name] PASS` prefix), the user
/// package that builds it and the binaries it boots.
pub struct Smoke {
    pub name: &'static str,
    pub package: &'static str,
    pub binaries: &'static [&'static str],
}

/// The package of the kernel smokes (`userspace/smokes`).
const SMOKES_PACKAGE: &str = "capos-smokes";

pub const SMOKES: &[Smoke] = &[
    Smoke { name: "smoke-manifest", package: SMOKES_PACKAGE, binaries: &["smoke-manifest"] },
    Smoke { name: "smoke-ring", package: SMOKES_PACKAGE, binaries: &["smoke-ring"] },
    Smoke { name: "smoke-thread", package: SMOKES_PACKAGE, binaries: &["smoke-thread"] },
    Smoke { name: "smoke-park", package: SMOKES_PACKAGE, binaries: &["smoke-park"] },
    Smoke { name: "smoke-exit", package: SMOKES_PACKAGE, binaries: &["smoke-exit", "exit-child"] },
    Smoke {
        name: "smoke-endpoint",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-endpoint", "endpoint-server"],
    },
    Smoke {
        name: "smoke-hostile",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-hostile", "smoke-manifest", "exit-child"],
    },
    Smoke {
        name: "smoke-ring-join",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-ring-join", "attack-ring-join", "launch", "exit-child", "bystander"],
    },
    Smoke {
        name: "smoke-dead-completion",
        package: SMOKES_PACKAGE,
        binaries: &[
            "smoke-dead-completion",
            "attack-dead-caller",
            "attack-dead-waiter",
            "launch",
            "exit-child",
            "bystander",
        ],
    },
    Smoke {
        name: "smoke-timed-storm",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-timed-storm", "attack-timed-storm", "launch", "exit-child", "bystander"],
    },
    Smoke {
        name: "smoke-full-caps",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-full-caps", "attack-full-caps", "launch", "exit-child", "bystander"],
    },
    Smoke {
        name: "smoke-thread-churn",
        package: SMOKES_PACKAGE,
        binaries: &[
            "smoke-thread-churn",
            "attack-thread-churn",
            "launch",
            "exit-child",
            "bystander",
        ],
    },
    Smoke {
        name: "smoke-sleepers-exit",
        package: SMOKES_PACKAGE,
        binaries: &["smoke-sleepers-exit", "attack-sleepers", "launch", "exit-child", "bystander"],
    },
    // ipc-scale (userspace/demos) at small scale: 2 pairs of 50 calls.
    Smoke {
        name: "smoke-ipc-scale",
        package: crate::bench::capos::DEMOS_PACKAGE,
        binaries: &["smoke-ipc-scale", "ipc-scale", "ipc-scale-server", "ipc-scale-client"],
    },
];

/// Whether a smoke's console shows its PASS line and no FAILED check. The
/// PASS line counts only from the smoke's own process (a user line tagged
/// with its binary name): no other program can pass a smoke for it.
pub fn judge(name: &str, lines: &[String], exit: ExitKind) -> Result<(), String> {
    let pass = format!("[{name}] PASS");
    let failed: Vec<&String> =
        lines.iter().filter(|l| l.contains("FAILED") || l.contains("] FAIL (")).collect();
    if let Some(f) = failed.first() {
        return Err(format!("{name}: {f}"));
    }
    if !lines.iter().any(|l| user_text(l, name).is_some_and(|t| t.starts_with(&pass))) {
        return Err(format!("{name}: no `{pass}` line from process {name}"));
    }
    if exit != ExitKind::Guest(GuestExit::Success) {
        return Err(format!("{name}: guest exit {}", exit.describe()));
    }
    Ok(())
}

/// Decodes the run's COM2 capture into measure.log / measure.json and
/// checks its counter identities (`measure-check.log` beside it).
fn write_measure(kernel: &Path, dir: &Path, smp: u32, accel: Accel) -> Result<(), String> {
    let (report, stats) = crate::measure_log::report_from_com2(kernel, &dir.join("com2.bin"))
        .map_err(|e| format!("measure: {e:#}"))?;
    let log = crate::measure_log::write_measure_files(&report, dir)
        .map_err(|e| format!("measure: {e:#}"))?;
    println!(
        "harness: measure: {} ({} defmt frames, {} malformed)",
        log.display(),
        stats.frames,
        stats.malformed
    );
    if stats.malformed > 0 {
        return Err(format!("measure: {} malformed COM2 frames", stats.malformed));
    }
    let text = std::fs::read_to_string(&log).map_err(|e| format!("measure: {e}"))?;
    crate::measure_log::validate_measure_log(&text, crate::measure_log::MARKED_PHASES)
        .map_err(|e| format!("measure: {e:#}"))?;
    crate::measure_log::check_snapshot(&report, kernel).map_err(|e| format!("measure: {e:#}"))?;
    let check = crate::measure_tools::check_and_record(&log, smp, accel)
        .map_err(|e| format!("measure check: {e:#}"))?;
    println!("harness: {}", check.verdict_line());
    let first = check.failures().next().map(|row| format!("{row:#}"));
    match first {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} (first: {first}; table in {})",
            check.verdict_line(),
            log.with_file_name(crate::measure_tools::CHECK_LOG).display()
        )),
    }
}

/// The smokes `--only` names (every smoke when it names none); an unknown
/// name is an error.
fn select(only: &[String]) -> Result<Vec<&'static Smoke>> {
    if let Some(bad) = only.iter().find(|o| !SMOKES.iter().any(|s| s.name == o.as_str())) {
        let known: Vec<&str> = SMOKES.iter().map(|s| s.name).collect();
        anyhow::bail!("no smoke named `{bad}` (known: {})", known.join(", "));
    }
    Ok(SMOKES.iter().filter(|s| only.is_empty() || only.iter().any(|o| o == s.name)).collect())
}

pub fn run(root: &Path, args: &SmokeArgs) -> Result<bool> {
    let accel = session::pick_accel(&args.qemu)?;
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut words = args.words.kernel_word.clone();
    if args.measure {
        words.insert(0, crate::measure_tools::sample_hz_word(args.sample.resolve()?));
    }
    let cmdline = words.join(" ");
    let selected = select(&args.only)?;
    let limine = match &args.limine {
        Some(dir) => Some(crate::limine::stage(root, dir)?),
        None => None,
    };
    for smoke in &selected {
        let flavor = if args.measure { KernelFlavor::Measure } else { KernelFlavor::Normal };
        let images =
            user::images_with_manifest(root, flavor, smoke.package, smoke.binaries, smoke.name)?;
        for &smp in &args.smp {
            for _ in 0..args.repeat {
                let via = match (&limine, &args.uefi) {
                    (Some(_), Some(_)) => "-limine-uefi",
                    (Some(_), None) => "-limine",
                    _ => "",
                };
                let name = format!("{}{via}-smp{smp}", smoke.name);
                let booted = match &limine {
                    Some(dir) => session::boot_limine(
                        root,
                        &name,
                        &images,
                        &cmdline,
                        smp,
                        &args.qemu,
                        accel,
                        dir,
                        args.uefi.as_deref(),
                    ),
                    None => {
                        session::boot_direct(root, &name, &images, &cmdline, smp, &args.qemu, accel)
                    }
                };
                let verdict = match booted {
                    Ok((dir, out)) => judge(smoke.name, &out.lines, out.exit)
                        .and_then(|()| session::check_sched_policy(&cmdline, &out.lines))
                        .and_then(|()| match &limine {
                            Some(_) => session::check_limine_boot(&out.lines, images.modules.len()),
                            None => Ok(()),
                        })
                        .and_then(|()| {
                            if args.measure {
                                write_measure(&images.kernel, &dir, smp, accel)
                            } else {
                                Ok(())
                            }
                        })
                        .map_err(|e| format!("{e} (log: {})", dir.join("serial.log").display())),
                    Err(e) => Err(format!("{}: {e:#}", smoke.name)),
                };
                match verdict {
                    Ok(()) => {
                        passed += 1;
                        println!("harness: smoke ok: {}{via} smp={smp}", smoke.name);
                    }
                    Err(why) => {
                        failed += 1;
                        println!("harness: smoke FAILED: smp={smp}: {why}");
                    }
                }
            }
        }
    }
    println!("total: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn judging_needs_pass_line_no_failure_and_success_exit() {
        let ok = l("user 2 smoke-x: [smoke-x] ok: a\nuser 2 smoke-x: [smoke-x] PASS (1 checks)\n");
        assert!(judge("smoke-x", &ok, ExitKind::Guest(GuestExit::Success)).is_ok());
        assert!(judge("smoke-x", &ok, ExitKind::Guest(GuestExit::Failure)).is_err());
        assert!(judge("smoke-y", &ok, ExitKind::Guest(GuestExit::Success)).is_err());
        let bad =
            l("user 2 smoke-x: [smoke-x] FAILED: a\nuser 2 smoke-x: [smoke-x] PASS (1 checks)\n");
        assert!(judge("smoke-x", &bad, ExitKind::Guest(GuestExit::Success)).is_err());
    }

    #[test]
    fn only_selects_named_smokes_in_table_order_and_refuses_unknown_names() {
        let names = |only: &[&str]| {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(&only).map(|v| v.iter().map(|s| s.name).collect::<Vec<_>>())
        };
        assert_eq!(names(&[]).unwrap().len(), SMOKES.len());
        assert_eq!(
            names(&["smoke-thread-churn", "smoke-thread"]).unwrap(),
            ["smoke-thread", "smoke-thread-churn"]
        );
        let e = names(&["smoke-thread", "smoke-nope"]).unwrap_err().to_string();
        assert!(e.contains("no smoke named `smoke-nope`"), "{e}");
    }

    #[test]
    fn a_pass_line_from_another_process_or_untagged_does_not_count() {
        let forged = l("user 5 bystander: [smoke-x] PASS (9 checks)\n[smoke-x] PASS (9 checks)\n");
        let e = judge("smoke-x", &forged, ExitKind::Guest(GuestExit::Success)).unwrap_err();
        assert!(e.contains("no `[smoke-x] PASS` line"), "{e}");
    }
}
