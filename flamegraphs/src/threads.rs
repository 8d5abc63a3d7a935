//! Which process each thread belongs to, and its label, for every view that
//! names threads (per-thread graphs, who ran where, the timeline).
//!
//! A thread ref (`generation << 32 | index`) is known from the names
//! threads set ([`Report::thread_names`], which carry the pid), from the
//! tags of its samples (PC, stack and time-ordered ones), and nothing
//! else: context-switch events carry bare refs. Its process is the one its
//! name record states, else the pid most of its samples carry (ties: the
//! lowest). A thread any of whose samples were taken in its idle loop is an
//! idle thread (`idle/t2`).

use std::collections::BTreeMap;

use capos_measure::record::{SampleMode, SampleTag};
use capos_measure::report::Report;

/// One thread as the views name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    pub tid: u64,
    pub pid: u32,
    pub idle: bool,
    /// [`Report::thread_label`] (`worker-1 (t5)`, `thread_scale:3/t6`).
    pub label: String,
}

/// Every thread a report knows, by thread ref.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Threads {
    pub by_tid: BTreeMap<u64, ThreadInfo>,
}

impl Threads {
    pub fn of(report: &Report) -> Threads {
        // tid -> (pid -> samples, idle)
        let mut seen: BTreeMap<u64, (BTreeMap<u32, u64>, bool)> = BTreeMap::new();
        let mut note = |tag: &SampleTag, n: u64| {
            let (pids, idle) = seen.entry(tag.tid).or_default();
            let slot = pids.entry(tag.pid).or_default();
            *slot = slot.saturating_add(n);
            *idle |= tag.mode == SampleMode::Idle;
        };
        for ((_, tag, _), n) in &report.pc_samples {
            note(tag, *n);
        }
        for ((_, tag, _), n) in &report.stack_samples {
            note(tag, *n);
        }
        for (tag, _) in report.stack_defs.values() {
            note(tag, 1);
        }
        for t in report.thread_names.values() {
            seen.entry(t.thread).or_default();
        }
        let by_tid = seen
            .into_iter()
            .map(|(tid, (pids, idle))| {
                let named = report.thread_names.get(&tid).map(|t| t.pid);
                let by_samples =
                    pids.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(pid, _)| *pid);
                let pid = named.or(by_samples).unwrap_or(0);
                let mode = if idle { SampleMode::Idle } else { SampleMode::Kernel };
                let label = report.thread_label(pid, tid, mode);
                (tid, ThreadInfo { tid, pid, idle, label })
            })
            .collect();
        Threads { by_tid }
    }

    pub fn get(&self, tid: u64) -> Option<&ThreadInfo> {
        self.by_tid.get(&tid)
    }

    /// The thread's label, or `t<index>` for a ref no sample or name
    /// record mentions (its process is unknown).
    pub fn label(&self, tid: u64) -> String {
        match self.by_tid.get(&tid) {
            Some(t) => t.label.clone(),
            None => format!("t{}", thread_index(tid)),
        }
    }
}

/// The slot index of a thread ref (`generation << 32 | index`).
pub fn thread_index(tid: u64) -> u32 {
    tid as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use capos_measure::phase::Phase;
    use capos_measure::report::{LoadMap, ThreadName};

    fn tag(pid: u32, tid: u64, mode: SampleMode) -> SampleTag {
        SampleTag { cpu: 0, pid, tid, mode, lock: None }
    }

    #[test]
    fn threads_take_their_process_from_names_then_samples() {
        let mut r = Report::default();
        r.load_maps.push(LoadMap { pid: 3, binary: "ts".into(), base: 0x40_0000 });
        r.thread_names.insert(7, ThreadName { thread: 7, pid: 3, name: "w".into() });
        r.pc_samples.insert((Phase::Work, tag(3, 8, SampleMode::User), 1), 5);
        r.pc_samples.insert((Phase::Work, tag(0, 8, SampleMode::Kernel), 1), 2);
        r.pc_samples.insert((Phase::Work, tag(0, 2, SampleMode::Idle), 1), 2);
        r.pc_samples.insert((Phase::Work, tag(0, 2, SampleMode::Interrupt), 1), 9);
        let t = Threads::of(&r);
        assert_eq!(t.label(7), "w (t7)");
        assert_eq!(t.get(8).map(|t| t.pid), Some(3));
        assert_eq!(t.label(8), "ts:3/t8");
        assert_eq!(t.label(2), "idle/t2");
        assert_eq!(t.label(1 << 32 | 4), "t4");
    }
}
