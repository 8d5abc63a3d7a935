//! Running QEMU: command line, timeout, console capture with symbolized
//! backtraces, exit-status mapping, and never leaving QEMU behind.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use capos_abi::guest::GuestExit;
use capos_symbolize::Symbolizer;

use crate::accel::Accel;

pub const QEMU: &str = "qemu-system-x86_64";
/// Prefix of the kernel's own console lines (the loader's differ).
pub const KERNEL_LINE_PREFIX: &str = "kernel: ";

/// Pid of the QEMU currently running (0: none), for the Ctrl-C handler.
static QEMU_PID: AtomicI32 = AtomicI32::new(0);

/// Installs a Ctrl-C / SIGTERM handler that kills the running QEMU and exits.
pub fn install_interrupt_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        kill_running_qemu();
        eprintln!("harness: interrupted; QEMU killed");
        std::process::exit(130);
    })
    .context("cannot install the Ctrl-C handler")
}

fn kill_running_qemu() {
    let pid = QEMU_PID.swap(0, Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (the
        // guard clears QEMU_PID before waiting), so it cannot name a reused pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// How the guest is booted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootMedia {
    /// PVH loader via `-kernel`, the initrd archive via `-initrd`.
    Direct { loader: PathBuf, initrd: PathBuf },
    /// A Limine ISO via `-cdrom` (BIOS).
    Cdrom(PathBuf),
}

#[derive(Clone, Debug)]
pub struct QemuConfig {
    pub boot: BootMedia,
    pub smp: u32,
    pub mem: String,
    pub accel: Accel,
    pub timeout: Duration,
    /// Gets serial.log, com2.bin and qemu-stderr.log.
    pub run_dir: PathBuf,
    pub quiet: bool,
    /// ELFs to symbolize backtraces against, tried in order (kernel first).
    pub symbol_elfs: Vec<PathBuf>,
}

impl QemuConfig {
    pub fn serial_log(&self) -> PathBuf {
        self.run_dir.join("serial.log")
    }

    /// QEMU's arguments. `-nodefaults` drops the default NIC, VGA and drives;
    /// the explicit `-serial`s still create COM1 (stdio) and COM2 (file).
    pub fn args(&self) -> Vec<OsString> {
        let smp = self.smp.to_string();
        let mut a: Vec<OsString> =
            ["-nodefaults", "-M", "q35", "-cpu", "max", "-m", &self.mem, "-smp", &smp]
                .into_iter()
                .chain(["-accel", self.accel.qemu_arg()])
                .map(OsString::from)
                .collect();
        match &self.boot {
            BootMedia::Direct { loader, initrd } => {
                a.extend(["-kernel".into(), loader.into(), "-initrd".into(), initrd.into()]);
            }
            BootMedia::Cdrom(iso) => a.extend(["-cdrom".into(), iso.into()]),
        }
        let mut com2 = OsString::from("file:");
        com2.push(self.run_dir.join("com2.bin"));
        a.extend(
            ["-display", "none", "-no-reboot", "-serial", "stdio", "-serial"].map(OsString::from),
        );
        a.push(com2);
        a.push(OsString::from("-device"));
        a.push(OsString::from(format!(
            "isa-debug-exit,iobase={:#x},iosize=0x04",
            capos_abi::guest::DEBUG_EXIT_PORT
        )));
        a
    }
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// The guest wrote one of our codes to the debug-exit port.
    Guest(GuestExit),
    /// Status 0: the guest powered off (or reset, with `-no-reboot`).
    PoweredOff,
    /// Any other exit status (1 is QEMU's own error).
    Status(i32),
    /// QEMU was killed by a signal.
    Signal(i32),
}

impl ExitKind {
    pub fn from_status(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => ExitKind::PoweredOff,
            (Some(c), _) => {
                GuestExit::from_qemu_status(c).map_or(ExitKind::Status(c), ExitKind::Guest)
            }
            (None, Some(sig)) => ExitKind::Signal(sig),
            (None, None) => ExitKind::Status(-1),
        }
    }

    pub fn describe(self) -> String {
        match self {
            ExitKind::Guest(GuestExit::Success) => "guest reported Success".into(),
            ExitKind::Guest(GuestExit::Failure) => {
                "guest reported Failure (a test or check failed)".into()
            }
            ExitKind::Guest(GuestExit::Panic) => {
                "guest reported Panic (kernel panic or unexpected exception)".into()
            }
            ExitKind::PoweredOff => "guest powered off or reset (QEMU status 0)".into(),
            ExitKind::Status(1) => "QEMU failed (status 1; see qemu-stderr.log)".into(),
            ExitKind::Status(c) => format!("QEMU exited with unexpected status {c}"),
            ExitKind::Signal(s) => format!("QEMU was killed by signal {s}"),
        }
    }

    /// Ok for Success, and for a power-off when `allow_poweroff`.
    pub fn check(self, allow_poweroff: bool) -> Result<()> {
        match self {
            ExitKind::Guest(GuestExit::Success) => Ok(()),
            ExitKind::PoweredOff if allow_poweroff => Ok(()),
            other => bail!("{}", other.describe()),
        }
    }
}

/// What one QEMU run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit: ExitKind,
    /// Annotated COM1 lines.
    pub lines: Vec<String>,
    /// Host time from spawning QEMU to the first `kernel: ` line.
    pub first_kernel_line: Option<Duration>,
    pub serial_log: PathBuf,
}

