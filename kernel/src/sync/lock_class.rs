//! What a lock is, for lock statistics (`measure` builds only).

/// Call-site classes of the scheduler (run-queue) locks.
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
