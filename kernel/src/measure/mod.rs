//! Kernel side of the measure subsystem (see docs/measure.md).
//!
//! With the `measure` feature, probes update the per-CPU shards of the
//! `capos_measure` catalogue, sample the interrupted PC and stack on every
//! tick, and record trace events; at the end of a run the whole report goes
//! out as defmt frames on COM2. Without the feature every probe macro
//! expands to nothing and this module holds no code or data, which
//! `make test` checks on the kernel ELF (no `capos_measure` symbols, no
//! `.defmt` section).

#[cfg(feature = "measure")]
pub mod calibrate;
#[cfg(feature = "measure")]
mod com2;
#[cfg(feature = "measure")]
pub mod lockstat;
#[cfg(feature = "measure")]
mod probes;
#[cfg(feature = "measure")]
pub use probes::*;

/// Adds `v` (default 1) to a sum counter of the calling CPU's shard.
#[macro_export]
macro_rules! m_add {
    ($c:expr) => {
        $crate::m_add!($c, 1)
    };
    ($c:expr, $v:expr) => {{
        #[cfg(feature = "measure")]
        $crate::measure::add($c, $v);
    }};
}

/// Updates a max counter.
#[macro_export]
macro_rules! m_max {
    ($c:expr, $v:expr) => {{
        #[cfg(feature = "measure")]
        $crate::measure::max($c, $v);
        // Never called: keeps the value's inputs "used" in normal builds.
        #[cfg(not(feature = "measure"))]
        let _ = || $v;
    }};
}

/// Updates a min counter.
#[macro_export]
macro_rules! m_min {
    ($c:expr, $v:expr) => {{
        #[cfg(feature = "measure")]
        $crate::measure::min($c, $v);
        // Never called: keeps the value's inputs "used" in normal builds.
        #[cfg(not(feature = "measure"))]
        let _ = || $v;
    }};
}

/// Records a trace event, its arguments named as in
/// `capos_measure::trace::TraceArgs`: `m_trace!(Wakeup { thread, target_cpu, waker })`.
#[macro_export]
macro_rules! m_trace {
    ($kind:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        #[cfg(feature = "measure")]
        $crate::measure::trace(capos_measure::trace::TraceArgs::$kind { $($field $(: $value)?),* });
    }};
}

/// Times a block into a `segment` counter: `m_segment!(Name, { ... })`.
#[macro_export]
macro_rules! m_segment {
    ($seg:ident, $body:block) => {{
        #[cfg(feature = "measure")]
        let __t0 = $crate::arch::x86_64::cpu::rdtsc();
        let __r = $body;
        #[cfg(feature = "measure")]
        $crate::measure::segment(capos_measure::catalogue::Segment::$seg, __t0);
        __r
    }};
}
