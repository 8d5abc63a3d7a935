//! `measure.log`: one text line per fact, in the seed's shape.
//!
//! ```text
//! measure: begin version=2 cpus=4 tsc_khz=2000000 catalogue=0x...
//! measure: instrument accel=tcg counter_cycles=9 hist_cycles=11 lock_cycles=160 trace_cycles=30 stack_cycles=900 hold_correction=70 shared_hold_correction=55 batches=9 batch_events=256 unquiesced_cpus=0 tick_hz=100 sample_hz=997
//! # losses: user_pc_overflow=0 ... trace_dropped=0
//! # ... (the instrument's limits, see `limits.rs`)
//! measure: load_map pid=3 binary=thread_scale base=0x400000
//! measure: checkpoint name=work tsc=123456
//! measure: phase name=work cycles=456
//! measure: scheduler_lock phase=work acquisitions=15 contended=5 ...
//! measure: scheduler_lock_site phase=work site=timer_select acquisitions=...
//! measure: scheduler_lock_hist phase=work kind=wait buckets=3:10,4:2
//! measure: user_pc_sample phase=work cpu=1 pid=3 tid=0x100000004 mode=user lock=- pc=0x401000 count=9
//! measure: user_stack_sample phase=work cpu=1 pid=3 tid=0x100000004 mode=user lock=- count=2 frames=0x401000,0x401200
//! measure: contention_stack phase=work class=scheduler_lock lock=timer_select count=3 wait_cycles=120000 frames=0xffffffff80001234,0xffffffff80005678
//! measure: trace cpu=1 tsc=99 kind=context_switch prev=0x7 next=0x9 prev_state=0x1
//! measure: thread_counts phase=work pid=2 thread=0x100000003 syscalls=0 ring_sqes=0
//! measure: trace_dropped cpu=1 dropped=0
//! measure: cpu_time phase=work cpu=1 user=1900000 kernel=60000 lock_spin=2000 irq=9000 shootdown=0 idle=25000 measure=4000
//! measure: thread_time phase=work pid=3 thread=0x100000004 running=900000 runnable=20000 blocked_sleep=400000 blocked_park=0 blocked_join=0 blocked_ipc=0 blocked_cap_enter=0 blocked_exit_wait=0 blocked_other=0
//! measure: run_delay phase=work cpu=1 kind=wake count=3 sum=2710 buckets=33:1,35:2
//! measure: run_delay_worst phase=work cpu=1 kind=wake cycles=1010 thread=0x100000004 pid=3 waker=0x100000002 frames=0xffffffff80001000
//! measure: offcpu_stack phase=work reason=sleep count=6 blocked_cycles=3223990406 frames=0xffffffff80001234,0xffffffff80005678
//! measure: thread_name thread=0x100000004 pid=3 name=worker-1
//! measure: stack_def id=17 cpu=1 pid=3 tid=0x100000004 mode=user lock=- frames=0x401000,0x401200
//! measure: timed_samples cpu=1 samples=123456789:17,2005210:17,1998034:0
//! measure: end tsc=999 records=812 lost=0
//! ```
//!
//! Every declared field of every group is printed for every reported phase,
//! zeros included; an empty histogram prints `buckets=` with nothing after.
//! Binary names are percent-escaped so a line always splits on spaces.
//! The `#` lines after `begin` state the instrument's limits (losses,
//! accelerator, probe cost, hold correction); readers skip them.

use std::fmt::Write;

use crate::instrument_info::InstrumentInfo;
use crate::lock_pairs::site_name;
use crate::phase::Phase;
use crate::record::{ContentionClass, Mode, SampleTag, TIMED_BATCH, WIRE_VERSION};
use crate::report::Report;

impl Report {
    /// `timed_samples` lines: each CPU's run of samples, [`TIMED_BATCH`]
    /// per line.
    fn write_timed(&self, out: &mut String) {
        let mut i = 0;
        while i < self.timed_samples.len() {
            let cpu = self.timed_samples[i].cpu;
            let run = self.timed_samples[i..]
                .iter()
                .take(TIMED_BATCH)
                .take_while(|s| s.cpu == cpu)
                .collect::<Vec<_>>();
            let mut prev = 0u64;
            let list: Vec<String> = run
                .iter()
                .map(|s| {
                    let dt = s.tsc.wrapping_sub(prev);
                    prev = s.tsc;
                    format!("{dt}:{}", s.stack)
                })
                .collect();
            let _ = writeln!(out, "{PREFIX}{TIMED_FAMILY} cpu={cpu} samples={}", list.join(","));
            i += run.len();
        }
    }
}

/// Line prefix of every measurement line.
pub const PREFIX: &str = "measure: ";

/// Suffix of a group's histogram family (`scheduler_lock_hist`).
pub const HIST_SUFFIX: &str = "_hist";

/// Line family of per-thread operation counts.
pub const THREAD_OPS_FAMILY: &str = "thread_counts";

/// Line family of CPU time by state.
pub const CPU_TIME_FAMILY: &str = "cpu_time";

/// Line family of thread time by state.
pub const THREAD_TIME_FAMILY: &str = "thread_time";

