//! The probes, samples, trace and report (compiled with `measure` only).

use super::com2;
use crate::arch::x86_64::{backtrace, cpu, percpu, tsc};
use crate::sync::IrqSpinLock;
use alloc::string::String;
use alloc::vec::Vec;
use capos_measure::catalogue::{self as cat, Segment};
pub use capos_measure::cpu_time::CpuState;
pub use capos_measure::thread_time::{BlockReason, ThreadState};
use capos_measure::trace::TraceArgs;
use capos_measure::{
    Counter, Hist, InstrumentInfo, Measure, Phase, Record, ReportInfo, SampleMode, SampleTag,
};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// All counters, samples and trace rings of this kernel.
pub static MEASURE: Measure = Measure::new();

/// Scratch state the boot calibration runs the probes on; never reported.
pub(super) static SCRATCH: Measure = Measure::new();

/// While set, every probe updates [`SCRATCH`] instead of [`MEASURE`]. Set
/// only by the calibration, on the BSP with interrupts masked and before
/// the APs start, so no other probe is diverted.
pub(super) static CALIBRATING: AtomicBool = AtomicBool::new(false);

/// The state probes update.
#[inline]
fn target() -> &'static Measure {
    if CALIBRATING.load(Ordering::Relaxed) {
        &SCRATCH
    } else {
        &MEASURE
    }
}

/// Processes' load maps (pid, binary, base), reported with the samples:
/// one per process, so a user sample (tagged with its pid) resolves in the
/// binary its own process ran, whatever other program shares its addresses.
/// At most [`MAX_LOAD_MAPS`]; later processes are counted in
/// [`LOAD_MAPS_REFUSED`] and printed at the report (the host then resolves
/// their samples by address alone, and says so).
static LOAD_MAPS: IrqSpinLock<Vec<(u32, String, u64)>> =
    IrqSpinLock::shared(Vec::new(), crate::sync::SharedClass::LoadMaps);

/// Most load maps kept.
const MAX_LOAD_MAPS: usize = 1024;

/// Processes whose load map did not fit in [`LOAD_MAPS`].
static LOAD_MAPS_REFUSED: AtomicU64 = AtomicU64::new(0);

fn me() -> usize {
    percpu::cpu_index() as usize
}

pub fn add(c: impl Into<Counter>, v: u64) {
    target().add(me(), c, v);
}

pub fn max(c: impl Into<Counter>, v: u64) {
    target().max(me(), c, v);
}

pub fn min(c: impl Into<Counter>, v: u64) {
    target().min(me(), c, v);
}

pub fn hist(h: impl Into<Hist>, v: u64) {
    target().hist(me(), h, v);
}

pub fn trace(args: TraceArgs) {
    trace_at(cpu::rdtsc(), args);
}

/// A trace event stamped `tsc`, read before the action it records: an event
/// that causes one on another CPU (an IPI, a wake-up) is stamped before its
/// effect can be, even when this CPU is delayed (under TCG a vCPU can be
/// descheduled between the send and a stamp taken after it, and the
/// receiver's `ipi_recv` and switch then came first in the timeline).
pub fn trace_at(tsc: u64, args: TraceArgs) {
    let _irq = crate::sync::IrqOff::new();
    let cpu = me();
    target().trace(cpu, &args.event(tsc, cpu as u8));
}

/// Counts `n` operations of `op` by thread `t` in the per-thread table.
pub fn thread_op(t: &crate::sched::Thread, op: capos_measure::thread_ops::ThreadOp, n: u64) {
    let pid = t.process.as_ref().map_or(0, |p| p.pid);
    target().thread_op(me(), t.tref().to_u64(), pid, op, n);
}

/// This CPU enters `state` now (CPU-time accounting); returns the state it
/// left. Interrupts are masked for the update: an interrupt between
/// reading and writing the clock would count its stretch twice.
pub fn cpu_state(state: CpuState) -> Option<CpuState> {
    let _irq = crate::sync::IrqOff::new();
    target().cpu_state(me(), state, cpu::rdtsc())
}

/// [`cpu_state`] at a TSC the caller read: a context switch changes the
/// CPU's state at the TSC its threads' clocks change at, so no stretch
/// between the two reads is the CPU's without being a thread's.
pub fn cpu_state_at(state: CpuState, now: u64) -> Option<CpuState> {
    let _irq = crate::sync::IrqOff::new();
    target().cpu_state(me(), state, now)
}

/// This CPU spent `[start, end)` in `state` and is back in its own state.
pub fn cpu_slice(state: CpuState, start: u64, end: u64) {
    let _irq = crate::sync::IrqOff::new();
    target().cpu_slice(me(), state, start, end);
}

