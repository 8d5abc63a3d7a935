//! Kernel memory checks: a smoke takes a `Measure.memory` snapshot before an
//! attack and checks, once the attack's processes have exited and been
//! waited, that the kernel got its heap bytes and frames back.
//!
//! One thing legitimately stays: the smoke keeps the ProcessHandle of each
//! process it started, and the kernel keeps that exited process's remains
//! for it (there is no way to drop a handle). [`Memory::calibrate`]
//! measures those remains once, with a harmless child started the way the
//! attacks are (through `launch`), and the checks allow them per handle
//! kept, on top of a small slack.

use crate::{launch, Checks};
use capos_rt::clients::{KernelMemory, Measure, Spawner, Timer};

/// Kernel heap bytes an attack may leave behind besides kept handles
/// (transient allocations of other processes, vectors that grew once).
pub const HEAP_SLACK: u64 = 4096;
/// Frames an attack may leave behind besides kept handles.
pub const FRAME_SLACK: u64 = 2;
/// How long a reading waits for the kernel to settle: the CPU that ran an
/// exited thread's last switch drops the thread a moment after the wait.
const SETTLE_MS: u64 = 1000;
const POLL_NS: u64 = 10_000_000;
/// Children measured by [`Memory::calibrate`].
const CALIBRATION_RUNS: u32 = 3;

pub struct Memory {
    measure: Measure,
    timer: Timer,
    /// What one kept handle's exited process holds: (heap bytes, frames).
    per_handle: (u64, u64),
}

fn growth(before: u64, after: u64) -> i64 {
    after as i64 - before as i64
}

impl Memory {
    pub fn new(measure: Measure, timer: Timer) -> Self {
        Memory { measure, timer, per_handle: (0, 0) }
    }

    /// The kernel's memory now (`None` if Measure.memory failed).
    fn now(&self) -> Option<KernelMemory> {
        self.measure.memory().ok()
    }

    /// The most a check allows when the attack left `handles` handles here.
    fn allowed(&self, handles: u64) -> (u64, u64) {
        (HEAP_SLACK + handles * self.per_handle.0, FRAME_SLACK + handles * self.per_handle.1)
    }

    fn within(&self, before: &KernelMemory, after: &KernelMemory, handles: u64) -> bool {
        let (heap, frames) = self.allowed(handles);
        after.heap_used <= before.heap_used + heap
            && after.frames_used <= before.frames_used + frames
    }

    /// Polls until `done(reading)` or the settle time is over; returns the
    /// last reading.
    fn settle(&self, mut done: impl FnMut(&KernelMemory) -> bool) -> Option<KernelMemory> {
        let mut last = self.now()?;
        for _ in 0..SETTLE_MS * 1_000_000 / POLL_NS {
            if done(&last) {
                break;
            }
            let _ = self.timer.sleep(POLL_NS);
            last = self.now()?;
        }
        Some(last)
    }

    /// A reading once the kernel is quiet (two readings a poll apart
    /// agree): what a check compares against.
    pub fn baseline(&self) -> Option<KernelMemory> {
        let mut prev = None;
        self.settle(|m| {
            let same = prev == Some(*m);
            prev = Some(*m);
            same
        })
    }

    /// Measures what a launched, exited and waited child keeps in the
    /// kernel while its handle is kept: one warm-up child (the kernel's own
    /// tables grow once), then the most any of a few more children kept.
    pub fn calibrate(&mut self, c: &mut Checks, sp: Spawner) {
        let control = || launch::run(sp, "exit-child", "code=0", &[]);
        c.check(control() == Ok((0, false)), "a harmless child (warm-up) ran and exited with 0");
        let mut ok = 0;
        for _ in 0..CALIBRATION_RUNS {
            let before = self.baseline();
            ok += (control() == Ok((0, false))) as u32;
            if let (Some(b), Some(a)) = (before, self.baseline()) {
                let kept = (
                    a.heap_used.saturating_sub(b.heap_used),
                    a.frames_used.saturating_sub(b.frames_used),
                );
                self.per_handle = (self.per_handle.0.max(kept.0), self.per_handle.1.max(kept.1));
            }
        }
        c.check(ok == CALIBRATION_RUNS, "harmless children (calibration) ran and exited with 0");
        c.note(&alloc::format!(
            "an exited child whose handle is kept holds up to {} B of kernel heap and {} frames; checks allow that per kept handle",
            self.per_handle.0, self.per_handle.1
        ));
    }

    /// Children [`Memory::calibrate`] starts (their handles stay here).
    pub fn calibration_children(&self) -> usize {
        CALIBRATION_RUNS as usize + 1
    }

    /// Checks that the kernel's memory is back within the allowance of
    /// `before` (only growth counts: memory others free meanwhile is fine),
    /// `handles` being the handles the attack left in this process; prints
    /// the figures.
    pub fn check_returned(
        &self,
        c: &mut Checks,
        what: &str,
        before: Option<KernelMemory>,
        handles: u64,
    ) {
        let Some(before) = before else {
            c.check(false, &alloc::format!("{what}: Measure.memory answered before the attack"));
            return;
        };
        let Some(after) = self.settle(|m| self.within(&before, m, handles)) else {
            c.check(false, &alloc::format!("{what}: Measure.memory answered after the attack"));
            return;
        };
        c.note(&alloc::format!(
            "memory {what}: heap {} -> {} B ({:+}), frames {} -> {} ({:+}); peaks since boot: heap {} B, frames {}",
            before.heap_used,
            after.heap_used,
            growth(before.heap_used, after.heap_used),
            before.frames_used,
            after.frames_used,
            growth(before.frames_used, after.frames_used),
            after.heap_peak,
            after.frames_peak
        ));
        let (heap, frames) = self.allowed(handles);
        c.check(self.within(&before, &after, handles), &alloc::format!("{what}: the kernel got its memory back (growth within {heap} B of heap and {frames} frames)"));
    }
}
