//! Where a hung guest is stuck: before the harness kills a QEMU that ran
//! past its timeout, it stops the guest through QEMU's monitor and walks
//! every vCPU's stack (RIP, then the RBP chain: kernels and user programs
//! are built with frame pointers), in the backtrace-frame format the
//! symbolizer annotates.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Most frames walked per vCPU (a corrupt chain could loop).
const MAX_FRAMES: usize = 24;
const PROMPT: &str = "(qemu) ";

/// A monitor socket path for a run: short (Unix socket paths are limited
/// to ~107 bytes, run directories can be deeper) and unique per process.
pub fn socket_path() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "capos-qmon-{}-{}.sock",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// QEMU arguments that open the monitor on `sock`.
pub fn monitor_args(sock: &Path) -> Vec<std::ffi::OsString> {
    let mut spec = std::ffi::OsString::from("unix:");
    spec.push(sock);
    spec.push(",server,nowait");
    vec!["-monitor".into(), spec]
}

struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    fn connect(sock: &Path) -> Result<Monitor> {
        let stream = UnixStream::connect(sock)
            .with_context(|| format!("cannot connect to the QEMU monitor at {}", sock.display()))?;
        stream.set_read_timeout(Some(Duration::from_millis(500))).context("monitor socket")?;
        let mut m = Monitor { stream };
        m.until_prompt()?;
        Ok(m)
    }

    /// Reads until the prompt (the end of a command's output).
    fn until_prompt(&mut self) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&out).ends_with(PROMPT) {
            if Instant::now() > deadline {
                bail!("the QEMU monitor did not answer");
            }
            match self.stream.read(&mut buf) {
                Ok(0) => bail!("the QEMU monitor closed the connection"),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e).context("reading the QEMU monitor"),
            }
        }
        Ok(String::from_utf8_lossy(&out).replace('\r', ""))
    }

    fn command(&mut self, cmd: &str) -> Result<String> {
        self.stream
            .write_all(format!("{cmd}\n").as_bytes())
            .context("writing to the QEMU monitor")?;
        self.until_prompt()
    }
}

/// The value of `NAME=<hex>` in `info registers` output.
pub fn register(text: &str, name: &str) -> Option<u64> {
    let key = format!("{name}=");
    text.split_whitespace().find_map(|w| u64::from_str_radix(w.strip_prefix(&key)?, 16).ok())
}

/// The two u64s of an `x /2gx ADDR` answer (`ADDR: 0x... 0x...`).
pub fn two_words(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.contains(": 0x"))?;
    let mut it = line
        .split_once(':')?
        .1
        .split_whitespace()
        .filter_map(|w| u64::from_str_radix(w.strip_prefix("0x")?, 16).ok());
    Some((it.next()?, it.next()?))
}

/// Stops the guest and returns, per vCPU, a header line and its stack
/// as `  bt #i 0x...` lines (for the symbolizer).
pub fn dump(sock: &Path, cpus: u32) -> Result<Vec<String>> {
    let mut m = Monitor::connect(sock)?;
    m.command("stop")?;
    let mut out = Vec::new();
    for cpu in 0..cpus {
        m.command(&format!("cpu {cpu}"))?;
        let regs = m.command("info registers")?;
        let (Some(rip), Some(rbp)) = (register(&regs, "RIP"), register(&regs, "RBP")) else {
            out.push(format!(
                "vcpu {cpu}: no registers ({})",
                regs.lines().next().unwrap_or("").trim()
            ));
            continue;
        };
        let halted = regs.contains("HLT=1");
        let cpl =
            regs.split_whitespace().find_map(|w| w.strip_prefix("CPL=")).unwrap_or("?").to_string();
        // RFLAGS.IF (bit 9): a vCPU spinning with interrupts off cannot take an IPI.
        let irqs =
            register(&regs, "RFL").map_or("?", |f| if f & 0x200 != 0 { "on" } else { "off" });
        out.push(format!(
            "vcpu {cpu}: rip={rip:#x} rsp={:#x} cpl={cpl} irqs={irqs}{}",
            register(&regs, "RSP").unwrap_or(0),
            if halted { " halted" } else { "" }
        ));
        out.push(format!("  bt #0 {rip:#018x}"));
        let mut fp = rbp;
        for i in 1..MAX_FRAMES {
            if fp == 0 || fp % 8 != 0 {
                break;
            }
            let Some((next, ret)) = two_words(&m.command(&format!("x /2gx {fp:#x}"))?) else {
                break;
            };
            if ret == 0 {
                break;
            }
            out.push(format!("  bt #{i} {ret:#018x}"));
            if next <= fp {
                break; // the chain must go up the stack
            }
            fp = next;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_answers_parse() {
        let regs = "RAX=0000000000000000 RBX=ffff800000123000 RCX=0 RDX=1\n\
                    RSI=0 RDI=0 RBP=ffffffff80405f30 RSP=ffffffff80405f00\n\
                    RIP=ffffffff8021a3b4 RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n";
        assert_eq!(register(regs, "RIP"), Some(0xffff_ffff_8021_a3b4));
        assert_eq!(register(regs, "RBP"), Some(0xffff_ffff_8040_5f30));
        assert_eq!(register(regs, "R15"), None);
        let x = "x /2gx 0xffffffff80405f30\nffffffff80405f30: 0xffffffff80405f60 0xffffffff80213377\n(qemu) ";
        assert_eq!(two_words(x), Some((0xffff_ffff_8040_5f60, 0xffff_ffff_8021_3377)));
        assert_eq!(two_words("Cannot access memory\n"), None);
        assert!(socket_path().to_string_lossy().len() < 100);
        let frame = "  bt #0 0xffffffff8021a3b4".to_string();
        assert_eq!(
            capos_abi::guest::parse_backtrace_frame(&frame),
            Some((0, 0xffff_ffff_8021_a3b4))
        );
    }
}
