//! `kernel/src/arch` sits below everything: it may not name the scheduler,
//! processes, capabilities, system calls, time or the kernel tests. They
//! register hooks (`arch::x86_64::hooks`) instead. This test reads the
//! sources and fails on any such import.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &["sched", "proc", "cap", "syscall", "time", "ktest"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The upward references on one line of code (comments ignored).
fn violations(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    for m in FORBIDDEN {
        let path = format!("crate::{m}");
        let hit = code.match_indices(&path).any(|(i, _)| {
            let after = code[i + path.len()..].chars().next();
            !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        if hit {
            found.push(path);
        }
    }
    // `use crate::{a, sched, ...}` groups and escapes through `super`.
    if let Some(group) = code.split("crate::{").nth(1) {
        let group = group.split('}').next().unwrap_or("");
        for name in group.split(',').map(|n| n.trim().split("::").next().unwrap_or("").trim()) {
            if FORBIDDEN.contains(&name) {
                found.push(format!("crate::{{{name}}}"));
            }
        }
    }
    if code.contains("super::super::super") {
        found.push("super::super::super".into());
    }
    found
}

#[test]
fn the_checker_sees_upward_imports() {
    assert_eq!(violations("use crate::sched::Thread;"), vec!["crate::sched"]);
    assert_eq!(violations("    crate::proc::user_fault(v)"), vec!["crate::proc"]);
    assert_eq!(violations("use crate::{mm, time};"), vec!["crate::{time}"]);
    assert!(violations("use crate::sync::IrqOff; // not crate::sched").is_empty());
    assert!(violations("use crate::scheduler_like;").is_empty());
    assert!(!violations("super::super::super::cap::x").is_empty());
}

#[test]
fn arch_imports_nothing_above_it() {
    let arch = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel/src/arch");
    let mut files = Vec::new();
    rust_files(&arch, &mut files);
    assert!(files.len() > 10, "found only {} files under {}", files.len(), arch.display());
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in text.lines().enumerate() {
            for v in violations(line) {
                bad.push(format!("{}:{}: {v}", f.display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "arch/ calls up into the kernel:\n{}", bad.join("\n"));
}
