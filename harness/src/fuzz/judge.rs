//! Judging one fuzz run from its console: did the kernel survive (no
//! panic, guest exit Success, the parent's PASS line) and did the guest
//! plan exactly the ops the seed says (its plan line equals the one the
//! host computes with the same `capos_fuzzplan` code).

use capos_abi::guest::GuestExit;
use capos_fuzzplan::args::ParentArgs;
use capos_fuzzplan::plan::Summary;

use crate::qemu::ExitKind;

/// What became of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The kernel panicked (or stopped the machine with the Panic code).
    Panic(String),
    /// QEMU had to be killed at the run's timeout.
    Hang(String),
    /// Anything else: a bad exit, no PASS line, a plan mismatch.
    Failure(String),
}

/// What the children did, from the parent's `[fuzz] child` lines (see
/// capos_fuzzplan::outcome for the words).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Children {
    pub finished: u32,
    pub killed: u32,
    pub stalled: u32,
    /// Ended by a lethal `exit_process`, a panic or bad arguments.
    pub other: u32,
    pub not_run: u32,
    /// Steps the finished and stalled children report having started
    /// (killed ones cannot report).
    pub steps: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub verdict: Verdict,
    pub children: Children,
    /// Guest time from the first spawn to the last child's exit.
    pub guest_ms: Option<u64>,
    /// Signs of trouble that do not fail the run (see [`suspects`]).
    pub suspects: Vec<String>,
}

/// Where the fuzzer faults on purpose (its lethal ops): the first frame
/// of a fault in one of these places, or at the unmapped address the
/// lethal ops jump to, is expected.
const DELIBERATE_FAULTS: [&str; 5] = [
    "ops_sys::lethal",
    "ops_sys::push_entry",
    "ops_sys::dead_ring",
    "ops_ring::scribble_on",
    "0x00000000dead0000",
];

/// User faults the fuzzer did not ask for (a program faulting somewhere
/// else, e.g. on a register or memory the kernel corrupted), and fuzz
/// children that panicked (exit 101: often an allocation failure or a
/// corrupted heap). Children dying is fine; these are worth a look.
pub fn suspects(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("user fault in process") && !l.contains("binary=exit-child") {
            let frame = lines.get(i + 1).filter(|f| f.trim_start().starts_with("bt #0"));
            let deliberate = frame.is_some_and(|f| DELIBERATE_FAULTS.iter().any(|d| f.contains(d)));
            if !deliberate {
                let at =
                    frame.and_then(|f| f.split_whitespace().nth(3)).unwrap_or("(no backtrace)");
                out.push(format!("unexpected fault: {} in {at}", l.trim()));
            }
        }
        if let Some(t) =
            fuzz_text(l).filter(|t| t.starts_with("[fuzz] child ") && t.ends_with(" exit=101"))
        {
            out.push(format!("child panicked: {t}"));
        }
    }
    out
}

/// The parent's line for a run with `args`.
pub fn pass_line(args: &ParentArgs) -> String {
    format!("[fuzz] PASS {args}")
}

/// The plan line the guest must print for `args`.
pub fn plan_line(args: &ParentArgs) -> String {
    format!("[fuzz] plan {args}: {}", Summary::of_run(args))
}

/// The text of a `[fuzz]` line (the kernel prefixes user output with
/// `user <pid> <name>: `).
fn fuzz_text(line: &str) -> Option<&str> {
    line.find("[fuzz] ").map(|i| line[i..].trim_end())
}

/// The first line that reports a kernel panic.
fn panic_text(lines: &[String]) -> Option<String> {
    let i = lines
        .iter()
        .position(|l| l.contains("!!! PANIC") || l.to_ascii_lowercase().contains("kernel panic"))?;
    // The panic message, then the "stopped" line if it follows shortly.
    let stop = lines[i..].iter().take(40).find(|l| l.contains("!!! kernel stopped"));
    Some(match stop {
        Some(s) => format!("{} / {}", lines[i].trim(), s.trim()),
        None => lines[i].trim().to_string(),
    })
}

