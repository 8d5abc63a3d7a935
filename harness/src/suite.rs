//! `test-suite`: the kernel part of `make test`.

use std::path::Path;

use anyhow::Result;
use capos_abi::guest::parse_backtrace_frame;

use crate::build::{self, KernelFlavor};
use crate::cli::SuiteArgs;
use crate::ktest::{Expect, Problem};
use crate::session;

/// The test that must fail when named (self-check a).
pub const DELIBERATE_FAILURE: &str = "ktest::selfcheck_deliberate_failure";
/// The function whose deliberate fault must appear symbolized (self-check b).
pub const FAULT_FUNCTION: &str = "trigger_page_fault";
/// Marker of the kernel's exception report.
pub const EXCEPTION_MARKER: &str = "!!! EXCEPTION";
/// How many lines after the marker the backtrace may take.
const REPORT_WINDOW: usize = 64;

#[derive(Default)]
struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
            println!("harness: check ok: {what}");
        } else {
            self.failed += 1;
            println!("harness: check FAILED: {what}");
        }
    }
}

/// Kernel command line word that disables the LAPIC (self-check c).
pub const NOAPIC: &str = "noapic";
/// The kernel's line saying the tick comes from the PIT.
pub const PIT_TICK_LINE: &str = "from the pit";
/// The explicit test that panics on CPU 1 (self-check d).
pub const PANIC_ON_AP: &str = "sched::tests::selfcheck_panic_on_another_cpu";

/// True when the log shows a panic on `cpu` that stopped the system: the
/// panic report, the stop line from the same CPU, no test result, and a
/// Panic exit.
pub fn panic_stopped_system(lines: &[String], exit: crate::qemu::ExitKind, cpu: u32) -> bool {
    let panicked = lines.iter().any(|l| l.contains(&format!("!!! PANIC cpu={cpu}:")));
    let stopped = lines.iter().any(|l| l.contains(&format!("!!! kernel stopped on cpu {cpu}:")));
    let finished = lines.iter().any(|l| l.contains("ktest: result:"));
    panicked
        && stopped
        && !finished
        && exit == crate::qemu::ExitKind::Guest(capos_abi::guest::GuestExit::Panic)
}

/// True when some `!!! EXCEPTION` report is followed (within a few lines) by
/// a backtrace frame whose annotation names `function`.
pub fn exception_report_names(lines: &[String], function: &str) -> bool {
    lines.iter().enumerate().filter(|(_, l)| l.contains(EXCEPTION_MARKER)).any(|(i, _)| {
        lines[i + 1..]
            .iter()
            .take(REPORT_WINDOW)
            .any(|l| parse_backtrace_frame(l).is_some() && l.contains(function))
    })
}

