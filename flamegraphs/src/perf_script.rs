//! The time-ordered samples ([`Report::timed_samples`]) as `perf script`
//! text, the format Firefox Profiler and speedscope import and FlameGraph's
//! `stackcollapse-perf.pl` (or `inferno-collapse-perf`) folds:
//!
//! ```text
//! worker-1 1/5 [001] 12.345678: 1 cpu-clock:
//! <TAB>ffffffff8001b773 capos_kernel::syscall::dispatch ([kernel.kallsyms])
//! <TAB>          401234 thread_scale::worker (thread-scale)
//!
//! ```
//!
//! (`<TAB>` is a tab.) One record per sample whose stack the guest kept: the thread's name
//! (its label, spaces as `_`), process id / thread slot index, CPU, the
//! sample's time in seconds since the first sample, and the frames leaf
//! first, each with its address, its resolved name (inlined functions get
//! a line each, innermost first) and its binary: `[kernel.kallsyms]` for
//! kernel frames (so collapsers mark them `_[k]`, as our flamegraphs do),
//! else the program's name. Samples whose stack was not kept are left out
//! and counted in the header comment.

use std::fmt::Write as _;

use capos_measure::report::Report;
use capos_symbolize::Resolver;

use crate::folded::Namer;
use crate::threads::{thread_index, Threads};

/// The binary perf names the kernel.
pub const KERNEL_DSO: &str = "[kernel.kallsyms]";

/// Name of the file in a run directory.
pub const PERF_SCRIPT_FILE: &str = "samples.perf.txt";

/// (symbol, binary) of one resolved frame name of ours (`name_[k]`,
/// ``program`name``, or a bare name).
fn split(name: &str) -> (&str, &str) {
    if let Some(sym) = name.strip_suffix("_[k]") {
        return (sym, KERNEL_DSO);
    }
    match name.split_once('`') {
        Some((bin, sym)) => (sym, bin),
        None => (name, "[unknown]"),
    }
}

/// The samples of `report` as `perf script` text.
pub fn perf_script(report: &Report, resolver: &Resolver<'_>) -> String {
    let threads = Threads::of(report);
    let khz = report.begin.map_or(0, |b| b.tsc_khz).max(1);
    let mut samples: Vec<_> = report.timed_samples.iter().collect();
    samples.sort_by_key(|s| (s.tsc, s.cpu));
    let t0 = samples.first().map_or(0, |s| s.tsc);
    let mut namer = Namer::new(resolver);
    let mut out = String::new();
    let mut left_out = 0u64;
    let mut body = String::new();
    for s in samples {
        let Some((tag, frames)) = report.stack_defs.get(&s.stack).filter(|_| s.stack != 0) else {
            left_out += 1;
            continue;
        };
        let comm: String = threads
            .label(tag.tid)
            .chars()
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        let micros = u128::from(s.tsc - t0) * 1000 / u128::from(khz);
        let _ = writeln!(
            body,
            "{comm} {}/{} [{:03}] {}.{:06}: 1 cpu-clock:",
            tag.pid,
            thread_index(tag.tid),
            s.cpu,
            micros / 1_000_000,
            micros % 1_000_000
        );
        for (i, addr) in frames.iter().enumerate() {
            // Inlined functions: root-first names of one address, printed
            // innermost first as perf does.
            let names = namer.frame(Some(u64::from(tag.pid)), i, *addr);
            for name in names.iter().rev() {
                let (sym, dso) = split(name);
                let _ = writeln!(body, "\t{addr:16x} {sym} ({dso})");
            }
        }
        body.push('\n');
    }
    let _ = writeln!(
        out,
        "# capOS samples as perf script text: {} samples{}",
        report.timed_samples.len() as u64 - left_out,
        if left_out > 0 {
            format!(" ({left_out} without a kept stack left out)")
        } else {
            String::new()
        }
    );
    out.push_str(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_names_split_into_symbol_and_binary() {
        assert_eq!(split("capos_kernel::x_[k]"), ("capos_kernel::x", KERNEL_DSO));
        assert_eq!(split("thread-scale`worker"), ("worker", "thread-scale"));
        assert_eq!(split("0x4010"), ("0x4010", "[unknown]"));
    }
}
