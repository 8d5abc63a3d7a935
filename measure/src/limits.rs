//! The instrument's limits, stated in every report written from a measure
//! run: what was lost (sample-table overflows, overwritten trace events,
//! zeros included), the accelerator and, under QEMU TCG, where samples
//! land and how concentrated they are; the probes' own cost and the hold
//! correction. One source for `measure.log`'s header, the PC symbol log,
//! flamegraph subtitles and `index.html`.

use std::collections::BTreeMap;

use crate::catalogue::{kernel_pc_samples as k, user_pc_samples as u};
use crate::instrument_info::{Accel, InstrumentInfo};
use crate::phase::Phase;
use crate::record::Mode;
use crate::report::Report;

/// Samples and events the fixed-size tables and rings lost, whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    pub user_pc_overflow: u64,
    pub user_stack_overflow: u64,
    pub kernel_pc_overflow: u64,
    pub kernel_stack_overflow: u64,
    pub contention_overflow: u64,
    /// Per-thread operation records refused (no row left for the thread and
    /// phase: `thread_ops.rows_refused`).
    pub thread_rows_refused: u64,
    /// Thread names the name table could not keep (`thread_ops.names_refused`).
    pub thread_names_refused: u64,
    /// Per-thread time-by-state pieces refused (`thread_ops.time_rows_refused`).
    pub thread_time_refused: u64,
    /// Off-CPU wakeups refused (`thread_ops.offcpu_refused`).
    pub offcpu_refused: u64,
    /// Samples missing from the time-ordered rings (`timer.sample_ring_dropped`;
    /// still counted in the tables, missing only from the flame chart).
    pub sample_ring_dropped: u64,
    /// Trace events overwritten, summed over CPUs.
    pub trace_dropped: u64,
}

impl Losses {
    /// Sample losses of every table (PC, stack, contention).
    pub fn samples(&self) -> u64 {
        [
            self.user_pc_overflow,
            self.user_stack_overflow,
            self.kernel_pc_overflow,
            self.kernel_stack_overflow,
            self.contention_overflow,
        ]
        .into_iter()
        .fold(0u64, u64::saturating_add)
    }
}

/// The single most-sampled PC of one mode in one phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HottestPc {
    pub mode: Mode,
    pub pc: u64,
    pub count: u64,
    /// All samples of that mode and phase.
    pub total: u64,
}

impl HottestPc {
    /// Share of the samples on this PC, in percent.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.count as f64 * 100.0 / self.total as f64
    }
}

/// What a reader must know before trusting a report's samples and times.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The phase the hottest PCs are taken from.
    pub phase: Phase,
    pub losses: Losses,
    /// Dropped trace events per CPU that recorded any.
    pub trace_dropped_by_cpu: BTreeMap<u8, u64>,
    /// `None` when the report has no `instrument` record.
    pub instrument: Option<InstrumentInfo>,
    /// User then kernel, modes with samples in `phase` only.
    pub hottest: Vec<HottestPc>,
}

/// The TCG caveat, in one sentence.
pub const TCG_NOTE: &str = "QEMU TCG takes interrupts only at translation-block starts, so a \
     sample's PC is the start of the block that was running and every sample of a tight loop \
     lands on one PC";

impl Report {
    /// The limits of this report, hottest PCs taken from `phase`.
    pub fn limits(&self, phase: Phase) -> Limits {
        let at = |c: crate::declare::Counter| self.counter(Phase::Aggregate, c);
        let losses = Losses {
            user_pc_overflow: at(u::overflow.into()),
            user_stack_overflow: at(u::stack_overflow.into()),
            kernel_pc_overflow: at(k::overflow.into()),
            kernel_stack_overflow: at(k::stack_overflow.into()),
            contention_overflow: at(k::contention_overflow.into()),
            thread_rows_refused: at(crate::catalogue::thread_ops::rows_refused.into()),
            thread_names_refused: at(crate::catalogue::thread_ops::names_refused.into()),
            offcpu_refused: at(crate::catalogue::thread_ops::offcpu_refused.into()),
            thread_time_refused: at(crate::catalogue::thread_ops::time_rows_refused.into()),
            sample_ring_dropped: at(crate::catalogue::timer::sample_ring_dropped.into()),
            trace_dropped: self.trace_dropped.values().fold(0u64, |a, d| a.saturating_add(*d)),
        };
        let by_mode = self.pcs_by_mode();
        let hottest = [Mode::User, Mode::Kernel]
            .into_iter()
            .filter_map(|mode| {
                let pcs = by_mode.iter().filter(|((p, m, _), _)| *p == phase && *m == mode);
                let total = pcs.clone().fold(0u64, |a, (_, n)| a.saturating_add(*n));
                // Ties go to the lowest PC, so the statement is reproducible.
                let (&(_, _, pc), &count) =
                    pcs.max_by(|a, b| a.1.cmp(b.1).then(b.0 .2.cmp(&a.0 .2)))?;
                Some(HottestPc { mode, pc, count, total })
            })
            .collect();
        Limits {
            phase,
            losses,
            trace_dropped_by_cpu: self.trace_dropped.clone(),
            instrument: self.instrument,
            hottest,
        }
    }
}

