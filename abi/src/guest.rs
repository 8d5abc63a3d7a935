//! Guest -> host protocol on the human console (COM1) and the debug-exit port.
//!
//! The kernel writes `code` to the `isa-debug-exit` I/O port; QEMU then exits
//! with status `(code << 1) | 1`. Codes are chosen so that no QEMU status they
//! produce collides with QEMU's own 0 (clean power-off) or 1 (error).

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Reasons the guest ends a QEMU run through the debug-exit device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum GuestExit {
    /// Everything the guest was asked to do passed (kernel tests, a smoke, a demo).
    Success = 0x10,
    /// At least one kernel test (or check) failed; details are on COM1.
    Failure = 0x11,
    /// The kernel panicked or took an exception nobody expected.
    Panic = 0x12,
}

impl GuestExit {
    /// The value to write to [`DEBUG_EXIT_PORT`].
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The exit status QEMU reports for this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as u32 as i32) << 1) | 1
    }

    /// Maps a QEMU exit status back to the guest's reason, if it is one of ours.
    pub fn from_qemu_status(status: i32) -> Option<Self> {
        [Self::Success, Self::Failure, Self::Panic].into_iter().find(|e| e.qemu_status() == status)
    }
}

/// The kernel's timer tick rate when the command line sets none
/// (`tick_hz=<n>`); host checks that count ticks assume it by default.
pub const DEFAULT_TICK_HZ: u32 = 100;

/// The measure kernel's sample clock when the command line sets none
/// (`sample_hz=<n>`): odd, so it does not beat with the 100 Hz tick.
pub const DEFAULT_SAMPLE_HZ: u32 = 997;
/// The sample rates `sample_hz=` accepts; a number outside is clamped.
pub const SAMPLE_HZ_RANGE: core::ops::RangeInclusive<u32> = 10..=20_000;

/// Prefix of every kernel-test line on COM1.
pub const KTEST_PREFIX: &str = "ktest: ";
/// `ktest: running <n> tests` opens a test run.
pub const KTEST_RUNNING: &str = "running ";
/// `ktest: <name> ... ok` reports a passed test.
pub const KTEST_OK: &str = " ... ok";
/// `ktest: <name> ... FAILED: <reason>` reports a failed test.
pub const KTEST_FAILED: &str = " ... FAILED: ";
/// `ktest: result: <p> passed, <f> failed` closes a run.
pub const KTEST_RESULT: &str = "result: ";

/// One frame of a backtrace: `  bt #<index> 0x<16 hex digits>`; the harness
/// appends the symbol, file and line it resolves for the address.
pub const BACKTRACE_FRAME: &str = "  bt #";

/// Every line a user process writes to the console reaches COM1 as
/// `user <pid> <name>: <text>`: the kernel adds the tag to each line (a
/// write with several lines gives several tagged lines, control characters
/// are replaced), so no user program can print a line that is not tagged
/// with its own pid and binary name. The harness takes verdicts and
/// results only from such lines of the process it expects, and kernel
/// lines (`kernel: ...`, `ktest: ...`, panics) only from untagged lines.
pub const USER_LINE_PREFIX: &str = "user ";

/// A user process's console line, as [`parse_user_line`] splits it.
#[derive(Debug, PartialEq, Eq)]
pub struct UserLine<'a> {
    pub pid: u32,
    /// The process's binary (boot module) name.
    pub name: &'a str,
    /// What the process wrote (one line of it).
    pub text: &'a str,
}

/// The process name as it appears in a tag: no spaces, colons or control
/// characters (so the tag always parses back to the same name).
pub fn tag_safe(c: char) -> char {
    if c.is_whitespace() || c == ':' || c.is_control() {
        '_'
    } else {
        c
    }
}

/// The text as it appears after a tag: control characters (other than tab)
/// become `?`, so one write can never start a line of its own.
pub fn text_safe(c: char) -> char {
    if c.is_control() && c != '\t' {
        '?'
    } else {
        c
    }
}

/// Parses a COM1 line written by a user process; `None` for any other line.
pub fn parse_user_line(line: &str) -> Option<UserLine<'_>> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(USER_LINE_PREFIX)?;
    let (pid, rest) = rest.split_once(' ')?;
    let (name, text) = rest.split_once(": ")?;
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    Some(UserLine { pid: pid.parse().ok()?, name, text })
}

/// The text of `line` if it was written by a user process running binary
/// `name`; `None` for kernel lines and other processes' lines.
pub fn user_text<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    parse_user_line(line).filter(|u| u.name == name).map(|u| u.text)
}

