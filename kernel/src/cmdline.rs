//! The kernel command line (from the boot protocol).
//!
//! Words: `ktest` / `ktest=<filter>` (run kernel tests), `tick_hz=<n>`
//! (timer tick rate, 10..=10000, default 100), `noapic` (PIT/PIC tick on
//! the BSP only), `suppress_switch_logs` (no scheduler transition lines:
//! process/thread start and exit; proof, error and measurement output stay),
//! `measure_capacity=<n>` (measure kernel: each measure sample table may
//! hold at most n entries, 1..=4096, so a short test run can overflow them;
//! docs/measure.md), `heap_room=<KiB>` (measure kernel: user-driven kernel
//! heap allocations see at most that much room above the heap's reserve,
//! 1..=65536, so a test can meet the reserve's refusal),
//! `exit_cancel_delay_ms=<ms>` (measure kernel: an exiting thread waits that
//! long, 1..=1000, between refusing completions and cancelling its pending
//! work, so a test can plant dropped completions), `sample_hz=<n>`
//! (measure kernel only: the sample clock, 10..=20000,
//! default 997; a number outside the range is clamped and reported; the
//! normal kernel does not know the word), `sched=percpu|global` (run-queue
//! policy, default percpu; `sched::policy`; another value is reported and
//! ignored). Unknown words are reported and ignored.

use crate::sched::Policy;
use capos_abi::guest::{CMDLINE_KTEST, CMDLINE_KTEST_FILTER};

pub const DEFAULT_TICK_HZ: u32 = capos_abi::guest::DEFAULT_TICK_HZ;

/// What the command line asks the kernel to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    Normal,
    /// Run kernel tests, optionally only those matching a filter.
    Ktest(Option<&'a str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options<'a> {
    pub mode: Mode<'a>,
    pub tick_hz: u32,
    pub noapic: bool,
    pub suppress_switch_logs: bool,
    /// `sched=`: the run-queue policy.
    pub sched_policy: Policy,
    /// `balance=off`: no stealing and no placement on requeue (per-CPU
    /// policy; a planted load imbalance for the measurement).
    pub balance: bool,
    /// `sched_hold=<cycles>`: every run-queue pick holds its lock this many
    /// TSC cycles longer (0..=1000000; a planted cost for the scenarios).
    pub sched_hold: u64,
    /// `measure_capacity=`: the entry limit of every measure sample table.
    pub measure_capacity: Option<usize>,
    /// `heap_room=`: KiB of heap room above the reserve for user work.
    pub heap_room_kib: Option<usize>,
    /// `exit_cancel_delay_ms=`: the exit path's test delay.
    pub exit_cancel_delay_ms: Option<u64>,
    /// `sample_hz=` (clamped to the accepted range), if given.
    #[cfg(feature = "measure")]
    pub sample_hz: Option<u32>,
}

pub fn parse(cmdline: &str) -> Options<'_> {
    let mut o = Options {
        mode: Mode::Normal,
        tick_hz: DEFAULT_TICK_HZ,
        noapic: false,
        suppress_switch_logs: false,
        sched_policy: Policy::PerCpu,
        balance: true,
        sched_hold: 0,
        measure_capacity: None,
        heap_room_kib: None,
        exit_cancel_delay_ms: None,
        #[cfg(feature = "measure")]
        sample_hz: None,
    };
    for word in cmdline.split_whitespace() {
        if word == CMDLINE_KTEST {
            o.mode = Mode::Ktest(None);
        } else if let Some(f) = word.strip_prefix(CMDLINE_KTEST_FILTER) {
            o.mode = Mode::Ktest(Some(f));
        } else if let Some(hz) = word.strip_prefix("tick_hz=") {
            match hz.parse::<u32>() {
                Ok(v) if (10..=10_000).contains(&v) => o.tick_hz = v,
                _ => crate::kprintln!("kernel: ignoring bad tick_hz '{hz}' (10..=10000)"),
            }
        } else if let Some(n) = word.strip_prefix("measure_capacity=") {
            match n.parse::<usize>() {
                Ok(v) if (1..=4096).contains(&v) => o.measure_capacity = Some(v),
                _ => crate::kprintln!("kernel: ignoring bad measure_capacity '{n}' (1..=4096)"),
            }
        } else if let Some(n) = word.strip_prefix("heap_room=") {
            match n.parse::<usize>() {
                Ok(v) if (1..=65_536).contains(&v) => o.heap_room_kib = Some(v),
                _ => crate::kprintln!("kernel: ignoring bad heap_room '{n}' (1..=65536 KiB)"),
            }
        } else if let Some(n) = word.strip_prefix("exit_cancel_delay_ms=") {
            match n.parse::<u64>() {
                Ok(v) if (1..=1000).contains(&v) => o.exit_cancel_delay_ms = Some(v),
                _ => crate::kprintln!("kernel: ignoring bad exit_cancel_delay_ms '{n}' (1..=1000)"),
            }
        } else if let Some(p) = word.strip_prefix(capos_abi::guest::CMDLINE_SCHED) {
            match Policy::from_name(p) {
                Some(v) => o.sched_policy = v,
                None => crate::kprintln!("kernel: ignoring unknown sched '{p}' (percpu or global)"),
            }
        } else if let Some(v) = word.strip_prefix("balance=") {
            match v {
                "on" => o.balance = true,
                "off" => o.balance = false,
                _ => crate::kprintln!("kernel: ignoring bad balance '{v}' (on or off)"),
            }
        } else if let Some(n) = word.strip_prefix("sched_hold=") {
            match n.parse::<u64>() {
                Ok(v) if v <= 1_000_000 => o.sched_hold = v,
                _ => crate::kprintln!("kernel: ignoring bad sched_hold '{n}' (0..=1000000)"),
            }
        } else if word == "noapic" {
            o.noapic = true;
        } else if word == "suppress_switch_logs" {
            o.suppress_switch_logs = true;
        } else if !measure_word(&mut o, word) {
            crate::kprintln!("kernel: ignoring unknown command-line word '{word}'");
        }
    }
    o
}

