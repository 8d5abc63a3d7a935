//! The Measure capability: phase marks and the kernel's memory figures.
//!
//! Marks are accepted only for a phase user space may mark, later than the
//! last one, in every kernel (measured or not), so programs see one
//! behaviour; the measure kernel also snapshots its counters there.

use super::messages::{self, Params};
use crate::cap::Outcome;
use capos_abi::error::Error;
use capos_abi::phase::Phase;
use core::sync::atomic::{AtomicU8, Ordering};

/// Wire id of the last phase marked (0: none yet, i.e. boot).
static LAST_MARK: AtomicU8 = AtomicU8::new(Phase::Boot as u8);

/// Accepts a mark of `name` only if it is a markable phase after the last.
fn mark_in_order(name: &str) -> Result<Phase, Error> {
    let phase = Phase::from_name(name).filter(|p| p.is_mark()).ok_or(Error::BadParams)?;
    if LAST_MARK.fetch_max(phase as u8, Ordering::AcqRel) >= phase as u8 {
        return Err(Error::InvalidState);
    }
    Ok(phase)
}

/// `Measure.mark(phase)`: returns the TSC at the mark.
pub fn mark(params: &Params) -> Result<Outcome, Error> {
    let phase = mark_in_order(&params.measure_mark()?)?;
    #[cfg(feature = "measure")]
    let tsc = crate::measure::mark(phase).ok_or(Error::InvalidState)?;
    #[cfg(not(feature = "measure"))]
    let tsc = {
        let _ = phase;
        crate::arch::x86_64::cpu::rdtsc()
    };
    Ok(Outcome::Done(0, Some(messages::measure_mark(tsc))))
}

/// `Measure.memory()`: heap bytes and frames in use, and their peaks.
pub fn memory() -> Result<Outcome, Error> {
    let f = crate::mm::frame::stats();
    let (heap, peak) = (crate::mm::heap::used() as u64, crate::mm::heap::peak() as u64);
    Ok(Outcome::Done(
        0,
        Some(messages::memory(heap, peak, (f.total - f.free) as u64, f.peak_used as u64)),
    ))
}
