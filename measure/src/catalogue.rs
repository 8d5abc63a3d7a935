//! THE place that says what capOS can measure.
//!
//! One `catalogue!` entry per group (one `measure: <group>` line family), one
//! line per field. Adding a field or a group here is the whole change: per-CPU
//! shards, phase snapshots, wire records, `measure.log` text and parsing, JSON
//! and the `docs/measure.md` check all walk [`GROUPS`]. (Only a new *named
//! dimension* also needs a `dimension!` entry, in this file.)
//!
//! Wire ids are declaration positions: append new groups and fields at the
//! end of their list when old logs must stay readable; reordering changes
//! [`crate::declare::FINGERPRINT`], which the host checks.
//!
//! Kinds: `Sum` (per-phase delta, summed over CPUs), `Min`/`Max` (per-phase
//! extreme, reset at every phase mark). Every group may declare log2
//! histograms (64 buckets, see `hist.rs`), one per dimension entry.

use crate::declare::{catalogue, dimension, CpuSlot, NoDim};

dimension! {
    /// Why a run-queue lock was taken: the scheduler entry that picked from
    /// the local queue (the reason `schedule()` ran), a steal from another
    /// CPU's queue, or the path that queued a thread.
    SchedLockSite key "site" {
        TimerSelect = "timer_select",
        Blocking = "blocking",
        Yield = "yield",
        ThreadExit = "thread_exit",
        ProcessExit = "process_exit",
        StartIdleSelect = "start_idle_select",
        Steal = "steal",
        PreemptRequeue = "preempt_requeue",
        WakeUnblock = "wake_unblock",
        Spawn = "spawn",
    }
}

dimension! {
    /// Every kernel lock other than the run-queue locks, one class per lock
    /// (per field for locks inside per-object structures).
    SharedLock key "lock" {
        FrameAlloc = "frame_alloc",
        Heap = "heap",
        CapTable = "cap_table",
        RingScratch = "ring_scratch",
        EndpointQueue = "endpoint_queue",
        AddressSpace = "address_space",
        ThreadTable = "thread_table",
        ThreadSched = "thread_sched",
        ThreadStack = "thread_stack",
        ThreadEntry = "thread_entry",
        ThreadJoiner = "thread_joiner",
        ParkWaiters = "park_waiters",
        Timers = "timers",
        EndpointRegistry = "endpoint_registry",
        ExitWaits = "exit_waits",
        ExitWatcher = "exit_watcher",
        ProcessThreads = "process_threads",
        ProcessVa = "process_va",
        ProcessHeapEnd = "process_heap_end",
        ProcessExit = "process_exit",
        ProcessJoins = "process_joins",
        Console = "console",
        LoadMaps = "measure_load_maps",
    }
}

dimension! {
    /// System call numbers (`capos_abi::syscall`), and everything else.
    SyscallNr key "nr" {
        CapEnter = "cap_enter",
        ExitThread = "exit_thread",
        ExitProcess = "exit_process",
        SetFsBase = "set_fs_base",
        RingInfo = "ring_info",
        Yield = "yield",
        GrowHeap = "grow_heap",
        ThreadStat = "thread_stat",
        SetThreadName = "set_thread_name",
        Unknown = "unknown",
    }
}

dimension! {
    /// UART channels that carry counted bytes: COM1, the console. (COM2
    /// carries only the report, after measurement stopped, so it is in no
    /// number; `end records=` and the harness's frame count describe it.)
    SerialChannel key "channel" {
        Com1 = "com1",
    }
}

dimension! {
    /// Timed kernel code segments.
    Segment key "name" {
        SchedChooseNext = "sched_choose_next",
        ScheduleSaveRequeue = "schedule_save_requeue",
        RingProcessing = "ring_processing",
        MethodBody = "method_body",
        CapWaitScan = "cap_wait_scan",
        ThreadExitJoinCleanup = "thread_exit_join_cleanup",
        ProcessExitDrop = "process_exit_drop",
    }
}

