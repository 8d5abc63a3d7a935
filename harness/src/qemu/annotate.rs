//! Symbolized backtrace lines on the console (kernel, loader, and the user
//! binary a fault report names).

use std::path::PathBuf;

use capos_symbolize::Symbolizer;

/// Annotates backtrace lines against the first ELF that maps the address.
/// Symbolizes `bt` lines: against the kernel and loader ELFs, or, right
/// after a `user fault ... binary=<name>` report, against that user binary.
pub(super) struct Annotator {
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
    pub(super) fn load(paths: &[PathBuf]) -> Self {
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

    pub(super) fn annotate(&mut self, line: &str) -> String {
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

    pub(super) fn annotate_any(&self, line: &str) -> String {
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
