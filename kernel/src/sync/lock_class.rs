//! What a lock is, for lock statistics (`measure` builds only). The
//! measure subsystem maps each variant onto its catalogue dimension entry
//! of the same name (`kernel/src/measure/lockstat.rs`, an exhaustive match).

/// Why a run-queue lock is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedSite {
    /// `schedule()` from a timer tick picks from the local queue.
    TimerSelect,
    /// `schedule()` because the current thread blocked.
    Blocking,
    /// `schedule()` because the current thread yielded.
    Yield,
    /// `schedule()` because the current thread exited.
    ThreadExit,
    /// `schedule()` because the current thread exited as its process ended
    /// (killed, or the last thread).
    ProcessExit,
    /// `schedule()` from the idle loop (or a CPU's first pick).
    StartIdleSelect,
    /// A pick that steals from another CPU's queue.
    Steal,
    /// A preempted thread goes back on a queue after its switch-out.
    PreemptRequeue,
    /// A woken thread is queued.
    WakeUnblock,
    /// A new thread is queued.
    Spawn,
}

#[cfg(feature = "measure")]
impl SchedSite {
    const ALL: [SchedSite; 10] = [
        SchedSite::TimerSelect,
        SchedSite::Blocking,
        SchedSite::Yield,
        SchedSite::ThreadExit,
        SchedSite::ProcessExit,
        SchedSite::StartIdleSelect,
        SchedSite::Steal,
        SchedSite::PreemptRequeue,
        SchedSite::WakeUnblock,
        SchedSite::Spawn,
    ];

    /// A small number for a lock's owner word (`lock_probe`): the
    /// declaration index, which is the position in `ALL` (checked below).
    pub(super) fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`SchedSite::code`].
    pub(super) fn from_code(c: u8) -> Option<SchedSite> {
        Self::ALL.get(c as usize).copied()
    }
}

#[cfg(feature = "measure")]
const _: () = {
    let mut i = 0;
    while i < SchedSite::ALL.len() {
        assert!(SchedSite::ALL[i] as usize == i, "SchedSite::ALL is in declaration order");
        i += 1;
    }
};

/// Every kernel lock other than the run-queue locks: one class per static
/// lock, one per field for locks inside per-object structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedClass {
    FrameAlloc,
    Heap,
    CapTable,
    RingScratch,
    EndpointQueue,
    AddressSpace,
    ThreadTable,
    ThreadSched,
    ThreadStack,
    ThreadEntry,
    ThreadJoiner,
    ParkWaiters,
    Timers,
    EndpointRegistry,
    ExitWaits,
    ExitWatcher,
    ProcessThreads,
    ProcessVa,
    ProcessHeapEnd,
    ProcessExit,
    ProcessJoins,
    Console,
    /// The measure subsystem's load-map list (measure builds only).
    #[cfg_attr(not(feature = "measure"), allow(dead_code))]
    LoadMaps,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockClass {
    /// A guard that took its lock without statistics
    /// (`IrqSpinLock::try_lock_for_spins`, the emergency paths).
    #[cfg_attr(not(feature = "measure"), allow(dead_code))]
    None,
    Sched,
    Shared(SharedClass),
}