catalogue! {
    scheduler_lock {
        doc: "The scheduler locks (every CPU's run-queue lock, summed), in Linux lock_stat vocabulary.",
        cost: "Two TSC reads and five or six shard updates per acquisition, one more TSC read and three updates per release; each hold has the probe's own in-window cost (`instrument hold_correction=`, measured at boot) subtracted.",
        dim: NoDim,
        fields {
            acquisitions: Sum = "Times the lock was taken.",
            contended: Sum = "Acquisitions whose first try failed.",
            spin_loops: Sum = "Failed try-lock attempts while waiting.",
            wait_cycles: Sum = "TSC cycles spent waiting in contended acquisitions.",
            hold_cycles: Sum = "TSC cycles between acquisition and release.",
            wait_min: Min = "Shortest contended wait (cycles).",
            wait_max: Max = "Longest contended wait (cycles).",
            hold_min: Min = "Shortest hold (cycles).",
            hold_max: Max = "Longest hold (cycles).",
            handoffs: Sum = "Acquisitions of a lock last released on another CPU (lock_stat's bounces): the lock's line moved between CPUs.",
            take_cycles: Sum = "TSC cycles of the acquisitions taken at the first try, from the try to holding the lock: what a free lock costs (more when another CPU used its line last).",
        }
        hists {
            wait = "log2 histogram of contended wait cycles.",
            hold = "log2 histogram of hold cycles.",
        }
    }

    scheduler_lock_site {
        doc: "The scheduler locks split by the call-site class that took them (`site=`).",
        cost: "Four shard updates per acquisition on top of `scheduler_lock`.",
        dim: SchedLockSite,
        fields {
            acquisitions: Sum = "Times this site class took the lock.",
            contended: Sum = "Acquisitions from this site whose first try failed.",
            wait_cycles: Sum = "Contended wait cycles at this site.",
            hold_cycles: Sum = "Hold cycles of acquisitions from this site.",
            handoffs: Sum = "Acquisitions from this site of a lock last released on another CPU.",
            take_cycles: Sum = "First-try acquisition cycles at this site (see `scheduler_lock.take_cycles`).",
        }
        hists {}
    }

    shared_kernel_lock {
        doc: "Every kernel lock other than the run-queue locks, one line per lock class (`lock=`).",
        cost: "Same as `scheduler_lock` per acquisition of a measured lock.",
        dim: SharedLock,
        fields {
            acquisitions: Sum = "Times the lock was taken.",
            contended: Sum = "Acquisitions whose first try failed.",
            spin_loops: Sum = "Failed try-lock attempts while waiting.",
            wait_cycles: Sum = "TSC cycles spent waiting in contended acquisitions.",
            hold_cycles: Sum = "TSC cycles between acquisition and release.",
            wait_min: Min = "Shortest contended wait (cycles).",
            wait_max: Max = "Longest contended wait (cycles).",
            hold_min: Min = "Shortest hold (cycles).",
            hold_max: Max = "Longest hold (cycles).",
            handoffs: Sum = "Acquisitions of a lock last released on another CPU (lock_stat's bounces): the lock's line moved between CPUs.",
            take_cycles: Sum = "TSC cycles of the acquisitions taken at the first try, from the try to holding the lock: what a free lock costs (more when another CPU used its line last).",
        }
        hists {
            wait = "log2 histogram of contended wait cycles.",
            hold = "log2 histogram of hold cycles.",
        }
    }

    timer {
        doc: "Timer interrupts: scheduler ticks by where they landed, and (measure kernel) the sample clock's interrupts, a separate clock at `sample_hz` per CPU.",
        cost: "One or two shard updates per tick; one per sample interrupt.",
        dim: NoDim,
        fields {
            interrupts: Sum = "Scheduler ticks taken (timer interrupts that ran the tick).",
            user_scheduler: Sum = "Interrupts from user mode that entered the scheduler path.",
            kernel_only: Sum = "Interrupts from kernel mode that only advanced time and sent EOI.",
            bsp_tick_advances: Sum = "Global tick advances done by the BSP.",
            sample_interrupts: Sum = "Sample-clock interrupts taken (one PC and stack sample each; `sample_hz` per CPU).",
            sample_ring_dropped: Sum = "Samples the CPU's time-ordered ring could not keep (full: sized for 10 s at 1 kHz); their PC and stack still count in the tables, only the timeline's flame chart misses them.",
            idle_samples: Sum = "Sample interrupts that found the CPU in its idle thread.",
            idle_samples_work_queued: Sum = "Idle samples taken while a thread waited in another CPU's run queue (or the global queue): idle time beside waiting work, a load imbalance; the scaling-loss table scales the idle time by this share.",
        }
        hists {}
    }

    timer_fast_path {
        doc: "The bounded timer fast path that continues the current thread without the scheduler lock.",
        cost: "One or two shard updates per user-mode timer interrupt.",
        dim: NoDim,
        fields {
            attempts: Sum = "Timer interrupts that tried the fast path.",
            continues: Sum = "Attempts that continued the current thread.",
            fallback_budget_exhausted: Sum = "Fallbacks because the skip budget ran out.",
            fallback_reschedule_pending: Sum = "Fallbacks because a reschedule IPI was pending.",
            fallback_queue_nonempty: Sum = "Fallbacks because the local run queue had work.",
        }
        hists {}
    }

    timer_slow_summary {
        doc: "What a timer slow path (the locked pick after a user-mode tick) left behind. Timed waits and deferred cleanup never keep it set in capOS (they live in the time module and the exit paths), so a queued thread is its one reason.",
        cost: "Two shard updates per locked timer slow path.",
        dim: NoDim,
        fields {
            required: Sum = "Slow paths after which work remained (the sum of the reasons below).",
            clean: Sum = "Slow paths that left nothing behind.",
            run_queue_nonempty: Sum = "Slow paths after whose pick the local run queue still held threads.",
        }
        hists {}
    }

    tlb {
        doc: "Address-space switches and TLB shootdowns.",
        cost: "One shard update per event; shootdowns add one per target CPU.",
        dim: NoDim,
        fields {
            cr3_writes: Sum = "Runtime CR3 writes.",
            pending_flush_checks: Sum = "Checks for a pending TLB flush on this CPU.",
            pending_flush_all: Sum = "Pending full TLB flushes performed.",
            shootdown_requests: Sum = "Remote shootdown requests issued.",
            shootdown_target_cpus: Sum = "CPUs targeted by shootdown requests.",
            shootdown_ipis: Sum = "Shootdown IPIs sent.",
            deferred_completion_drains: Sum = "Deferred shootdown completions drained.",
        }
        hists {}
    }

    scheduler {
        doc: "Scheduler choice: where candidates came from, what happened to them, reschedule IPIs.",
        cost: "One shard update per candidate and per IPI decision.",
        dim: NoDim,
        fields {
            candidates_local: Sum = "Candidates taken from the local run queue.",
            candidates_stolen: Sum = "Candidates stolen from another CPU's queue.",
            candidates_idle: Sum = "Choices that fell back to the idle thread.",
            outcome_runnable: Sum = "Candidates (local or stolen) that were runnable and ran; capOS never queues a thread that cannot run, so no candidate is retried or dropped.",
            resched_ipi_target: Sum = "Times a remote CPU was chosen for a reschedule IPI.",
            resched_ipi_sent: Sum = "Reschedule IPIs sent.",
            resched_ipi_skipped: Sum = "Reschedule IPIs skipped (target already pending or running).",
        }
        hists {}
    }

    thread_placement {
        doc: "Where threads ran, per CPU slot (`cpu=`; text shows the reported CPU count).",
        cost: "One to three shard updates per dispatch.",
        dim: CpuSlot,
        fields {
            selected: Sum = "Dispatches of a user thread on this CPU.",
            first_selected: Sum = "First-ever dispatches of a thread on this CPU.",
            migrations: Sum = "Dispatches on this CPU of a thread that last ran elsewhere.",
        }
        hists {}
    }

    serial {
        doc: "Console UART bytes (`channel=`), counted after LF to CRLF expansion, as emitted (emergency exception and panic writes included).",
        cost: "One shard update per write call.",
        dim: SerialChannel,
        fields {
            bytes: Sum = "Bytes written to the UART.",
        }
        hists {}
    }

    segment {
        doc: "Cycle totals of timed kernel code segments (`name=`).",
        cost: "Two TSC reads and two shard updates per segment run.",
        dim: Segment,
        fields {
            cycles: Sum = "TSC cycles spent in the segment.",
            count: Sum = "Times the segment ran.",
        }
        hists {}
    }

    user_pc_samples {
        doc: "Sample-clock samples of user-mode PCs and stacks; the samples themselves are `user_pc_sample` lines.",
        cost: "One shared-table probe (CAS on first sight of a PC) per user-mode sample interrupt, plus a frame-pointer walk for stacks.",
        dim: NoDim,
        fields {
            samples: Sum = "PC samples taken.",
            overflow: Sum = "PC samples lost because the sample table was full.",
            stacks: Sum = "Stack samples taken.",
            stack_overflow: Sum = "Stack samples lost because the stack table was full.",
        }
        hists {}
    }

    kernel_pc_samples {
        doc: "Sample-clock samples of kernel-mode PCs and stacks, and kernel stacks at contended lock acquisitions; the samples themselves are `kernel_pc_sample`, `kernel_stack_sample` and `contention_stack` lines.",
        cost: "Same as `user_pc_samples`, for interrupts that hit kernel mode; a contention stack is one shared-table probe (CAS on first sight of a stack, two `fetch_add`s after) per contended acquisition.",
        dim: NoDim,
        fields {
            samples: Sum = "PC samples taken.",
            overflow: Sum = "PC samples lost because the sample table was full.",
            stacks: Sum = "Stack samples taken.",
            stack_overflow: Sum = "Stack samples lost because the stack table was full.",
            contention_stacks: Sum = "Contention stacks recorded (contended lock acquisitions with a stack).",
            contention_overflow: Sum = "Contention stacks lost because the contention table was full (or named an unknown lock).",
        }
        hists {}
    }

    syscall {
        doc: "System calls by number (`nr=`), all threads; per-thread counts are the `thread_ops` lines.",
        cost: "One shard update and one per-thread table probe (a CAS on a thread's first call in a phase, a `fetch_add` after) per system call.",
        dim: SyscallNr,
        fields {
            calls: Sum = "System calls with this number.",
        }
        hists {}
    }

    thread_ops {
        doc: "Ring work and the per-thread operation table behind the `thread_ops` lines (system calls and ring SQEs per thread and phase).",
        cost: "One shard update and one per-thread table probe per `cap_enter` that consumed SQEs.",
        dim: NoDim,
        fields {
            ring_sqes: Sum = "Submission-queue entries the kernel consumed.",
            rows_refused: Sum = "Per-thread counts lost because the (thread, phase) table was full.",
            names_refused: Sum = "Thread names (`SET_THREAD_NAME`) the report cannot carry because the name table was full.",
            offcpu_refused: Sum = "Off-CPU wakeups (blocked time by reason and stack, the `offcpu_stack` lines) lost because the off-CPU table was full.",
            time_rows_refused: Sum = "Per-thread time-by-state pieces (the `thread_time` lines) lost because the (thread, phase) table was full.",
        }
        hists {}
    }

    memory {
        doc: "Kernel memory and what user space may drive: heap and frame levels (high and low water per phase), refusals that protect the kernel's reserve, and completions that could not be delivered because their thread had exited.",
        cost: "Two shard updates per heap allocation or free and per frame allocation or free; one per refusal, dropped completion or cancelled wait.",
        dim: NoDim,
        fields {
            heap_peak: Max = "Most kernel heap bytes in use at once.",
            heap_low: Min = "Fewest kernel heap bytes in use at once.",
            frames_peak: Max = "Most 4 KiB frames in use at once.",
            frames_low: Min = "Fewest 4 KiB frames in use at once.",
            heap_refusals: Sum = "User-driven operations refused (OutOfResources) because the heap reached its reserve.",
            frame_refusals: Sum = "User-driven mappings refused because no frame was free or the process hit its memory limit.",
            completions_dropped: Sum = "Completions aimed at a thread that had exited, dropped instead of written.",
            pending_cancelled: Sum = "Pending operations (sleeps, waits, calls, receives, parks, joins) cancelled because their thread exited.",
        }
        hists {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::{Counter, Hist, Kind, COUNTER_SLOTS, HIST_SLOTS, MINMAX_SLOTS};
    use std::collections::BTreeSet;

    #[test]
    fn every_group_has_fields_and_unique_names() {
        let mut groups = BTreeSet::new();
        for g in GROUPS {
            assert!(groups.insert(g.name), "duplicate group {}", g.name);
            assert!(!g.fields.is_empty(), "group {} has no fields", g.name);
            assert!(!g.doc.is_empty() && !g.cost.is_empty(), "group {} undocumented", g.name);
            let mut names = BTreeSet::new();
            for f in g.fields {
                assert!(names.insert(f.name), "duplicate field {}.{}", g.name, f.name);
                assert!(!f.doc.is_empty());
                // Text keys that would collide with a line's own keys.
                assert!(f.name != "phase" && f.name != g.dim.key, "{}.{}", g.name, f.name);
            }
            let mut hists = BTreeSet::new();
            for h in g.hists {
                assert!(hists.insert(h.name), "duplicate hist {}.{}", g.name, h.name);
            }
        }
    }

    #[test]
    fn group_names_do_not_collide_with_other_line_families() {
        let reserved = [
            "begin",
            "load_map",
            "checkpoint",
            "phase",
            "trace",
            "trace_dropped",
            "end",
            "contention_stack",
            "thread_counts",
        ];
        for g in GROUPS {
            assert!(!reserved.contains(&g.name), "{} is a reserved line family", g.name);
            for suffix in ["_hist", "_pc_sample", "_stack_sample"] {
                assert!(!g.name.ends_with(suffix), "{} ends with {suffix}", g.name);
            }
        }
    }

    #[test]
    fn seed_groups_are_declared() {
        for name in [
            "scheduler_lock",
            "scheduler_lock_site",
            "shared_kernel_lock",
            "timer",
            "timer_fast_path",
            "timer_slow_summary",
            "tlb",
            "scheduler",
            "thread_placement",
            "serial",
            "segment",
            "user_pc_samples",
            "kernel_pc_samples",
        ] {
            assert!(GROUPS.iter().any(|g| g.name == name), "{name} missing");
        }
    }

    #[test]
    fn slots_are_dense_and_ids_round_trip() {
        let all: Vec<Counter> = Counter::all().collect();
        assert_eq!(all.len(), COUNTER_SLOTS);
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.slot as usize, i);
            assert_eq!(Counter::from_ids(c.group, c.dim as usize, c.field), Some(*c));
        }
        let mm: Vec<u16> = all.iter().filter(|c| c.kind != Kind::Sum).map(|c| c.minmax).collect();
        assert_eq!(mm, (0..MINMAX_SLOTS as u16).collect::<Vec<_>>());
        let hists: Vec<Hist> = Hist::all().collect();
        assert_eq!(hists.len(), HIST_SLOTS);
        for (i, h) in hists.iter().enumerate() {
            assert_eq!(h.slot as usize, i);
        }
    }

    #[test]
    fn typed_fields_bind_to_the_right_slot() {
        let c = scheduler_lock_site::wait_cycles.at(SchedLockSite::TimerSelect);
        assert_eq!(c.group_desc().name, "scheduler_lock_site");
        assert_eq!(c.field_desc().name, "wait_cycles");
        assert_eq!(
            c.group_desc().dim.label(c.dim as usize).map(|l| l.to_string()).as_deref(),
            Some("timer_select")
        );
        assert!(thread_placement::selected.at(crate::MAX_CPUS).is_void());
        let c: Counter = scheduler_lock::hold_max.into();
        assert_eq!(c.kind, Kind::Max);
        let h: Hist = scheduler_lock::wait.into();
        assert_eq!(h.hist_desc().name, "wait");
        assert!(shared_kernel_lock::hold.at(SharedLock::AddressSpace).slot > h.slot);
    }
}