impl Limits {
    fn accel(&self) -> Accel {
        self.instrument.map_or(Accel::Unknown, |i| i.accel)
    }

    fn hottest_text(&self) -> String {
        if self.hottest.is_empty() {
            return format!("no PC samples in phase {}", self.phase.name());
        }
        let parts: Vec<String> = self
            .hottest
            .iter()
            .map(|h| {
                format!(
                    "{} {:#x} holds {:.2}% of {} samples",
                    h.mode.name(),
                    h.pc,
                    h.percent(),
                    h.total
                )
            })
            .collect();
        format!("hottest PC in phase {}: {}", self.phase.name(), parts.join("; "))
    }

    /// Full statements, one per line (no comment prefix).
    pub fn lines(&self) -> Vec<String> {
        let l = &self.losses;
        let per_cpu: Vec<String> =
            self.trace_dropped_by_cpu.iter().map(|(c, d)| format!("cpu{c}:{d}")).collect();
        let mut out = vec![format!(
            "losses (whole run): user_pc_overflow={} user_stack_overflow={} kernel_pc_overflow={} \
             kernel_stack_overflow={} contention_overflow={} thread_rows_refused={} \
             thread_names_refused={} thread_time_refused={} offcpu_refused={} \
             sample_ring_dropped={} \
             trace_dropped={} ({})",
            l.user_pc_overflow,
            l.user_stack_overflow,
            l.kernel_pc_overflow,
            l.kernel_stack_overflow,
            l.contention_overflow,
            l.thread_rows_refused,
            l.thread_names_refused,
            l.thread_time_refused,
            l.offcpu_refused,
            l.sample_ring_dropped,
            l.trace_dropped,
            if per_cpu.is_empty() { "no trace rings".to_string() } else { per_cpu.join(",") }
        )];
        match self.accel() {
            Accel::Tcg => {
                out.push(format!("accel=tcg: {TCG_NOTE}; {}", self.hottest_text()));
            }
            Accel::Unknown if self.instrument.is_none() => {
                out.push("accel=unknown: the report has no instrument record".to_string());
            }
            a => out.push(format!("accel={}: {}", a.name(), self.hottest_text())),
        }
        if let Some(i) = &self.instrument {
            let c = &i.cost;
            out.push(if i.sample_hz == 0 {
                "sampling: the rates are not stated (a log from before the sample clock: one \
                 sample per scheduler tick)"
                    .to_string()
            } else {
                format!(
                    "sampling: one PC and stack sample per sample-clock interrupt at \
                     sample_hz={} on each CPU (timer.sample_interrupts), independent of the \
                     scheduler tick at tick_hz={} (timer.interrupts)",
                    i.sample_hz, i.tick_hz
                )
            });
            out.push(format!(
                "probe cost (cycles per event, median of {} batches of {} at boot): counter={} \
                 hist={} lock={} trace={} stack={}",
                i.batches, i.batch_events, c.counter, c.hist, c.lock, c.trace, c.stack
            ));
            out.push(format!(
                "hold cycles are corrected: the probe's own bookkeeping between the two TSC \
                 reads of an uncontended hold is subtracted from every hold, floor 0: {} cycles \
                 for scheduler locks, {} for shared kernel locks",
                i.hold_correction, i.shared_hold_correction
            ));
            out.push(format!(
                "snapshot: taken when measurement stopped (end tsc); the report's own emission \
                 is not in it; CPUs not quiesced before the copy: {}",
                i.unquiesced_cpus
            ));
        }
        out
    }