impl RunOutcome {
    /// Warns when the kernel never printed its first line (the time to it
    /// was reported as it arrived).
    pub fn warn_if_kernel_silent(&self) {
        if self.first_kernel_line.is_none() {
            eprintln!("harness: warning: the kernel printed no `{KERNEL_LINE_PREFIX}` line");
        }
    }
}

/// Kills and reaps QEMU unless it was already waited for.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child present until finished")
    }

    fn finish(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.0.take().expect("child present until finished");
        let status = child.wait().context("waiting for QEMU");
        QEMU_PID.store(0, Ordering::SeqCst);
        status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            QEMU_PID.store(0, Ordering::SeqCst);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Annotates backtrace lines against the first ELF that maps the address.
/// Symbolizes `bt` lines: against the kernel and loader ELFs, or, right
/// after a `user fault ... binary=<name>` report, against that user binary.
struct Annotator {
    syms: Vec<Symbolizer>,
    /// (file name, index into `syms`) of user binaries.
    names: Vec<(String, usize)>,
    /// The user binary of the fault report being printed, if any.
    user: Option<usize>,
}

/// The `binary=<name>` of a kernel user-fault line.
pub fn user_fault_binary(line: &str) -> Option<&str> {
    capos_abi::guest::UserFault::parse(line).map(|f| f.binary)
}

impl Annotator {
    fn load(paths: &[PathBuf]) -> Self {
        let mut syms = Vec::new();
        let mut names = Vec::new();
        for p in paths {
            match Symbolizer::from_path(p) {
                Ok(s) => {
                    if let Some(n) = p.file_name().and_then(|n| n.to_str()) {
                        names.push((n.to_string(), syms.len()));
                    }
                    syms.push(s);
                }
                Err(e) => eprintln!(
                    "harness: warning: backtraces will not be symbolized against {}: {e}",
                    p.display()
                ),
            }
        }
        Annotator { syms, names, user: None }
    }

    fn annotate(&mut self, line: &str) -> String {
        if let Some(b) = user_fault_binary(line) {
            self.user = self.names.iter().find(|(n, _)| n == b).map(|&(_, i)| i);
            return line.to_string();
        }
        if capos_abi::guest::parse_backtrace_frame(line).is_none() {
            self.user = None;
        } else if let Some(i) = self.user {
            return self.syms[i].annotate_line(line);
        }
        self.annotate_any(line)
    }

    fn annotate_any(&self, line: &str) -> String {
        let mut fallback = None;
        for s in &self.syms {
            let out = s.annotate_line(line);
            if !out.ends_with("<unmapped>") {
                return out;
            }
            fallback.get_or_insert(out);
        }
        fallback.unwrap_or_else(|| line.to_string())
    }
}

enum Event {
    Line(Instant, Vec<u8>),
}

fn spawn_line_reader<R: Read + Send + 'static>(
    input: R,
    tx: mpsc::Sender<Event>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut r = BufReader::new(input);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(Event::Line(Instant::now(), std::mem::take(&mut buf))).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

fn spawn_stderr_copier<R: Read + Send + 'static>(
    input: R,
    log: PathBuf,
) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut file = File::create(&log).ok();
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(input).lines().map_while(Result::ok) {
            eprintln!("qemu: {line}");
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
        tail
    })
}

