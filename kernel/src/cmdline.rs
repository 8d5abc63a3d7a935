//! The kernel command line (from the boot protocol).

use capos_abi::guest::{CMDLINE_KTEST, CMDLINE_KTEST_FILTER};

/// What the command line asks the kernel to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    /// Boot normally.
    Normal,
    /// Run kernel tests, optionally only those matching a filter.
    Ktest(Option<&'a str>),
}

pub fn mode(cmdline: &str) -> Mode<'_> {
    for word in cmdline.split_whitespace() {
        if word == CMDLINE_KTEST {
            return Mode::Ktest(None);
        }
        if let Some(f) = word.strip_prefix(CMDLINE_KTEST_FILTER) {
            return Mode::Ktest(Some(f));
        }
    }
    Mode::Normal
}