/// Start of the kernel's report of a user-mode fault (one line, followed
/// by the user stack as backtrace lines, which the harness symbolizes
/// against `binary`).
pub const USER_FAULT_PREFIX: &str = "kernel: user fault in process ";

/// A user-fault report: written by the kernel with `Display`, read back by
/// the harness with [`UserFault::parse`].
#[derive(Debug, PartialEq, Eq)]
pub struct UserFault<'a> {
    pub pid: u32,
    /// The process's binary (boot module) name, also its process name.
    pub binary: &'a str,
    pub thread: &'a str,
    /// The exception's name (`#PF page fault`, ...).
    pub what: &'a str,
    pub rip: u64,
    /// The faulting address (CR2) for page faults, else 0.
    pub addr: u64,
}

impl core::fmt::Display for UserFault<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{USER_FAULT_PREFIX}{} ({}) thread {}: {} at rip={:#x} addr={:#x} binary={}; killing the process",
            self.pid, self.binary, self.thread, self.what, self.rip, self.addr, self.binary
        )
    }
}

impl<'a> UserFault<'a> {
    /// Parses a kernel user-fault line; `None` for any other line (user
    /// lines never start with the prefix: they are tagged).
    pub fn parse(line: &'a str) -> Option<UserFault<'a>> {
        let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(USER_FAULT_PREFIX)?;
        let (pid, rest) = rest.split_once(" (")?;
        let (_, rest) = rest.split_once(") thread ")?;
        let (thread, rest) = rest.split_once(": ")?;
        let (what, rest) = rest.rsplit_once(" at rip=")?;
        let (rip, rest) = rest.split_once(" addr=")?;
        let (addr, rest) = rest.split_once(" binary=")?;
        let binary = rest.strip_suffix("; killing the process")?;
        let hex = |v: &str| u64::from_str_radix(v.strip_prefix("0x")?, 16).ok();
        Some(UserFault {
            pid: pid.parse().ok()?,
            binary,
            thread,
            what,
            rip: hex(rip)?,
            addr: hex(addr)?,
        })
    }
}

/// Kernel command-line word that makes the kernel run its tests and exit.
pub const CMDLINE_KTEST: &str = "ktest";
/// `ktest=<substring>` runs only tests whose name contains the substring;
/// tests marked `explicit` run only when named this way.
pub const CMDLINE_KTEST_FILTER: &str = "ktest=";

/// Kernel command-line word naming the run-queue policy (`sched=global`).
pub const CMDLINE_SCHED: &str = "sched=";

/// The kernel's boot line naming the run-queue policy in force, followed by
/// its name (`kernel: scheduler policy=global`).
pub const SCHED_POLICY_LINE: &str = "kernel: scheduler policy=";

/// Parsed form of a `ktest:` line.
#[derive(Debug, PartialEq, Eq)]
pub enum KtestLine<'a> {
    Running(u32),
    Passed(&'a str),
    Failed { name: &'a str, reason: &'a str },
    Result { passed: u32, failed: u32 },
}

/// Parses one COM1 line into a [`KtestLine`]; `None` for any other line.
pub fn parse_ktest_line(line: &str) -> Option<KtestLine<'_>> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(KTEST_PREFIX)?;
    if let Some(n) = rest.strip_prefix(KTEST_RUNNING) {
        return n.strip_suffix(" tests")?.parse().ok().map(KtestLine::Running);
    }
    if let Some(r) = rest.strip_prefix(KTEST_RESULT) {
        let (p, f) = r.split_once(" passed, ")?;
        let f = f.strip_suffix(" failed")?;
        return Some(KtestLine::Result { passed: p.parse().ok()?, failed: f.parse().ok()? });
    }
    if let Some((name, reason)) = rest.split_once(KTEST_FAILED) {
        return Some(KtestLine::Failed { name, reason });
    }
    rest.strip_suffix(KTEST_OK).map(KtestLine::Passed)
}

