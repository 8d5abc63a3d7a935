//! Seeded mutation loop: mutated measure.log text through every per-run
//! view and the differential; errors are fine, panics are not.

#[path = "../../symbolize/tests/common/mod.rs"]
mod common;

use capos_flamegraphs::{write_differential, write_run_profile, Scope};
use capos_measure::phase::Phase;
use capos_symbolize::{parse_report_text, ElfPaths, ReportInput};
use common::*;

const LOG: &str = "measure: begin version=1 cpus=2 tsc_khz=1000 catalogue=0x0
measure: load_map pid=3 binary=prog base=0x400000
measure: checkpoint name=boot tsc=0
measure: checkpoint name=work tsc=100
measure: scheduler_lock_site phase=work site=timer_select acquisitions=5 contended=2 wait_cycles=1000 hold_cycles=10
measure: user_pc_sample phase=work cpu=0 pid=3 tid=0x300000001 mode=user lock=- pc=0x401234 count=9
measure: user_stack_sample phase=work cpu=1 pid=3 tid=0x300000001 mode=user lock=- count=2 frames=0x401000,0x401200
measure: kernel_stack_sample phase=aggregate cpu=1 pid=0 tid=0x100000001 mode=idle lock=- count=2 frames=0xffffffff80001010,0xffffffff80002200
measure: trace cpu=1 tsc=150 kind=context_switch prev=0x5 next=0x6 prev_state=0x2
measure: trace cpu=1 tsc=120 kind=wakeup thread=0x6 target_cpu=0x1 waker=0x5
measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=2 wait_cycles=900 frames=0x401000,0x401200
measure: end tsc=999 records=12 lost=0
";

#[test]
fn mutated_logs_never_panic() {
    let base = parse_report_text(LOG).expect("sample log parses");
    assert_eq!(base.contention.len(), 1);
    let dir = scratch("flame-fuzz");
    let elfs = ElfPaths::new().with_program("prog", own_exe()).with_kernel(own_exe());
    let mut m = Mutator::new(0xf1a3e);
    let mut parsed = 0;
    for i in 0..60 {
        let text = if i % 2 == 0 {
            mutate_values(&mut m)
        } else {
            String::from_utf8_lossy(&m.mutate(LOG.as_bytes())).into_owned()
        };
        let Ok(input) = parse_report_text(&text) else { continue };
        parsed += 1;
        let out = dir.join(format!("run{}", i % 4));
        write_run_profile(&input, &elfs, &out).expect("views of a parsed report");
        if i % 5 != 0 {
            continue;
        }
        write_differential(
            &base.report,
            &input.report,
            &elfs,
            Scope::Phase(Phase::Work),
            ("a", "b"),
            &out,
            "diff",
        )
        .expect("differential of parsed reports");
    }
    assert!(parsed >= 10, "mutations too destructive: {parsed} parsed");
    let empty = ReportInput::default();
    write_run_profile(&empty, &ElfPaths::new(), &dir.join("empty")).expect("empty report");
}

/// Replaces the values of a few `key=value` tokens with random numbers,
/// which mostly keeps the log parseable and stresses the views instead.
fn mutate_values(m: &mut Mutator) -> String {
    let mut lines: Vec<Vec<String>> =
        LOG.lines().map(|l| l.split(' ').map(String::from).collect()).collect();
    for _ in 0..1 + m.below(4) {
        let line = m.below(lines.len());
        let words = &mut lines[line];
        let at = m.below(words.len());
        if let Some((key, _)) = words[at].split_once('=') {
            let value = match m.below(4) {
                0 => format!("{:#x}", m.next()),
                1 => (m.next() % 64).to_string(),
                2 => u64::MAX.to_string(),
                _ => format!("{:#x},{:#x}", m.next(), m.next() | 0xffff_8000_0000_0000),
            };
            words[at] = format!("{key}={value}");
        }
    }
    lines.iter().map(|w| w.join(" ") + "\n").collect()
}