/// Runs the suite; `Ok(true)` when everything passed. Ends with `total: N passed, M failed`.
pub fn run(root: &Path, args: &SuiteArgs) -> Result<bool> {
    let accel = session::pick_accel(&args.qemu)?;
    let images = build::build_images(root, KernelFlavor::Ktest)?;
    let mut tally = Tally::default();
    let mut smp1_log: Option<Vec<String>> = None;

    let normal_run = |smp: u32, extra: &str, tally: &mut Tally| -> Option<Vec<String>> {
        let ask =
            session::KtestAsk { filter: None, extra_cmdline: extra, expect: &Expect::AllPass };
        match session::run_ktest(root, &images, smp, &ask, &args.qemu, accel) {
            Ok(run) => {
                if let Err(e) = session::check_sched_policy(extra, &run.outcome.lines) {
                    tally.check(false, &format!("ktest smp={smp}: {e}"));
                }
                tally.passed += run.report.passed.len() as u32;
                tally.failed += run.report.failed.len() as u32;
                let run_problems: Vec<String> = run
                    .problems
                    .iter()
                    .filter(|p| matches!(p, Problem::Run(_)))
                    .map(ToString::to_string)
                    .collect();
                if !run_problems.is_empty() {
                    tally
                        .check(false, &format!("ktest smp={smp} run: {}", run_problems.join("; ")));
                }
                Some(run.outcome.lines)
            }
            Err(e) => {
                tally.check(false, &format!("ktest smp={smp} run: {e:#}"));
                None
            }
        }
    };

    let words = args.words.joined();
    for &smp in &args.smp {
        for _ in 0..args.repeat {
            let lines = normal_run(smp, &words, &mut tally);
            if smp == 1 && smp1_log.is_none() {
                smp1_log = lines;
            }
        }
    }
    if smp1_log.is_none() && !args.smp.contains(&1) {
        smp1_log = normal_run(1, &words, &mut tally);
    }

    // (a) A failing test is reported by name with a non-zero exit.
    let want = Expect::FailureOf(Some(DELIBERATE_FAILURE.to_string()));
    let what =
        format!("`ktest={DELIBERATE_FAILURE}` exits with Failure and reports the test FAILED");
    let ask =
        session::KtestAsk { filter: Some(DELIBERATE_FAILURE), extra_cmdline: "", expect: &want };
    match session::run_ktest(root, &images, 1, &ask, &args.qemu, accel) {
        Ok(run) => {
            let named = run.report.failed.iter().any(|(n, _)| n == DELIBERATE_FAILURE);
            tally.check(run.problems.is_empty() && named, &what);
        }
        Err(e) => tally.check(false, &format!("{what}: {e:#}")),
    }

    // (b) A deliberate kernel fault produces a symbolized report.
    let what = format!(
        "the smp=1 log has a `{EXCEPTION_MARKER}` report whose backtrace names `{FAULT_FUNCTION}`"
    );
    let ok = smp1_log.as_deref().is_some_and(|l| exception_report_names(l, FAULT_FUNCTION));
    tally.check(ok, &what);

    // (c) Without a usable LAPIC the kernel ticks from the PIT through the
    // PIC on the BSP alone, and every test still passes.
    let before = tally.failed;
    let lines = normal_run(2, format!("{words} {NOAPIC}").trim(), &mut tally);
    let bsp_only = lines.as_deref().is_some_and(|l| l.iter().any(|x| x.contains(PIT_TICK_LINE)));
    tally.check(
        tally.failed == before && bsp_only,
        "`noapic` at smp=2: PIT/PIC tick on the BSP only, all tests pass",
    );

    // (d) A panic on one CPU stops the others and the run.
    let what = format!(
        "`ktest={PANIC_ON_AP}` at smp=2: the panic on cpu 1 is reported and stops the system"
    );
    match session::boot_direct(
        root,
        "panic-ap",
        &images,
        &session::ktest_cmdline(Some(PANIC_ON_AP), ""),
        2,
        &args.qemu,
        accel,
    ) {
        Ok((_, out)) => tally.check(panic_stopped_system(&out.lines, out.exit, 1), &what),
        Err(e) => tally.check(false, &format!("{what}: {e:#}")),
    }

    // (e) Zero cost: the normal kernel has no measure code or data; the
    // measure kernel has both, so the check can tell them apart.
    let zc = (|| -> Result<(bool, String)> {
        let normal = crate::build::CargoBuild::kernel(KernelFlavor::Normal).run(root)?;
        let measure = crate::build::CargoBuild::kernel(KernelFlavor::Measure).run(root)?;
        let (n, m) =
            (crate::zero_cost::footprint_of(&normal)?, crate::zero_cost::footprint_of(&measure)?);
        let ok = !n.defmt_section && n.symbols == 0 && m.defmt_section && m.symbols > 0;
        Ok((ok, format!("normal kernel: .defmt={} measure symbols={} {:?}; measure kernel: .defmt={} symbols={}", n.defmt_section, n.symbols, n.example, m.defmt_section, m.symbols)))
    })();
    match zc {
        Ok((ok, detail)) => tally.check(ok, &format!("zero-cost: {detail}")),
        Err(e) => tally.check(false, &format!("zero-cost check: {e:#}")),
    }

    println!("total: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn panic_stop_needs_report_stop_line_and_panic_exit() {
        use crate::qemu::ExitKind;
        use capos_abi::guest::GuestExit;
        let good =
            lines("!!! PANIC cpu=1: boom\n  bt #0 0x1\n!!! kernel stopped on cpu 1: panic\n");
        assert!(panic_stopped_system(&good, ExitKind::Guest(GuestExit::Panic), 1));
        assert!(!panic_stopped_system(&good, ExitKind::Guest(GuestExit::Success), 1));
        assert!(!panic_stopped_system(&good, ExitKind::Guest(GuestExit::Panic), 0));
        let finished = lines("!!! PANIC cpu=1: boom\n!!! kernel stopped on cpu 1: panic\nktest: result: 1 passed, 0 failed\n");
        assert!(!panic_stopped_system(&finished, ExitKind::Guest(GuestExit::Panic), 1));
    }

    #[test]
    fn finds_a_symbolized_fault_report() {
        let log = lines(
            "ktest: arch::page_fault ... \n\
             !!! EXCEPTION #PF (page fault) cr2=0xdead000 rip=0xffffffff80012345\n\
             \x20 bt #0 0xffffffff80012345 capos_kernel::ktest::trigger_page_fault+0x1c at kernel/src/ktest.rs:40\n\
             \x20 bt #1 0xffffffff80012400 capos_kernel::ktest::run+0x20 at kernel/src/ktest.rs:90\n",
        );
        assert!(exception_report_names(&log, FAULT_FUNCTION));
    }

    #[test]
    fn unsymbolized_or_missing_reports_do_not_count() {
        let raw = lines("!!! EXCEPTION #PF\n  bt #0 0xffffffff80012345 <unmapped>\n");
        assert!(!exception_report_names(&raw, FAULT_FUNCTION));
        let no_marker = lines("  bt #0 0xffffffff80012345 capos_kernel::trigger_page_fault+0x1c\n");
        assert!(!exception_report_names(&no_marker, FAULT_FUNCTION));
        let not_a_frame = lines("!!! EXCEPTION #PF\nkernel: in trigger_page_fault\n");
        assert!(!exception_report_names(&not_a_frame, FAULT_FUNCTION));
    }
}