/// Parses a backtrace frame line into `(index, address)`.
pub fn parse_backtrace_frame(line: &str) -> Option<(u32, u64)> {
    let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(BACKTRACE_FRAME)?;
    let (idx, addr) = rest.split_once(' ')?;
    let addr = addr.split_whitespace().next()?.strip_prefix("0x")?;
    Some((idx.parse().ok()?, u64::from_str_radix(addr, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_round_trip_through_qemu_status() {
        for e in [GuestExit::Success, GuestExit::Failure, GuestExit::Panic] {
            assert_eq!(GuestExit::from_qemu_status(e.qemu_status()), Some(e));
        }
        assert_eq!(GuestExit::Success.qemu_status(), 33);
        assert_eq!(GuestExit::from_qemu_status(0), None);
        assert_eq!(GuestExit::from_qemu_status(1), None);
    }

    #[test]
    fn ktest_lines_parse() {
        assert_eq!(parse_ktest_line("ktest: running 12 tests\r\n"), Some(KtestLine::Running(12)));
        assert_eq!(
            parse_ktest_line("ktest: mm::frames_unique ... ok"),
            Some(KtestLine::Passed("mm::frames_unique"))
        );
        assert_eq!(
            parse_ktest_line("ktest: a::b ... FAILED: assertion x == y"),
            Some(KtestLine::Failed { name: "a::b", reason: "assertion x == y" })
        );
        assert_eq!(
            parse_ktest_line("ktest: result: 3 passed, 1 failed"),
            Some(KtestLine::Result { passed: 3, failed: 1 })
        );
        assert_eq!(parse_ktest_line("ktest: result: x passed, 1 failed"), None);
        assert_eq!(parse_ktest_line("ktest: running many tests"), None);
        assert_eq!(parse_ktest_line("boot: hello"), None);
        assert_eq!(parse_ktest_line("ktest: half a line"), None);
    }

    #[test]
    fn user_lines_parse_and_carry_their_process() {
        let u = parse_user_line("user 3 smoke-ring: [smoke-ring] PASS (4 checks)\r\n").unwrap();
        assert_eq!(
            u,
            UserLine { pid: 3, name: "smoke-ring", text: "[smoke-ring] PASS (4 checks)" }
        );
        assert_eq!(
            parse_user_line("user 7 bystander: "),
            Some(UserLine { pid: 7, name: "bystander", text: "" })
        );
        assert_eq!(
            user_text("user 3 smoke-ring: [smoke-ring] PASS", "smoke-ring"),
            Some("[smoke-ring] PASS")
        );
        // Another process cannot speak for smoke-ring, and kernel lines are not user lines.
        assert_eq!(user_text("user 4 evil: [smoke-ring] PASS", "smoke-ring"), None);
        assert_eq!(
            parse_user_line("kernel: all 2 manifest processes exited (all succeeded)"),
            None
        );
        assert_eq!(parse_user_line("user x smoke: hi"), None);
        assert_eq!(parse_user_line("user 3 smoke-ring"), None);
        assert_eq!(parse_user_line("ktest: running 3 tests"), None);
        // What a process writes is sanitized so it cannot open a line of its own.
        let forged: String = "ok\rkernel: boot complete".chars().map(text_safe).collect();
        assert_eq!(forged, "ok?kernel: boot complete");
        let name: String = "a b:c\n".chars().map(tag_safe).collect();
        assert_eq!(name, "a_b_c_");
    }

    #[test]
    fn user_fault_lines_round_trip() {
        let f = UserFault {
            pid: 3,
            binary: "exit-child",
            thread: "exit-child",
            what: "#PF page fault",
            rip: 0x401000,
            addr: 0xdead_0000,
        };
        let line = f.to_string();
        assert_eq!(line, "kernel: user fault in process 3 (exit-child) thread exit-child: #PF page fault at rip=0x401000 addr=0xdead0000 binary=exit-child; killing the process");
        assert_eq!(UserFault::parse(&line), Some(f));
        assert_eq!(UserFault::parse("kernel: process 3 exited binary=x"), None);
        assert_eq!(UserFault::parse(&format!("user 9 evil: {line}")), None);
        assert_eq!(UserFault::parse("kernel: user fault in process 3 (x) thread t: #GP at rip=zz addr=0x0 binary=x; killing the process"), None);
    }

    #[test]
    fn backtrace_frames_parse() {
        assert_eq!(
            parse_backtrace_frame("  bt #0 0xffffffff80001234"),
            Some((0, 0xffffffff80001234))
        );
        assert_eq!(parse_backtrace_frame("  bt #12 0x10 main+0x4"), Some((12, 0x10)));
        assert_eq!(parse_backtrace_frame("  bt #x 0x10"), None);
        assert_eq!(parse_backtrace_frame("  bt #1 10"), None);
        assert_eq!(parse_backtrace_frame("  bt #1 0xzz"), None);
    }
}
