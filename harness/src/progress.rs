//! One overall progress line for long commands (`bench-capos`): runs done
//! of all, the case now running, time elapsed and an estimate of the time
//! left (`indicatif`). When stderr is not a terminal (CI, a log file) the
//! line is not drawn and the per-run log lines go to stderr as before.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

/// The bar's template: runs done / all, elapsed, estimated time left.
const TEMPLATE: &str =
    "{prefix} [{bar:30}] {pos}/{len} runs, {elapsed_precise} elapsed, ~{eta_precise} left: {msg}";

impl Progress {
    /// A line for `total` runs of `what`.
    pub fn new(total: u64, what: &str) -> Progress {
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(500));
        Progress { bar }
    }

    /// The run about to start.
    pub fn starting(&self, label: &str) {
        self.bar.set_message(label.to_string());
    }

    /// One run finished, with its log line.
    pub fn done(&self, line: &str) {
        self.println(line);
        self.bar.inc(1);
    }

    /// A log line above the bar (on stderr as it is when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_and_stays_quiet_off_a_terminal() {
        let p = Progress::new(3, "thread-scale");
        // cargo test captures stderr: not a terminal, so nothing is drawn.
        assert!(p.bar.is_hidden());
        p.starting("capos smp1-w1 run 0");
        p.done("harness: a finished run");
        p.done("harness: another");
        assert_eq!(p.bar.position(), 2);
        assert_eq!(p.bar.length(), Some(3));
    }
}