/// Line families of run-queue delays and the worst delay.
pub const RUN_DELAY_FAMILY: &str = "run_delay";
pub const RUN_DELAY_WORST_FAMILY: &str = "run_delay_worst";

/// Line family of off-CPU stacks.
pub const OFFCPU_FAMILY: &str = "offcpu_stack";

/// Line family of thread names.
pub const THREAD_NAME_FAMILY: &str = "thread_name";

/// Line family of the stacks time-ordered samples name.
pub const STACK_DEF_FAMILY: &str = "stack_def";

/// Line family of time-ordered samples (`samples=` lists `dt:id`, `dt` the
/// TSC minus the previous entry's on the line, the first one absolute).
pub const TIMED_FAMILY: &str = "timed_samples";

/// Line family of contention stacks.
pub const CONTENTION_FAMILY: &str = "contention_stack";

/// Line family of waiter/holder pairs of contended acquisitions.
pub const LOCK_PAIR_FAMILY: &str = "lock_pair";

/// `class=` and `lock=` text of a contention stack (numbers when unknown).
pub fn contention_names(class: u8, lock: u8) -> (String, String) {
    match ContentionClass::from_id(class) {
        Some(c) => (
            c.name().to_string(),
            c.lock_name(lock).map_or_else(|| lock.to_string(), str::to_string),
        ),
        None => (class.to_string(), lock.to_string()),
    }
}

/// Percent-escapes bytes that would break `key=value` splitting.
pub fn escape(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b'=' && b != b',' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

fn mode_prefix(mode: Mode) -> &'static str {
    mode.name()
}