fn children(lines: &[String]) -> Children {
    let mut c = Children::default();
    for l in lines.iter().filter_map(|l| fuzz_text(l)).filter(|l| l.starts_with("[fuzz] child ")) {
        if l.contains(" not run: ") {
            c.not_run += 1;
        } else if l.contains(" killed ") {
            c.killed += 1;
        } else if l.contains(" stalled ") {
            c.stalled += 1;
        } else if l.contains(" finished ") {
            c.finished += 1;
        } else {
            c.other += 1;
        }
        let ran = l.split_whitespace().find_map(|w| w.strip_prefix("ran=")?.parse::<u64>().ok());
        c.steps += ran.unwrap_or(0);
    }
    c
}

fn guest_ms(lines: &[String]) -> Option<u64> {
    lines
        .iter()
        .filter_map(|l| fuzz_text(l))
        .find_map(|l| l.strip_prefix("[fuzz] children done in ")?.strip_suffix(" ms")?.parse().ok())
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().filter_map(|l| fuzz_text(l)).any(|l| l == want)
}

/// Judges a run that ended by itself.
pub fn judge(args: &ParentArgs, lines: &[String], exit: ExitKind) -> Report {
    let verdict = if let Some(p) = panic_text(lines) {
        Verdict::Panic(p)
    } else if exit == ExitKind::Guest(GuestExit::Panic) {
        Verdict::Panic("the guest exited with the Panic code (no panic line on the console)".into())
    } else if exit != ExitKind::Guest(GuestExit::Success) {
        let why = lines
            .iter()
            .find(|l| l.contains("[fuzz] FAIL") || l.contains("FAILED"))
            .map_or(String::new(), |l| format!(": {}", l.trim()));
        Verdict::Failure(format!("{}{why}", exit.describe()))
    } else if !has(lines, &pass_line(args)) {
        Verdict::Failure(format!("no `{}` line", pass_line(args)))
    } else if !has(lines, &plan_line(args)) {
        let got = lines
            .iter()
            .filter_map(|l| fuzz_text(l))
            .find(|l| l.starts_with("[fuzz] plan "))
            .unwrap_or("none");
        Verdict::Failure(format!(
            "the guest planned other ops than the host: guest `{got}`, host `{}`",
            plan_line(args)
        ))
    } else {
        Verdict::Pass
    };
    Report {
        verdict,
        children: children(lines),
        guest_ms: guest_ms(lines),
        suspects: suspects(lines),
    }
}

/// Where each vCPU of a hung guest was: the header and first frame of each
/// vCPU in `stacks` (qemu::HANG_STACKS), e.g. `vcpu 1: ... at spin_lock+0x12`.
fn where_stuck(stacks: &[String]) -> String {
    let mut out = Vec::new();
    for (i, l) in stacks.iter().enumerate() {
        if let Some(head) = l.strip_prefix("vcpu ") {
            let cpu = head.split(':').next().unwrap_or("?");
            let state = if head.contains(" halted") { "halted" } else { "running" };
            let irqs = if head.contains("irqs=off") { " (irqs off)" } else { "" };
            let frame = stacks.get(i + 1).filter(|f| f.trim_start().starts_with("bt #0"));
            // `  bt #0 0x... function+0x12 at file:line (inlined ...)`: the function.
            let sym = frame.and_then(|f| f.split_whitespace().nth(3)).unwrap_or("?");
            out.push(format!("vcpu {cpu} {state}{irqs} at {sym}"));
        }
    }
    out.join("; ")
}

