//! The probes, samples, trace and report (compiled with `measure` only).

use super::com2;
use crate::arch::x86_64::{backtrace, cpu, percpu, tsc};
use crate::sync::IrqSpinLock;
use alloc::string::String;
use alloc::vec::Vec;
use capos_measure::catalogue::{self as cat, Segment};
use capos_measure::{
    Counter, Hist, Measure, Mode, Phase, Record, ReportInfo, TraceEvent, TraceKind,
};

/// All counters, samples and trace rings of this kernel.
pub static MEASURE: Measure = Measure::new();

/// Processes' load maps (pid, binary, base), reported with the samples: one
/// per distinct (binary, base), kept with the first pid that loaded it. A
/// binary always loads at the same base, so the list is bounded by the boot
/// modules however many processes are spawned (samples carry no pid yet;
/// the symbolizer resolves by binary and base).
static LOAD_MAPS: IrqSpinLock<Vec<(u32, String, u64)>> = IrqSpinLock::new(Vec::new());

fn me() -> usize {
    percpu::cpu_index() as usize
}

pub fn add(c: impl Into<Counter>, v: u64) {
    MEASURE.add(me(), c, v);
}

pub fn max(c: impl Into<Counter>, v: u64) {
    MEASURE.max(me(), c, v);
}

pub fn min(c: impl Into<Counter>, v: u64) {
    MEASURE.min(me(), c, v);
}

pub fn hist(h: impl Into<Hist>, v: u64) {
    MEASURE.hist(me(), h, v);
}

pub fn trace(kind: TraceKind, a: u64, b: u64, flags: u8) {
    let cpu = me();
    let _irq = crate::sync::IrqOff::new();
    MEASURE.trace(cpu, &TraceEvent { tsc: cpu::rdtsc(), kind, cpu: cpu as u8, flags, a, b });
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
pub fn mark(p: Phase, tsc: u64) -> bool {
    let _irq = crate::sync::IrqOff::new();
    let ok = MEASURE.mark(p, tsc).is_ok();
    if ok {
        trace(TraceKind::PhaseMark, p as u64, tsc, 0);
        seed_memory_levels();
    }
    ok
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
    if maps.iter().any(|(_, b, x)| b == binary && *x == base) {
        return;
    }
    maps.push((pid, String::from(binary), base));
}

/// Most frames of a sampled stack.
const STACK_FRAMES: usize = 16;

/// Timer-tick sample of the interrupted context (interrupts masked).
pub fn sample(from_user: bool, rip: u64, rbp: u64) {
    let cpu = me();
    let mode = if from_user { Mode::User } else { Mode::Kernel };
    MEASURE.sample_pc(cpu, mode, rip);
    let mut frames = [0u64; STACK_FRAMES];
    frames[0] = rip;
    let n = if from_user { user_stack(rbp, &mut frames) } else { kernel_stack(rbp, &mut frames) };
    MEASURE.sample_stack(cpu, mode, &frames[..n]);
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

/// Sends the whole report (and the load maps) as defmt frames on COM2.
pub fn emit_report() {
    let info = ReportInfo {
        cpus: percpu::online_count() as u8,
        tsc_khz: tsc::hz() / 1000,
        end_tsc: cpu::rdtsc(),
    };
    let mut buf = Vec::with_capacity(256);
    let mut send = |r: &Record| {
        buf.clear();
        capos_measure::encode(r, &mut buf);
        com2::send_record(&buf);
    };
    // Load maps first: the report ends with `End`, after which nothing counts.
    let maps = core::mem::take(&mut *LOAD_MAPS.lock());
    for (pid, binary, base) in maps {
        send(&Record::LoadMap { pid: pid.into(), binary, base });
    }
    MEASURE.report(&info, &mut send);
}