/// Boots QEMU with `cfg` and follows it to the end. `Err` when QEMU cannot
/// start or runs past the timeout (it is killed then); the guest's exit is
/// in the outcome for the caller to judge.
pub fn run(cfg: &QemuConfig) -> Result<RunOutcome> {
    run_impl(cfg, false)
}

/// Like [`run`], but a guest that runs past the timeout is first stopped
/// and every vCPU's stack written, symbolized, to `hang-stacks.txt` in the
/// run directory (see `hangdump`).
pub fn run_watched(cfg: &QemuConfig) -> Result<RunOutcome> {
    run_impl(cfg, true)
}

/// Name of the file [`run_watched`] writes for a hung guest.
pub const HANG_STACKS: &str = "hang-stacks.txt";

/// Stops the hung guest behind `sock` and writes its vCPU stacks.
fn record_hang(sock: &std::path::Path, cfg: &QemuConfig, annotator: &Annotator) -> Option<PathBuf> {
    let lines = match crate::hangdump::dump(sock, cfg.smp) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("harness: warning: could not record where the hung guest is: {e:#}");
            return None;
        }
    };
    let text: String = lines.iter().map(|l| annotator.annotate_any(l) + "\n").collect();
    let path = cfg.run_dir.join(HANG_STACKS);
    std::fs::write(&path, text).ok()?;
    Some(path)
}

