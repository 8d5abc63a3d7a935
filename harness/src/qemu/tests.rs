//! Tests of the QEMU runner: command lines, exit statuses, fault lines,
//! and a tiny real guest booted end to end.

use super::annotate::user_fault_binary;
use super::*;
use crate::accel::Accel;
use capos_abi::guest::GuestExit;
use std::path::PathBuf;
use std::time::Duration;

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
fn uefi_cdrom_boot_command_line() {
    let c = cfg(BootMedia::UefiCdrom {
        iso: "/runs/x/capos.iso".into(),
        firmware: "/usr/share/ovmf/OVMF.fd".into(),
    });
    let s = joined(&c);
    assert!(s.contains("-bios /usr/share/ovmf/OVMF.fd -cdrom /runs/x/capos.iso"), "{s}");
    assert!(!s.contains("-kernel"));
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

fn tiny_cfg(dir: &std::path::Path, elf: &std::path::Path, name: &str, timeout: u64) -> QemuConfig {
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
    assert!(crate::ktest::evaluate(&report, out.exit, &crate::ktest::Expect::AllPass).is_empty());

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
    assert_eq!(ExitKind::from_status(std::process::ExitStatus::from_raw(9)), ExitKind::Signal(9));
    assert!(ExitKind::PoweredOff.check(true).is_ok());
    assert!(ExitKind::PoweredOff.check(false).is_err());
    assert!(ExitKind::Guest(GuestExit::Success).check(false).is_ok());
    let e = ExitKind::Guest(GuestExit::Panic).check(true).unwrap_err().to_string();
    assert!(e.contains("Panic"), "{e}");
}
