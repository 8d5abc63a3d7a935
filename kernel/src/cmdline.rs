//! The kernel command line (from the boot protocol).
//!
//! Words: `ktest` / `ktest=<filter>` (run kernel tests), `tick_hz=<n>`
//! (timer tick rate, 10..=10000, default 100), `noapic` (PIT/PIC tick on
//! the BSP only), `suppress_switch_logs` (no scheduler transition lines:
//! process/thread start and exit; proof, error and measurement output stay),
//! `sample_hz=<n>` (measure kernel only: the sample clock, 10..=20000,
//! default 997; a number outside the range is clamped and reported; the
//! normal kernel does not know the word). Unknown words are reported and
//! ignored.

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
            kassert_eq!(d.mode, Mode::Normal);
            kassert_eq!(parse_sample_hz("4999"), Some(4999));
            kassert_eq!(parse_sample_hz("1"), Some(10));
            kassert_eq!(parse_sample_hz("99999999999"), Some(20_000));
            kassert_eq!(parse_sample_hz("x"), None);
            kassert_eq!(parse_sample_hz("-5"), None);
            // Not a measure kernel: an unknown word, ignored.
            kassert_eq!(parse("sample_hz=250 tick_hz=250").tick_hz, 250);
            Ok(())
        }
    );
}