/// The measure kernel's own words (`sample_hz=`); whether `word` was one.
#[cfg(feature = "measure")]
fn measure_word(o: &mut Options<'_>, word: &str) -> bool {
    let Some(hz) = word.strip_prefix("sample_hz=") else { return false };
    o.sample_hz = parse_sample_hz(hz).or(o.sample_hz);
    true
}

/// Without `measure` there are none: the normal kernel parses exactly as
/// before the sample clock (`sample_hz=` is an unknown word to it).
#[cfg(not(feature = "measure"))]
fn measure_word(_: &mut Options<'_>, _: &str) -> bool {
    false
}

/// A `sample_hz=` value: a number outside the accepted range is clamped
/// into it, anything else ignored; both reported.
#[cfg(any(feature = "measure", feature = "ktest"))]
fn parse_sample_hz(hz: &str) -> Option<u32> {
    use capos_abi::guest::SAMPLE_HZ_RANGE as R;
    let Ok(v) = hz.parse::<u64>() else {
        crate::kprintln!("kernel: ignoring bad sample_hz '{hz}' ({}..={})", R.start(), R.end());
        return None;
    };
    let c = v.clamp(u64::from(*R.start()), u64::from(*R.end())) as u32;
    if u64::from(c) != v {
        crate::kprintln!("kernel: sample_hz {v} clamped to {c} ({}..={})", R.start(), R.end());
    }
    Some(c)
}

#[cfg(feature = "ktest")]
mod tests {
    use super::*;
    use crate::{kassert, kassert_eq, ktest};

    ktest!(
        fn command_line_words_parse() -> KResult {
            let o = parse("tick_hz=250 noapic suppress_switch_logs ktest=sched");
            kassert_eq!(o.tick_hz, 250);
            kassert!(o.noapic && o.suppress_switch_logs);
            kassert_eq!(o.mode, Mode::Ktest(Some("sched")));
            let d = parse("tick_hz=5 tick_hz=x");
            kassert_eq!(d.tick_hz, DEFAULT_TICK_HZ);
            kassert_eq!(d.measure_capacity, None);
            kassert_eq!(parse("measure_capacity=8").measure_capacity, Some(8));
            kassert_eq!(parse("measure_capacity=0 measure_capacity=x").measure_capacity, None);
            kassert_eq!(parse("measure_capacity=4097").measure_capacity, None);
            kassert_eq!(parse("heap_room=48").heap_room_kib, Some(48));
            kassert_eq!(parse("heap_room=0 heap_room=-1").heap_room_kib, None);
            kassert_eq!(parse("exit_cancel_delay_ms=100").exit_cancel_delay_ms, Some(100));
            kassert_eq!(parse("exit_cancel_delay_ms=1001").exit_cancel_delay_ms, None);
            kassert_eq!(d.mode, Mode::Normal);
            kassert_eq!(parse_sample_hz("4999"), Some(4999));
            kassert_eq!(parse_sample_hz("1"), Some(10));
            kassert_eq!(parse_sample_hz("99999999999"), Some(20_000));
            kassert_eq!(parse_sample_hz("x"), None);
            kassert_eq!(parse_sample_hz("-5"), None);
            // Not a measure kernel: an unknown word, ignored.
            kassert_eq!(parse("sample_hz=250 tick_hz=250").tick_hz, 250);
            kassert_eq!(d.sched_policy, Policy::PerCpu);
            kassert_eq!(parse("sched=global").sched_policy, Policy::Global);
            kassert_eq!(parse("sched=global sched=percpu").sched_policy, Policy::PerCpu);
            // An unknown value is ignored (and reported): the default stays.
            kassert_eq!(parse("sched=fifo sched= sched=GLOBAL").sched_policy, Policy::PerCpu);
            kassert_eq!(parse("sched=global sched=x").sched_policy, Policy::Global);
            kassert!(d.balance);
            kassert!(!parse("balance=off").balance);
            kassert!(parse("balance=off balance=on").balance);
            kassert!(!parse("balance=off balance=no").balance);
            kassert_eq!(d.sched_hold, 0);
            kassert_eq!(parse("sched_hold=2000").sched_hold, 2000);
            kassert_eq!(parse("sched_hold=2000 sched_hold=2000000").sched_hold, 2000);
            Ok(())
        }
    );
}