/// Judges a run whose QEMU was killed at the timeout, from what its
/// console showed until then (and, if recorded, where its vCPUs were).
pub fn judge_timeout(lines: &[String], stacks: &[String], timeout_s: u64) -> Report {
    let verdict = match panic_text(lines) {
        Some(p) => Verdict::Panic(format!("{p} (and the guest did not exit)")),
        None => {
            let last = match lines.iter().rev().find_map(|l| fuzz_text(l)) {
                Some(l) => format!("last: {l}"),
                None => "no [fuzz] line: the kernel never got the fuzzer running".to_string(),
            };
            let at = if stacks.is_empty() {
                String::new()
            } else {
                format!("; {}", where_stuck(stacks))
            };
            Verdict::Hang(format!("no exit within {timeout_s} s ({last}){at}"))
        }
    };
    Report {
        verdict,
        children: children(lines),
        guest_ms: guest_ms(lines),
        suspects: suspects(lines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ParentArgs {
        ParentArgs { seed: 9, ops: 40, children: 2, threads: capos_fuzzplan::args::DEFAULT_THREADS }
    }

    fn good_log(a: &ParentArgs) -> Vec<String> {
        vec![
            "kernel: hello".into(),
            format!("user 1 fuzz: {}", plan_line(a)),
            "user 1 fuzz: [fuzz] child 0: seed=0x1 ops=20 finished ran=20".into(),
            "user 1 fuzz: [fuzz] child 1: seed=0x2 ops=20 killed exit=-1014".into(),
            "user 1 fuzz: [fuzz] children done in 1500 ms".into(),
            format!("user 1 fuzz: {}", pass_line(a)),
        ]
    }

    const OK: ExitKind = ExitKind::Guest(GuestExit::Success);

    #[test]
    fn a_clean_run_passes_and_counts_its_children() {
        let a = args();
        let r = judge(&a, &good_log(&a), OK);
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(
            r.children,
            Children { finished: 1, killed: 1, steps: 20, ..Children::default() }
        );
        assert_eq!(r.guest_ms, Some(1500));
        assert_eq!(pass_line(&a), "[fuzz] PASS seed=9 ops=40 children=2");
    }

    #[test]
    fn panics_win_over_everything() {
        let a = args();
        let mut log = good_log(&a);
        log.insert(3, "!!! PANIC cpu=2: use after free at kernel/src/cap/ring.rs:99".into());
        log.insert(4, "  bt #0 0xffffffff80001234".into());
        log.insert(5, "!!! kernel stopped on cpu 2: panic".into());
        let Verdict::Panic(t) = judge(&a, &log, ExitKind::Guest(GuestExit::Panic)).verdict else {
            panic!("not a panic")
        };
        assert!(t.contains("use after free") && t.contains("kernel stopped"), "{t}");
        let v = judge(&a, &["Kernel panic: oops".to_string()], OK).verdict;
        assert!(matches!(v, Verdict::Panic(_)), "{v:?}");
        let v = judge(&a, &good_log(&a), ExitKind::Guest(GuestExit::Panic)).verdict;
        assert!(matches!(v, Verdict::Panic(t) if t.contains("no panic line")));
    }

    #[test]
    fn missing_pass_bad_exit_and_plan_mismatch_fail() {
        let a = args();
        let log: Vec<String> = good_log(&a).into_iter().filter(|l| !l.contains("PASS")).collect();
        assert!(
            matches!(judge(&a, &log, OK).verdict, Verdict::Failure(w) if w.contains("no `[fuzz] PASS seed=9"))
        );
        let v = judge(&a, &good_log(&a), ExitKind::Guest(GuestExit::Failure)).verdict;
        assert!(matches!(v, Verdict::Failure(w) if w.contains("Failure")));
        // A PASS line for another seed does not count.
        let other = ParentArgs { seed: 10, ..a };
        assert!(matches!(judge(&other, &good_log(&a), OK).verdict, Verdict::Failure(_)));
        let mut log = good_log(&a);
        log[1] = "user 1 fuzz: [fuzz] plan seed=9 ops=40 children=2: ops=40 digest=0x0".into();
        assert!(
            matches!(judge(&a, &log, OK).verdict, Verdict::Failure(w) if w.contains("planned other ops"))
        );
    }

    #[test]
    fn timeouts_are_hangs_unless_the_log_shows_a_panic() {
        let a = args();
        let log = good_log(&a)[..3].to_vec();
        let r = judge_timeout(&log, &[], 120);
        assert!(
            matches!(&r.verdict, Verdict::Hang(w) if w.contains("120 s") && w.contains("child 0")),
            "{:?}",
            r.verdict
        );
        let stacks: Vec<String> = [
            "vcpu 0: rip=0xffffffff80201000 rsp=0x1 cpl=0 halted",
            "  bt #0 0xffffffff80201000 capos_kernel::sched::idle+0x10 at kernel/src/sched/mod.rs:9",
            "vcpu 1: rip=0xffffffff80202000 rsp=0x1 cpl=0 irqs=off",
            "  bt #0 0xffffffff80202000 capos_kernel::sync::IrqSpinLock::lock+0x22 at kernel/src/sync.rs:40",
            "  bt #1 0xffffffff80203000 capos_kernel::cap::ring::post+0x5",
        ]
        .map(String::from)
        .to_vec();
        let Verdict::Hang(w) = judge_timeout(&log, &stacks, 120).verdict else {
            panic!("not a hang")
        };
        assert!(
            w.contains("vcpu 0 halted at capos_kernel::sched::idle+0x10")
                && w.contains(
                    "vcpu 1 running (irqs off) at capos_kernel::sync::IrqSpinLock::lock+0x22"
                ),
            "{w}"
        );
        let mut log = log;
        log.push("!!! PANIC cpu=0: deadlock detected".into());
        assert!(matches!(judge_timeout(&log, &[], 120).verdict, Verdict::Panic(_)));
    }

    #[test]
    fn stalled_and_unstarted_children_are_counted() {
        let lines: Vec<String> = [
            "user 1 fuzz: [fuzz] child 0: seed=0x1 ops=5 stalled ran=3 (workers unfinished at the deadline)",
            "user 1 fuzz: [fuzz] child 1: seed=0x2 ops=5 not run: OutOfResources",
            "user 1 fuzz: [fuzz] child 2: seed=0x3 ops=5 exit=-42",
            "user 1 fuzz: [fuzz] child 3: seed=0x4 ops=5 finished ran=5",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            children(&lines),
            Children {
                finished: 1,
                stalled: 1,
                not_run: 1,
                other: 1,
                steps: 8,
                ..Children::default()
            }
        );
    }

    #[test]
    fn faults_outside_the_lethal_ops_and_child_panics_are_suspects() {
        let lines: Vec<String> = [
            "kernel: user fault in process 4 (fuzz-child) thread user-thread: #UD invalid opcode at rip=0x40b9a1 addr=0x0 binary=fuzz-child; killing the process",
            "  bt #0 0x000000000040b9a1 capos_smokes::fuzz::ops_sys::lethal+0x141 at ops_sys.rs:157",
            "kernel: user fault in process 9 (exit-child) thread exit-child: #PF page fault at rip=0x40012e addr=0xdead0000 binary=exit-child; killing the process",
            "  bt #0 0x000000000040012e capos_main+0x11e",
            "kernel: user fault in process 5 (fuzz-child) thread user-thread: #PF page fault at rip=0xdead0000 addr=0xdead0000 binary=fuzz-child; killing the process",
            "  bt #0 0x00000000dead0000 <unmapped>",
            "kernel: user fault in process 6 (fuzz-child) thread user-thread: #PF page fault at rip=0x4006bd addr=0x38 binary=fuzz-child; killing the process",
            "  bt #0 0x00000000004006bd capos_smokes::fuzz::threads::thread_entry+0x6d at threads.rs:64",
            "user 1 fuzz: [fuzz] child 2: seed=0x3 ops=5 exit=101",
            "user 1 fuzz: [fuzz] child 3: seed=0x3 ops=5 exit=-101",
        ]
        .map(String::from)
        .to_vec();
        let s = suspects(&lines);
        assert_eq!(s.len(), 2, "{s:#?}");
        assert!(
            s[0].starts_with("unexpected fault: kernel: user fault in process 6")
                && s[0].ends_with("in capos_smokes::fuzz::threads::thread_entry+0x6d"),
            "{}",
            s[0]
        );
        assert_eq!(s[1], "child panicked: [fuzz] child 2: seed=0x3 ops=5 exit=101");
    }

    #[test]
    fn the_guest_words_for_child_exits_are_the_ones_parsed_here() {
        use capos_fuzzplan::outcome::ChildExit;
        let line = |e: ChildExit| vec![format!("[fuzz] child 0: seed=0x1 ops=5 {e}")];
        assert_eq!(children(&line(ChildExit::Finished { steps: 4 })).finished, 1);
        assert_eq!(
            children(&line(ChildExit::Stalled { steps: 4 })),
            Children { stalled: 1, steps: 4, ..Children::default() }
        );
        assert_eq!(children(&line(ChildExit::Other(-7))).other, 1);
    }
}