impl Report {
    /// The report as `measure.log` text (one `\n`-terminated line per fact).
    pub fn to_measure_log(&self) -> String {
        let mut out = String::new();
        // `write!` into a String cannot fail; the results are ignored.
        if let Some(b) = &self.begin {
            let _ = writeln!(
                out,
                "{PREFIX}begin version={WIRE_VERSION} cpus={} tsc_khz={} catalogue={:#x}",
                b.cpus, b.tsc_khz, b.catalogue
            );
        }
        if let Some(i) = &self.instrument {
            let _ = write!(out, "{PREFIX}instrument accel={}", i.accel.name());
            for (key, value) in InstrumentInfo::KEYS.iter().zip(&i.numbers()[1..]) {
                let _ = write!(out, " {key}={value}");
            }
            out.push('\n');
        }
        for line in self.limits(Phase::Aggregate).lines() {
            let _ = writeln!(out, "# {line}");
        }
        for m in &self.load_maps {
            let _ = writeln!(
                out,
                "{PREFIX}load_map pid={} binary={} base={:#x}",
                m.pid,
                escape(&m.binary),
                m.base
            );
        }
        for (phase, tsc) in &self.checkpoints {
            let _ = writeln!(out, "{PREFIX}checkpoint name={} tsc={tsc}", phase.name());
        }
        for (phase, cycles) in &self.phase_cycles {
            let _ = writeln!(out, "{PREFIX}phase name={} cycles={cycles}", phase.name());
        }
        for line in self.group_lines() {
            let mut keys = format!(" phase={}", line.phase.name());
            if let Some((key, label)) = &line.dim {
                let _ = write!(keys, " {key}={label}");
            }
            let _ = write!(out, "{PREFIX}{}{keys}", line.group.name);
            for (name, value) in &line.values {
                let _ = write!(out, " {name}={value}");
            }
            out.push('\n');
            for (kind, buckets) in &line.hists {
                let list: Vec<String> = buckets.iter().map(|(b, n)| format!("{b}:{n}")).collect();
                let group = line.group.name;
                let _ = writeln!(
                    out,
                    "{PREFIX}{group}{HIST_SUFFIX}{keys} kind={kind} buckets={}",
                    list.join(",")
                );
            }
        }
        for ((phase, tag, pc), count) in &self.pc_samples {
            let _ = writeln!(
                out,
                "{PREFIX}{}_pc_sample phase={} {} pc={pc:#x} count={count}",
                mode_prefix(tag.family()),
                phase.name(),
                tag_text(tag)
            );
        }
        for ((phase, tag, frames), count) in &self.stack_samples {
            let frames: Vec<String> = frames.iter().map(|f| format!("{f:#x}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{}_stack_sample phase={} {} count={count} frames={}",
                mode_prefix(tag.family()),
                phase.name(),
                tag_text(tag),
                frames.join(",")
            );
        }
        for ((phase, class, lock, frames), (count, wait)) in &self.contention_stacks {
            let (class, lock) = contention_names(*class, *lock);
            let frames: Vec<String> = frames.iter().map(|f| format!("{f:#x}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{CONTENTION_FAMILY} phase={} class={class} lock={lock} count={count} wait_cycles={wait} frames={}",
                phase.name(),
                frames.join(",")
            );
        }
        for ((phase, class, waiter, holder), p) in &self.lock_pairs {
            let name = ContentionClass::from_id(*class)
                .map_or_else(|| class.to_string(), |c| c.name().to_string());
            let _ = writeln!(
                out,
                "{PREFIX}{LOCK_PAIR_FAMILY} phase={} class={name} waiter={} holder={} count={} wait_cycles={} cross_cpu={}",
                phase.name(),
                site_name(*class, *waiter),
                site_name(*class, *holder),
                p.count,
                p.wait_cycles,
                p.cross_cpu
            );
        }
        for e in &self.trace {
            let _ = write!(out, "{PREFIX}trace cpu={} tsc={} kind={}", e.cpu, e.tsc, e.kind.name());
            match e.args() {
                Some(args) => {
                    for (name, value) in args.named() {
                        let _ = write!(out, " {name}={value:#x}");
                    }
                }
                // Slots no kind can carry (a torn event): shown raw, and the
                // parser refuses the line rather than guess.
                None => {
                    let _ = write!(out, " flags={} a={:#x} b={:#x}", e.flags, e.a, e.b);
                }
            }
            let _ = writeln!(out);
        }
        for t in self.thread_ops.values() {
            let _ = writeln!(
                out,
                "{PREFIX}{THREAD_OPS_FAMILY} phase={} pid={} thread={:#x} syscalls={} ring_sqes={}",
                t.phase.name(),
                t.pid,
                t.thread,
                t.syscalls,
                t.ring_sqes
            );
        }
        for (cpu, dropped) in &self.trace_dropped {
            let _ = writeln!(out, "{PREFIX}trace_dropped cpu={cpu} dropped={dropped}");
        }
        for ((phase, cpu), cycles) in &self.cpu_time {
            let _ = write!(out, "{PREFIX}{CPU_TIME_FAMILY} phase={} cpu={cpu}", phase.name());
            for (state, c) in crate::cpu_time::CpuState::ALL.iter().zip(cycles) {
                let _ = write!(out, " {}={c}", state.name());
            }
            out.push('\n');
        }
        for t in self.thread_time.values() {
            let _ = write!(
                out,
                "{PREFIX}{THREAD_TIME_FAMILY} phase={} pid={} thread={:#x}",
                t.phase.name(),
                t.pid,
                t.thread
            );
            for (state, c) in crate::thread_time::ThreadState::all().zip(t.cycles) {
                let _ = write!(out, " {}={c}", state.name());
            }
            out.push('\n');
        }
        for ((phase, cpu, kind), (sum, buckets)) in &self.run_delay {
            let kind =
                crate::run_delay::DelayKind::from_id(u64::from(*kind)).map_or("?", |k| k.name());
            let count = buckets.values().fold(0u64, |a, n| a.saturating_add(*n));
            let list: Vec<String> = buckets.iter().map(|(b, n)| format!("{b}:{n}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{RUN_DELAY_FAMILY} phase={} cpu={cpu} kind={kind} count={count} sum={sum} buckets={}",
                phase.name(),
                list.join(",")
            );
        }
        for ((phase, cpu), w) in &self.run_delay_worst {
            let kind =
                crate::run_delay::DelayKind::from_id(u64::from(w.kind)).map_or("?", |k| k.name());
            let frames: Vec<String> = w.frames.iter().map(|f| format!("{f:#x}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{RUN_DELAY_WORST_FAMILY} phase={} cpu={cpu} kind={kind} cycles={} thread={:#x} pid={} waker={:#x} frames={}",
                phase.name(),
                w.cycles,
                w.thread,
                w.pid,
                w.waker,
                frames.join(",")
            );
        }
        for ((phase, reason, frames), (count, blocked)) in &self.offcpu_stacks {
            let reason =
                crate::thread_time::BlockReason::from_id(*reason).map_or("?", |r| r.name());
            let frames: Vec<String> = frames.iter().map(|f| format!("{f:#x}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{OFFCPU_FAMILY} phase={} reason={reason} count={count} blocked_cycles={blocked} frames={}",
                phase.name(),
                frames.join(",")
            );
        }
        for n in self.thread_names.values() {
            let _ = writeln!(
                out,
                "{PREFIX}{THREAD_NAME_FAMILY} thread={:#x} pid={} name={}",
                n.thread,
                n.pid,
                escape(&n.name)
            );
        }
        for (id, (tag, frames)) in &self.stack_defs {
            let frames: Vec<String> = frames.iter().map(|f| format!("{f:#x}")).collect();
            let _ = writeln!(
                out,
                "{PREFIX}{STACK_DEF_FAMILY} id={id} {} frames={}",
                tag_text(tag),
                frames.join(",")
            );
        }
        self.write_timed(&mut out);
        if let Some(e) = &self.end {
            let _ =
                writeln!(out, "{PREFIX}end tsc={} records={} lost={}", e.tsc, e.records, e.lost);
        }
        out
    }
}

/// A sample tag as `cpu= pid= tid= mode= lock=` (`lock=-` when none held).
fn tag_text(t: &SampleTag) -> String {
    let lock = t.lock.map_or_else(|| "-".to_string(), |l| l.name());
    format!("cpu={} pid={} tid={:#x} mode={} lock={lock}", t.cpu, t.pid, t.tid, t.mode.name())
}
