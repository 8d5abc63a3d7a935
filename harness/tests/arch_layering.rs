//! The kernel's bottom layers import nothing above them: `sync` (interrupt
//! masking, locks, per-CPU cells) names no other kernel module, and
//! `arch` names only itself and `sync`. The modules above register hooks
//! (`arch::x86_64::hooks`, `sync::lock_probe`) instead, so no import cycle
//! runs through `arch`. This test reads the sources and fails on any other
//! `crate::` path (macros included) in those folders.

use std::path::{Path, PathBuf};

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

/// The `crate::` paths on one line of code (comments ignored) that name a
/// module outside `allowed`.
fn violations(line: &str, allowed: &[&str]) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for name in group.split(',').map(|n| n.trim().split("::").next().unwrap_or("").trim()) {
                if !name.is_empty() && !allowed.contains(&name) {
                    found.push(format!("crate::{{{name}}}"));
                }
            }
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !allowed.contains(&name.as_str()) {
            found.push(format!("crate::{name}"));
        }
    }
    if code.contains("super::super::super") {
        found.push("super::super::super".into());
    }
    found
}

fn check(folder: &str, allowed: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel/src").join(folder);
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in text.lines().enumerate() {
            for v in violations(line, allowed) {
                bad.push(format!("{}:{}: {v}", f.display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "kernel/src/{folder} reaches up:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_upward_paths() {
    let arch = &["arch", "sync"];
    assert_eq!(violations("use crate::sched::Thread;", arch), vec!["crate::sched"]);
    assert_eq!(violations("    crate::proc::user_fault(v)", arch), vec!["crate::proc"]);
    assert_eq!(violations("use crate::{sync, time};", arch), vec!["crate::{time}"]);
    assert_eq!(violations("crate::m_add!(x);", arch), vec!["crate::m_add"]);
    assert!(violations("use crate::sync::IrqOff; // not crate::sched", arch).is_empty());
    assert!(violations("use crate::arch::x86_64::tlb;", arch).is_empty());
    assert!(!violations("super::super::super::cap::x", arch).is_empty());
}

#[test]
fn arch_names_only_itself_and_sync() {
    check("arch", &["arch", "sync"]);
}

#[test]
fn sync_names_nothing_above_it() {
    check("sync", &["sync"]);
}
