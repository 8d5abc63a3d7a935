//! `perf script` text of the time-ordered samples, folded back by inferno's
//! perf collapser (the Rust port of FlameGraph's `stackcollapse-perf.pl`),
//! gives the stacks our own flamegraph code names, sample for sample.

#[path = "../../symbolize/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use capos_flamegraphs::{fold_samples, perf_script, Scope};
use capos_measure::record::{SampleMode, SampleTag};
use capos_measure::report::{LoadMap, Report, ThreadName, TimedSample};
use capos_measure::Phase;
use capos_symbolize::{Binaries, ElfPaths, Resolver};
use common::*;
use inferno::collapse::perf::{Folder, Options};
use inferno::collapse::Collapse;

const BASE: u64 = 0x40_0000;

#[inline(never)]
fn perf_probe(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(7) ^ 0x55
}

#[inline(never)]
fn perf_caller(x: u64) -> u64 {
    perf_probe(std::hint::black_box(x)).wrapping_add(3)
}

fn runtime(f: fn(u64) -> u64) -> u64 {
    fn_link_address(f) - link_start() + BASE
}

fn report() -> Report {
    let mut r = capos_measure::log_parse::parse_measure_log(
        "measure: begin version=1 cpus=2 tsc_khz=1000000 catalogue=0x0\n",
    )
    .expect("log parses");
    r.load_maps.push(LoadMap { pid: 3, binary: "prog".into(), base: BASE });
    let user = SampleTag { pid: 3, tid: (1 << 32) | 5, ..SampleTag::mode_only(SampleMode::User) };
    let kernel =
        SampleTag { pid: 3, tid: (1 << 32) | 5, ..SampleTag::mode_only(SampleMode::Kernel) };
    r.thread_names
        .insert(user.tid, ThreadName { thread: user.tid, pid: 3, name: "worker 1".into() });
    r.stack_defs.insert(1, (user, vec![runtime(perf_probe), runtime(perf_caller) + 8]));
    r.stack_defs.insert(2, (kernel, vec![0xffff_ffff_8000_1000, 0xffff_ffff_8000_2000]));
    // 3 user samples and 2 kernel ones, 1 ms apart on two CPUs; one more
    // whose stack was not kept.
    for (i, stack) in [1, 2, 1, 1, 2, 0].into_iter().enumerate() {
        let i = i as u64;
        r.timed_samples.push(TimedSample {
            cpu: (i % 2) as u8,
            tsc: 5_000_000 + i * 1_000_000,
            stack,
        });
    }
    r
}

#[test]
fn perf_script_folds_back_to_our_stacks() {
    let r = report();
    let bins = Binaries::load(&ElfPaths::new().with_program("prog", own_exe()), ["prog"]);
    let resolver = Resolver::new(&bins, &r.load_maps);
    let text = perf_script(&r, &resolver);
    assert!(
        text.starts_with(
            "# capOS samples as perf script text: 5 samples (1 without a kept stack left out)\n"
        ),
        "{text}"
    );
    // Event lines: name with spaces as `_`, pid/slot, CPU, seconds.
    assert!(text.contains("\nworker_1_(t5) 3/5 [000] 0.000000: 1 cpu-clock:\n"), "{text}");
    assert!(text.contains("\nworker_1_(t5) 3/5 [001] 0.001000: 1 cpu-clock:\n"), "{text}");
    assert!(text.contains(" ([kernel.kallsyms])\n"), "{text}");
    assert!(text.contains(" (prog)\n"), "{text}");

    let mut folded = Vec::new();
    let mut opts = Options::default();
    opts.annotate_kernel = true;
    Folder::from(opts).collapse(text.as_bytes(), &mut folded).expect("inferno folds it");
    let got: BTreeMap<String, u64> = String::from_utf8(folded)
        .unwrap()
        .lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            // inferno puts the thread's name first.
            let (comm, frames) = stack.split_once(';').unwrap();
            assert_eq!(comm, "worker_1_(t5)");
            (frames.to_string(), n.parse().unwrap())
        })
        .collect();

    // Our own flamegraph's names for the same stacks and counts (user
    // frames without their `prog` prefix, which perf puts in the binary).
    let mut same = r.clone();
    for (id, n) in [(1u32, 3u64), (2, 2)] {
        let (tag, frames) = &r.stack_defs[&id];
        same.stack_samples.insert((Phase::Work, *tag, frames.clone()), n);
    }
    let want: BTreeMap<String, u64> = fold_samples(&same, &resolver, Scope::Phase(Phase::Work))
        .stacks
        .into_iter()
        .map(|(k, v)| (k.replace("prog`", ""), v))
        .collect();
    assert_eq!(got, want);
    assert!(want.keys().any(|s| s.contains("perf_caller") && s.contains("perf_probe")), "{want:?}");
}