/// Thread `t` enters `state` at TSC `now` (`None`: it exited); returns the
/// state it left and the cycles it spent there. Idle threads are not
/// accounted. Called under `t`'s scheduler lock, which orders every change
/// of its clock.
pub fn thread_state(
    t: &crate::sched::Thread,
    state: Option<ThreadState>,
    now: u64,
) -> Option<(ThreadState, u64)> {
    if t.is_idle() {
        return None;
    }
    let pid = t.process.as_ref().map_or(0, |p| p.pid);
    target().thread_state(me(), &t.time_clock, t.tref().to_u64(), pid, state, now)
}

/// The phase each CPU last closed its running thread's stretch in
/// ([`close_running_after_mark`]); `u8::MAX` before the first.
static CLOSED_IN: [core::sync::atomic::AtomicU8; percpu::MAX_CPUS] =
    [const { core::sync::atomic::AtomicU8::new(u8::MAX) }; percpu::MAX_CPUS];

/// At this CPU's first sample interrupt after a phase mark, closes its
/// running thread's stretch (running -> running at this TSC): a thread
/// that runs on across a mark and only changes state after the stop (the
/// last thread of a program that marks `final_total` and exits) would
/// otherwise never give the phase before the mark its running time.
pub fn close_running_after_mark() {
    let m = target();
    if m.is_stopped() {
        return;
    }
    let cpu = me();
    let phase = m.current_phase() as u8;
    let Some(slot) = CLOSED_IN.get(cpu) else { return };
    // A load on every sample, a store once per mark: the slots share a
    // cache line, which stores at the sample rate would bounce between CPUs.
    if slot.load(Ordering::Relaxed) == phase {
        return;
    }
    slot.store(phase, Ordering::Relaxed);
    crate::sched::close_running_stretch();
}

