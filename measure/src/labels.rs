//! Names of processes and threads in host views.
//!
//! A process is named by the binary of its load map (`thread_scale:3`); the
//! kernel is pid 0. A thread is named by what it set through
//! `SET_THREAD_NAME` (the guest reports every name set, see
//! [`crate::record::Record::ThreadName`]), else by its process and slot
//! index (`thread_scale:3/t5`). Idle threads have no process and read
//! `idle/t<index>`.

use crate::record::SampleMode;
use crate::report::Report;

/// The slot index of a thread ref (`generation << 32 | index`).
pub const fn thread_index(tid: u64) -> u32 {
    tid as u32
}

impl Report {
    /// The binary a process ran, from its load map.
    pub fn process_binary(&self, pid: u32) -> Option<&str> {
        self.load_maps.iter().find(|m| m.pid == pid as u64).map(|m| m.binary.as_str())
    }

    /// `kernel` for pid 0, `binary:pid` with a load map, else `pid N`.
    pub fn process_label(&self, pid: u32) -> String {
        match (pid, self.process_binary(pid)) {
            (0, _) => "kernel".into(),
            (_, Some(b)) => format!("{b}:{pid}"),
            (_, None) => format!("pid {pid}"),
        }
    }

    /// The name a thread set, if it set one.
    pub fn thread_name(&self, tid: u64) -> Option<&str> {
        self.thread_names.get(&tid).map(|n| n.name.as_str())
    }

    /// `name (t5)` for a named thread, else `<process>/t5`; `mode` tells
    /// idle threads (pid 0) from kernel threads.
    pub fn thread_label(&self, pid: u32, tid: u64, mode: SampleMode) -> String {
        let index = thread_index(tid);
        if let Some(name) = self.thread_name(tid) {
            return format!("{name} (t{index})");
        }
        match (pid, mode) {
            (0, SampleMode::Idle) => format!("idle/t{index}"),
            _ => format!("{}/t{index}", self.process_label(pid)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LoadMap, ThreadName};

    #[test]
    fn labels_use_names_then_binaries() {
        let mut r = Report::default();
        r.load_maps.push(LoadMap { pid: 3, binary: "thread_scale".into(), base: 0x40_0000 });
        let named = 1 << 32 | 5;
        r.thread_names.insert(named, ThreadName { thread: named, pid: 3, name: "worker-1".into() });
        assert_eq!(r.process_label(3), "thread_scale:3");
        assert_eq!(r.process_label(0), "kernel");
        assert_eq!(r.process_label(9), "pid 9");
        assert_eq!(r.thread_label(3, named, SampleMode::User), "worker-1 (t5)");
        assert_eq!(r.thread_label(3, 1 << 32 | 6, SampleMode::User), "thread_scale:3/t6");
        assert_eq!(r.thread_label(0, 2, SampleMode::Idle), "idle/t2");
        assert_eq!(r.thread_label(0, 2, SampleMode::Kernel), "kernel/t2");
    }
}