    /// One line for a graph subtitle: losses, and the TCG caveat with the
    /// hottest PC's share.
    pub fn summary(&self) -> String {
        let l = &self.losses;
        let mut s = format!("losses: {} samples, {} trace events", l.samples(), l.trace_dropped);
        if l.thread_rows_refused > 0 {
            s.push_str(&format!(", {} per-thread records", l.thread_rows_refused));
        }
        if l.thread_names_refused > 0 {
            s.push_str(&format!(", {} thread names", l.thread_names_refused));
        }
        if l.thread_time_refused > 0 {
            s.push_str(&format!(", {} per-thread time pieces", l.thread_time_refused));
        }
        if l.offcpu_refused > 0 {
            s.push_str(&format!(", {} off-CPU wakeups", l.offcpu_refused));
        }
        if l.sample_ring_dropped > 0 {
            s.push_str(&format!(", {} samples missing from the timeline", l.sample_ring_dropped));
        }
        if self.accel() == Accel::Tcg {
            let share: Vec<String> = self
                .hottest
                .iter()
                .map(|h| format!("{} {:.1}%", h.mode.name(), h.percent()))
                .collect();
            s.push_str(&format!(
                "; TCG: samples land at translation-block starts (hottest PC: {})",
                if share.is_empty() { "no samples".to_string() } else { share.join(", ") }
            ));
        } else {
            s.push_str(&format!("; accel {}", self.accel().name()));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument_info::ProbeCost;

    fn report(accel: Accel) -> Report {
        let instrument = InstrumentInfo {
            accel,
            cost: ProbeCost { counter: 5, hist: 6, lock: 150, trace: 30, stack: 800 },
            hold_correction: 70,
            shared_hold_correction: 55,
            batches: 9,
            batch_events: 256,
            unquiesced_cpus: 0,
            tick_hz: 100,
            sample_hz: 997,
        };
        let mut r = Report { instrument: Some(instrument), ..Report::default() };
        r.set_counter(Phase::Aggregate, u::overflow.into(), 3);
        r.set_counter(Phase::Aggregate, k::contention_overflow.into(), 2);
        r.set_counter(Phase::Aggregate, crate::catalogue::thread_ops::rows_refused.into(), 6);
        r.trace_dropped.insert(0, 0);
        r.trace_dropped.insert(1, 40);
        // The hottest PC is summed over its tags: 0x401000's 83 samples are
        // split over two threads.
        let user = crate::SampleTag::mode_only(crate::SampleMode::User);
        let other = crate::SampleTag { tid: 9, ..user };
        for (tag, pc, n) in [(user, 0x40_1000, 41), (other, 0x40_1000, 42), (user, 0x40_2000, 17)] {
            r.pc_samples.insert((Phase::Work, tag, pc), n);
        }
        let kernel = crate::SampleTag::mode_only(crate::SampleMode::Kernel);
        r.pc_samples.insert((Phase::Work, kernel, 0xffff_ffff_8000_0010), 4);
        r
    }

    #[test]
    fn tcg_reports_state_losses_and_the_hottest_share() {
        let l = report(Accel::Tcg).limits(Phase::Work);
        assert_eq!(l.losses.samples(), 5);
        assert_eq!(l.losses.trace_dropped, 40);
        assert_eq!(
            l.hottest[0],
            HottestPc { mode: Mode::User, pc: 0x40_1000, count: 83, total: 100 }
        );
        let lines = l.lines().join("\n");
        assert!(lines.contains("user_pc_overflow=3"), "{lines}");
        assert!(lines.contains("contention_overflow=2 thread_rows_refused=6"), "{lines}");
        assert!(lines.contains("trace_dropped=40 (cpu0:0,cpu1:40)"), "{lines}");
        assert!(lines.contains("translation-block starts"), "{lines}");
        assert!(lines.contains("user 0x401000 holds 83.00% of 100 samples"), "{lines}");
        assert!(lines.contains("kernel 0xffffffff80000010 holds 100.00% of 4 samples"), "{lines}");
        assert!(lines.contains("70 cycles for scheduler locks, 55 for shared"), "{lines}");
        let s = l.summary();
        assert!(s.contains("losses: 5 samples, 40 trace events"), "{s}");
        assert!(s.contains("user 83.0%"), "{s}");
    }

    #[test]
    fn other_accelerators_and_empty_reports_still_state_losses() {
        let l = report(Accel::Kvm).limits(Phase::Work);
        assert!(!l.lines().join("\n").contains("translation-block"));
        assert!(l.summary().contains("accel kvm"));
        let empty = Report::default().limits(Phase::Aggregate);
        let lines = empty.lines().join("\n");
        assert!(
            lines.contains("user_pc_overflow=0") && lines.contains("trace_dropped=0"),
            "{lines}"
        );
        assert!(lines.contains("no instrument record"), "{lines}");
        assert!(empty.hottest.is_empty());
    }
}