/// The kernel stack at the caller: this PC, then the frame-pointer walk
/// (leaf first); returns the frames written.
#[inline(always)]
fn stack_here(frames: &mut [u64; STACK_FRAMES]) -> usize {
    let pc: u64;
    // SAFETY: `lea` of RIP has no side effects.
    unsafe {
        core::arch::asm!("lea {}, [rip]", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    frames[0] = pc;
    kernel_stack(cpu::frame_pointer(), frames)
}

/// Notes who woke `t` (`waker`, a thread ref, 0 for the timer) and the
/// waker's kernel stack here, for the run-queue delay's worst case. Called
/// under `t`'s scheduler lock, right after it became runnable.
pub fn note_waker(t: &crate::sched::Thread, waker: u64) {
    if t.is_idle() || target().is_stopped() {
        return;
    }
    let mut frames = [0u64; STACK_FRAMES];
    let n = stack_here(&mut frames);
    t.time_clock.wake.set(waker, &frames[..n]);
}

/// Notes where `t`, the current thread, blocks: its kernel stack here (the
/// off-CPU table weights it by the blocked time at the wakeup).
pub fn note_block(t: &crate::sched::Thread) {
    if t.is_idle() || target().is_stopped() {
        return;
    }
    let mut frames = [0u64; STACK_FRAMES];
    let n = stack_here(&mut frames);
    t.time_clock.block.set(0, &frames[..n]);
}

/// The state a thread being switched out enters: runnable
/// (preempted, or woken while switching out), blocked for the reason its
/// blocking code set, or none (exited).
pub fn switched_out_state(
    t: &crate::sched::Thread,
    ready: bool,
    exited: bool,
) -> Option<ThreadState> {
    if exited {
        return None;
    }
    if ready {
        return Some(ThreadState::Runnable);
    }
    let why = BlockReason::from_id(t.block_reason.load(Ordering::Relaxed));
    Some(ThreadState::Blocked(why.unwrap_or(BlockReason::Other)))
}

/// The current thread's next block waits for `why`.
pub fn block_reason(t: &crate::sched::Thread, why: BlockReason) {
    t.block_reason.store(why as u8, Ordering::Relaxed);
}

/// An operation `t` submitted went pending; a wait for it is `why`.
pub fn note_pending(t: &crate::sched::Thread, why: BlockReason) {
    t.pending_reason.store(why as u8, Ordering::Relaxed);
}

/// What `t`'s `cap_enter` waits for: the reason of the last operation that
/// went pending since the previous call (then reset), else `CapEnter`.
pub fn take_pending(t: &crate::sched::Thread) -> BlockReason {
    let id = t.pending_reason.swap(BlockReason::CapEnter as u8, Ordering::Relaxed);
    BlockReason::from_id(id).unwrap_or(BlockReason::CapEnter)
}

/// Keeps the name thread `t` gave itself for the report.
pub fn thread_name(t: &crate::sched::Thread, name: &[u8]) {
    let pid = t.process.as_ref().map_or(0, |p| p.pid);
    target().thread_name(me(), t.tref().to_u64(), pid, name);
}

pub fn segment(s: Segment, t0: u64) {
    add(cat::segment::cycles.at(s), cpu::rdtsc().saturating_sub(t0));
    add(cat::segment::count.at(s), 1);
}

/// Starts the `boot` phase (called once, early on the BSP).
pub fn init() {
    let _ = MEASURE.mark(Phase::Boot, cpu::rdtsc());
}

/// A phase mark from user space; `false` if the name or order is wrong.
///
/// Runs with interrupts masked: a tick on this CPU between the snapshot of
/// `timer.interrupts` and the switch of the sample tag would count its
/// interrupt in one phase and tag its sample with the other (the fidelity
/// suite saw one such tick in a work phase). Ticks on other CPUs can still
/// land inside the snapshot.
///
/// The mark's TSC is read at the instant the phase switches, with
/// interrupts masked, and returned (`None` if refused): read earlier, an
/// interrupt in between, or another CPU's accounting while this vCPU
/// stalled, gave the old phase time from after the mark's TSC (`measure
/// check` found `spawn_ready` 332 839 and 100 737 cycles short on a CPU).
pub fn mark(p: Phase) -> Option<u64> {
    let _irq = crate::sync::IrqOff::new();
    let tsc = MEASURE.mark_now(p, &cpu::rdtsc).ok()?;
    trace(TraceArgs::PhaseMark { phase: p as u8, mark_tsc: tsc });
    seed_memory_levels();
    Some(tsc)
}

/// The memory levels at a phase's start belong to the phase: without this
/// a phase with no allocation or free would report no level at all (a
/// min/max nobody updated reads 0). Called at each mark and once the frame
/// allocator and heap exist.
pub fn seed_memory_levels() {
    let heap = crate::mm::heap::used() as u64;
    let f = crate::mm::frame::stats();
    let frames = (f.total - f.free) as u64;
    max(cat::memory::heap_peak, heap);
    min(cat::memory::heap_low, heap);
    max(cat::memory::frames_peak, frames);
    min(cat::memory::frames_low, frames);
}

pub fn load_map(pid: u32, binary: &str, base: u64) {
    let mut maps = LOAD_MAPS.lock();
    if maps.len() >= MAX_LOAD_MAPS {
        LOAD_MAPS_REFUSED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    maps.push((pid, String::from(binary), base));
}

/// Most frames of a sampled stack.
const STACK_FRAMES: usize = 16;

/// Sample-clock sample of the interrupted context (interrupts masked),
/// tagged with this CPU, the running thread and its process, and the mode.
///
/// The mode is never [`SampleMode::Interrupt`]: every IDT gate is an
/// interrupt gate (IF cleared on entry) and no handler unmasks, so the
/// sample interrupt, itself maskable, cannot land inside another handler.
pub fn sample(from_user: bool, rip: u64, rbp: u64) {
    let tsc = cpu::rdtsc();
    let cpu = me();
    let m = target();
    if m.is_stopped() {
        return; // no stack walk for a sample nobody will record
    }
    let who = crate::sched::try_with_current(|t| {
        let held = capos_measure::held::innermost(t.held_locks.load(Ordering::Relaxed));
        (t.process.as_ref().map_or(0, |p| p.pid), t.tref().to_u64(), t.is_idle(), held)
    });
    let (pid, tid, idle, lock) = who.unwrap_or((0, 0, false, None));
    let mode = match (from_user, idle) {
        (true, _) => SampleMode::User,
        (false, true) => SampleMode::Idle,
        (false, false) => SampleMode::Kernel,
    };
    let tag = SampleTag { cpu: cpu as u8, pid, tid, mode, lock };
    m.sample_pc(cpu, &tag, rip);
    let mut frames = [0u64; STACK_FRAMES];
    frames[0] = rip;
    let n = if from_user { user_stack(rbp, &mut frames) } else { kernel_stack(rbp, &mut frames) };
    m.sample_stack(cpu, &tag, &frames[..n], tsc);
}

/// Frame-pointer walk of a user stack through the checked user-copy path:
/// a bad frame pointer ends the walk, never faults the kernel.
fn user_stack(rbp: u64, out: &mut [u64; STACK_FRAMES]) -> usize {
    let t = crate::sched::current();
    let Some(space) = t.address_space.as_ref() else { return 1 };
    backtrace::walk(rbp, out, |fp| crate::proc::usermem::read_frame(space, fp))
}

fn kernel_stack(rbp: u64, out: &mut [u64; STACK_FRAMES]) -> usize {
    backtrace::walk(rbp, out, backtrace::read_kernel_frame)
}

/// How long the freeze waits for the other CPUs' ticks.
const QUIESCE_MS: u64 = 200;

/// After [`Measure::stop`]: waits until every other online CPU has taken
/// two timer ticks (or [`QUIESCE_MS`] passed) and returns how many did not.
///
/// A probe that began before its CPU saw the stop may still be writing.
/// Probes that run with interrupts masked (lock statistics, tick samples,
/// trace events) cannot straddle a tick: once a CPU has counted two ticks
/// since the stop, the one in progress at the stop (if any) and everything
/// masked before it are done, and the stop flag was set before the first
/// of the two (the tick count is a locked add, the stop a locked swap), so
/// every later probe there sees the stop and does nothing.
fn quiesce() -> u64 {
    let me = me();
    let cpus = (percpu::online_count() as usize).min(crate::arch::x86_64::percpu::MAX_CPUS);
    let ticks = |i: usize| crate::sched::cpu_stats(i).ticks.load(Ordering::SeqCst);
    let start: Vec<u64> = (0..cpus).map(ticks).collect();
    let deadline = cpu::rdtsc().saturating_add(tsc::hz() / 1000 * QUIESCE_MS);
    loop {
        let pending = (0..cpus).filter(|&i| i != me && ticks(i) < start[i] + 2).count() as u64;
        if pending == 0 || cpu::rdtsc() > deadline {
            return pending;
        }
        core::hint::spin_loop();
    }
}

/// Reads the report's end TSC and stops measurement, with interrupts
/// masked in between so no sample falls after the end stamp. A function of
/// its own, called before [`emit_report`] is entered: at 10 kHz under TCG
/// a sample interrupt taken in `emit_report` before its stop was recorded
/// with its PC in the emission. One pending meanwhile is taken after the
/// stop and records nothing.
#[inline(never)]
pub fn stop_for_report() -> u64 {
    let _irq = crate::sync::IrqOff::new();
    let end_tsc = cpu::rdtsc();
    MEASURE.stop();
    end_tsc
}

/// Sends the whole report (and the load maps) as defmt frames on COM2.
///
/// After [`stop_for_report`] (which returned `end_tsc`): waits for the
/// other CPUs' in-flight probes ([`quiesce`]), freezes a copy of everything
/// and streams the copy: the emission's own work (encoding, COM2 writes,
/// the ticks meanwhile) is in no reported number.
pub fn emit_report(end_tsc: u64) {
    let unquiesced_cpus = quiesce();
    let frozen = MEASURE.freeze();
    let clock = crate::arch::x86_64::lapic::deadline::rates();
    let instrument = super::calibrate::info().map(|i| InstrumentInfo {
        unquiesced_cpus,
        tick_hz: u64::from(clock.0),
        sample_hz: u64::from(clock.1),
        ..i
    });
    let info = ReportInfo {
        cpus: percpu::online_count() as u8,
        tsc_khz: tsc::hz() / 1000,
        end_tsc,
        instrument,
    };
    let mut buf = Vec::with_capacity(256);
    let mut send = |r: &Record| {
        buf.clear();
        capos_measure::encode(r, &mut buf);
        com2::send_record(&buf);
    };
    // Load maps first: the report ends with `End`, after which nothing counts.
    let maps = core::mem::take(&mut *LOAD_MAPS.lock());
    let refused = LOAD_MAPS_REFUSED.load(Ordering::Relaxed);
    if refused != 0 {
        crate::kprintln!(
            "kernel: measure: {refused} load maps refused (more than {MAX_LOAD_MAPS} processes)"
        );
    }
    for (pid, binary, base) in maps {
        send(&Record::LoadMap { pid: pid.into(), binary, base });
    }
    frozen.report(&info, &mut send);
}

/// Runs the boot calibration (`calibrate.rs`) and prints its figures.
pub fn report_calibration() {
    let i = super::calibrate::run();
    let c = i.cost;
    crate::kprintln!(
        "kernel: measure: accel {}; probe cycles/event (median of {} x {}): counter {} hist {} lock {} trace {} stack {}; hold correction {} (shared locks {})",
        i.accel.name(),
        i.batches,
        i.batch_events,
        c.counter,
        c.hist,
        c.lock,
        c.trace,
        c.stack,
        i.hold_correction,
        i.shared_hold_correction
    );
}
