//! The sample tables and rings are sized for a 10 s run at 1 kHz on 4 CPUs
//! with zero loss even in the worst case (every sample a new PC and stack);
//! past that, loss is counted and stated in the report header.

use capos_measure::catalogue::{kernel_pc_samples as k, timer, user_pc_samples as u};
use capos_measure::report::Report;
use capos_measure::{Measure, Phase, ReportInfo, SampleMode, SampleTag, TIMED_SAMPLES_PER_CPU};

const CPUS: u64 = 4;
const PER_CPU: u64 = 10_000; // 10 s at 1 kHz
const PERIOD: u64 = 2_000_000; // TSC cycles per sample at 2 GHz and 1 kHz

/// Sample `n` of `cpu` at its time; a PC and a stack never seen before
/// unless `again` (then the same as sample `n % PER_CPU`).
fn sample(m: &Measure, cpu: u64, n: u64, again: bool) {
    let k = if again { n % PER_CPU } else { n };
    let mode = if k % 2 == 0 { SampleMode::User } else { SampleMode::Kernel };
    let tag = SampleTag { cpu: cpu as u8, pid: 3, tid: 1 << 32 | (4 + cpu), mode, lock: None };
    let base = if mode == SampleMode::User { 0x40_0000 } else { 0xffff_ffff_8000_0000 };
    let pc = base + (cpu * PER_CPU * 2 + k) * 4;
    m.sample_pc(cpu as usize, &tag, pc);
    m.sample_stack(cpu as usize, &tag, &[pc, base + 0x10_0000 + k * 8], 10 + n * PERIOD);
}

#[test]
fn ten_seconds_at_one_khz_on_four_cpus_loses_nothing_then_counts_the_rest() {
    static M: Measure = Measure::new();
    M.mark(Phase::Boot, 1).unwrap();
    for n in 0..PER_CPU {
        for cpu in 0..CPUS {
            sample(&M, cpu, n, false);
        }
    }
    // CPU 0 runs on (over stacks it saw) past its ring's size: those are
    // counted, not silent.
    let extra = TIMED_SAMPLES_PER_CPU as u64 - PER_CPU + 616;
    for n in PER_CPU..PER_CPU + extra {
        sample(&M, 0, n, true);
    }
    let mut records = Vec::new();
    let info = ReportInfo { cpus: 4, tsc_khz: 2_000_000, end_tsc: u64::MAX, instrument: None };
    M.report(&info, &mut |r| records.push(r.clone()));
    let r = Report::from_records(records).unwrap();
    let at = |c: capos_measure::Counter| r.counter(Phase::Aggregate, c);
    let total = CPUS * PER_CPU + extra;
    assert_eq!(at(u::overflow.into()) + at(k::overflow.into()), 0, "PC tables lost samples");
    assert_eq!(at(u::stack_overflow.into()) + at(k::stack_overflow.into()), 0);
    assert_eq!(at(u::samples.into()) + at(k::samples.into()), total);
    assert_eq!(at(u::stacks.into()) + at(k::stacks.into()), total);
    assert_eq!(at(timer::sample_ring_dropped.into()), 616);
    assert_eq!(r.timed_samples.len() as u64, total - 616);
    assert_eq!(r.stack_defs.len() as u64, CPUS * PER_CPU, "every kept sample's stack is defined");
    let header = r.to_measure_log();
    assert!(header.contains("sample_ring_dropped=616"), "the loss is in the header");
}
