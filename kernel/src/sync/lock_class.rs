//! What a lock is, for lock statistics (`measure` builds only).

/// Call-site classes of the scheduler (run-queue) locks. `Blocking`,
/// `ProcessExit` and `ThreadExit` name paths that, in this design, never
/// take a run-queue lock; their counters are exact zeros.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedSite {
    Generic,
    TimerPreRing,
    TimerSelect,
    Blocking,
    ProcessExit,
    ThreadExit,
    StartIdleSelect,
    WakeUnblock,
    Metadata,
}

/// Shared kernel locks other than the scheduler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedClass {
    FrameAlloc,
    Heap,
    CapTable,
    RingScratch,
    EndpointQueue,
    AddressSpace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockClass {
    /// Not measured.
    None,
    Sched,
    Shared(SharedClass),
}