fn run_impl(cfg: &QemuConfig, watch: bool) -> Result<RunOutcome> {
    std::fs::create_dir_all(&cfg.run_dir)
        .with_context(|| format!("cannot create {}", cfg.run_dir.display()))?;
    let serial_path = cfg.serial_log();
    let mut serial = std::io::BufWriter::new(
        File::create(&serial_path)
            .with_context(|| format!("cannot create {}", serial_path.display()))?,
    );
    let mut annotator = Annotator::load(&cfg.symbol_elfs);

    let mut cmd = Command::new(QEMU);
    cmd.args(cfg.args()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let monitor = watch.then(crate::hangdump::socket_path);
    if let Some(sock) = &monitor {
        cmd.args(crate::hangdump::monitor_args(sock));
    }
    // Own process group: a terminal Ctrl-C reaches only the harness, whose
    // handler kills QEMU deliberately.
    cmd.process_group(0);
    // SAFETY: getpid is async-signal-safe and runs before fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid) without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The harness died between fork and prctl: do not outlive it.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }

    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {QEMU} (is qemu-system-x86 installed?)"))?;
    QEMU_PID.store(child.id() as i32, Ordering::SeqCst);
    let mut guard = ChildGuard(Some(child));
    let stdout = guard.child().stdout.take().context("QEMU stdout")?;
    let stderr = guard.child().stderr.take().context("QEMU stderr")?;
    let (tx, rx) = mpsc::channel();
    let reader = spawn_line_reader(stdout, tx);
    let stderr_thread = spawn_stderr_copier(stderr, cfg.run_dir.join("qemu-stderr.log"));

    let deadline = start + cfg.timeout;
    let mut lines = Vec::new();
    let mut first_kernel_line = None;
    let timed_out = loop {
        let now = Instant::now();
        if now >= deadline {
            break true;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(Event::Line(at, bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim_end_matches(['\n', '\r']);
                if first_kernel_line.is_none() && text.starts_with(KERNEL_LINE_PREFIX) {
                    let after = at.duration_since(start);
                    first_kernel_line = Some(after);
                    eprintln!("harness: first kernel line after {} ms", after.as_millis());
                }
                let annotated = annotator.annotate(text);
                if !cfg.quiet {
                    println!("{annotated}");
                }
                writeln!(serial, "{annotated}")
                    .with_context(|| format!("writing {}", serial_path.display()))?;
                lines.push(annotated);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // QEMU closed its stdout: it has exited (or is about to).
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    serial.flush().with_context(|| format!("writing {}", serial_path.display()))?;

    let status = if timed_out {
        None
    } else {
        // Stdout is closed; give QEMU the rest of the budget to exit.
        loop {
            if let Some(st) = guard.child().try_wait().context("waiting for QEMU")? {
                break Some(st);
            }
            if Instant::now() >= deadline {
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    };
    if status.is_none() {
        let stacks = monitor.as_deref().and_then(|sock| record_hang(sock, cfg, &annotator));
        drop(guard); // kills and reaps QEMU
        let _ = reader.join();
        let _ = stderr_thread.join();
        if let Some(sock) = &monitor {
            let _ = std::fs::remove_file(sock);
        }
        let stacks = stacks.map_or(String::new(), |p| format!("; vCPU stacks in {}", p.display()));
        bail!(
            "QEMU timed out after {} s and was killed (console so far: {}{stacks})",
            cfg.timeout.as_secs(),
            serial_path.display()
        );
    }
    if let Some(sock) = &monitor {
        let _ = std::fs::remove_file(sock);
    }
    let status = guard.finish()?;
    let _ = reader.join();
    let stderr_tail = stderr_thread.join().unwrap_or_default();
    let exit = ExitKind::from_status(status);
    if exit == ExitKind::Status(1) && !stderr_tail.is_empty() {
        bail!("{QEMU} failed (status 1):\n  {}", stderr_tail.join("\n  "));
    }
    Ok(RunOutcome { exit, lines, first_kernel_line, serial_log: serial_path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_fault_lines_name_their_binary() {
        let l = "kernel: user fault in process 3 (exit-child) thread t: #PF page fault at rip=0x401000 addr=0xdead0000 binary=exit-child; killing the process";
        assert_eq!(user_fault_binary(l), Some("exit-child"));
        assert_eq!(user_fault_binary("kernel: process 3 exited binary=x"), None);
        assert_eq!(user_fault_binary("  bt #0 0x401000"), None);
    }

    fn cfg(boot: BootMedia) -> QemuConfig {
        QemuConfig {
            boot,
            smp: 2,
            mem: "512M".into(),
            accel: Accel::Tcg,
            timeout: Duration::from_secs(5),
            run_dir: "/runs/x".into(),
            quiet: true,
            symbol_elfs: vec![],
        }
    }

    fn joined(c: &QemuConfig) -> String {
        c.args().iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn direct_boot_command_line() {
        let c = cfg(BootMedia::Direct {
            loader: "/b/capos-boot".into(),
            initrd: "/runs/x/initrd.tar".into(),
        });
        assert_eq!(
            joined(&c),
            "-nodefaults -M q35 -cpu max -m 512M -smp 2 -accel tcg,thread=multi \
             -kernel /b/capos-boot -initrd /runs/x/initrd.tar -display none -no-reboot \
             -serial stdio -serial file:/runs/x/com2.bin -device isa-debug-exit,iobase=0xf4,iosize=0x04"
        );
    }

    #[test]
    fn cdrom_boot_command_line() {
        let c = cfg(BootMedia::Cdrom("/runs/x/capos.iso".into()));
        let s = joined(&c);
        assert!(s.contains("-cdrom /runs/x/capos.iso"));
        assert!(!s.contains("-kernel") && !s.contains("-initrd"));
    }

    /// A 32-bit PVH guest: prints to COM1 and COM2, then writes `EXITCODE`
    /// to the debug-exit port (or halts forever with `NOEXIT`).
    const TINY_GUEST: &str = r#"
    .code32
    .text
    .globl _start
_start:
    mov $0x3f8, %dx
    lea msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov $0x2f8, %dx
    mov $'Z', %al
    out %al, %dx
.ifndef NOEXIT
    mov $0xf4, %dx
    mov $EXITCODE, %eax
    out %eax, %dx
.endif
3:  hlt
    jmp 3b
msg: .ascii "boot: tiny\nkernel: hello\n  bt #0 0x0000000000100000\n"
    .ascii "ktest: running 1 tests\nktest: tiny::ok ... ok\nktest: result: 1 passed, 0 failed\n"
    .asciz "no newline at the end"
    .section .note.pvh, "a"
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
"#;

    /// Assembles the tiny guest; `None` when the tools or QEMU are missing.
    fn tiny_guest(dir: &std::path::Path, defsym: &str) -> Option<PathBuf> {
        let have = |t: &str| crate::iso::find_in_path(t).is_some();
        if let Some(missing) = ["as", "ld", QEMU].into_iter().find(|t| !have(t)) {
            crate::tools::tool_missing(missing);
            return None;
        }
        let src = dir.join("guest.S");
        std::fs::write(&src, TINY_GUEST).unwrap();
        let obj = dir.join("guest.o");
        let elf = dir.join(format!("guest-{}.elf", defsym.replace('=', "-")));
        let ok = Command::new("as")
            .args(["--32", "--defsym", defsym])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap();
        assert!(ok.success());
        let ok = Command::new("ld")
            .args(["-m", "elf_i386", "-Ttext=0x100000", "-o"])
            .arg(&elf)
            .arg(&obj)
            .status()
            .unwrap();
        assert!(ok.success());
        Some(elf)
    }

    fn tiny_cfg(
        dir: &std::path::Path,
        elf: &std::path::Path,
        name: &str,
        timeout: u64,
    ) -> QemuConfig {
        QemuConfig {
            boot: BootMedia::Direct { loader: elf.to_path_buf(), initrd: dir.join("guest.S") },
            smp: 1,
            mem: "128M".into(),
            accel: Accel::Tcg,
            timeout: Duration::from_secs(timeout),
            run_dir: dir.join(name),
            quiet: true,
            symbol_elfs: vec![dir.join("missing.elf"), elf.to_path_buf()],
        }
    }

    #[test]
    fn boots_a_tiny_guest_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let Some(elf) = tiny_guest(dir.path(), "EXITCODE=0x10") else { return };
        let cfg = tiny_cfg(dir.path(), &elf, "ok", 30);
        let out = run(&cfg).unwrap();
        assert_eq!(out.exit, ExitKind::Guest(GuestExit::Success));
        assert!(out.first_kernel_line.is_some());
        assert_eq!(out.lines[1], "kernel: hello");
        assert_eq!(out.lines[2], "  bt #0 0x0000000000100000 _start+0x0");
        assert_eq!(out.lines.last().map(String::as_str), Some("no newline at the end"));
        let log = std::fs::read_to_string(cfg.serial_log()).unwrap();
        assert!(log.contains("_start+0x0\nktest: running 1 tests\n"), "{log}");
        assert_eq!(std::fs::read(cfg.run_dir.join("com2.bin")).unwrap(), b"Z");
        let report = crate::ktest::KtestReport::parse(out.lines.iter().map(String::as_str));
        assert!(
            crate::ktest::evaluate(&report, out.exit, &crate::ktest::Expect::AllPass).is_empty()
        );

        let elf = tiny_guest(dir.path(), "EXITCODE=0x11").unwrap();
        let out = run(&tiny_cfg(dir.path(), &elf, "fail", 30)).unwrap();
        assert_eq!(out.exit, ExitKind::Guest(GuestExit::Failure));
    }

    #[test]
    fn a_hung_guest_times_out_and_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let Some(elf) = tiny_guest(dir.path(), "NOEXIT=1") else { return };
        let started = std::time::Instant::now();
        let err = run(&tiny_cfg(dir.path(), &elf, "hang", 2)).unwrap_err().to_string();
        assert!(err.contains("timed out after 2 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn exit_statuses_map() {
        use std::os::unix::process::ExitStatusExt;
        let st = |code: i32| std::process::ExitStatus::from_raw(code << 8);
        assert_eq!(ExitKind::from_status(st(33)), ExitKind::Guest(GuestExit::Success));
        assert_eq!(ExitKind::from_status(st(35)), ExitKind::Guest(GuestExit::Failure));
        assert_eq!(ExitKind::from_status(st(37)), ExitKind::Guest(GuestExit::Panic));
        assert_eq!(ExitKind::from_status(st(0)), ExitKind::PoweredOff);
        assert_eq!(ExitKind::from_status(st(1)), ExitKind::Status(1));
        assert_eq!(
            ExitKind::from_status(std::process::ExitStatus::from_raw(9)),
            ExitKind::Signal(9)
        );
        assert!(ExitKind::PoweredOff.check(true).is_ok());
        assert!(ExitKind::PoweredOff.check(false).is_err());
        assert!(ExitKind::Guest(GuestExit::Success).check(false).is_ok());
        let e = ExitKind::Guest(GuestExit::Panic).check(true).unwrap_err().to_string();
        assert!(e.contains("Panic"), "{e}");
    }
}
