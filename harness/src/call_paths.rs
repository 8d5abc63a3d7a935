//! The kernel call path behind a scaling-loss cause, read from the folded
//! stacks a measured run wrote into its directory
//! (`capos_flamegraphs::write_run_profile`):
//!
//! * a lock: its heaviest contended-spin stack in the work phase
//!   (`contention-work.folded`);
//! * idle time: the blocked stack whose blocked time grew most from the
//!   1-worker runs to the n-worker runs (`offcpu-run.folded`: where the
//!   threads waited while CPUs idled);
//! * kernel time: the kernel stack whose work-phase samples grew most
//!   (`flamegraph-work.folded`, kernel frames only, the idle thread's
//!   stacks left out).
//!
//! Paths are written root first, `a -> b -> c`, without the instrument's
//! own frames at the leaf.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capos_flamegraphs::{hottest_path, FoldSource, Folded};
use capos_measure::scaling::{ScalingLoss, LOCKS};

/// Which folded stacks of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stacks {
    KernelSamples,
    Blocked,
    Contention,
}

impl Stacks {
    fn file(self) -> &'static str {
        match self {
            Stacks::KernelSamples => "flamegraph-work.folded",
            Stacks::Blocked => "offcpu-run.folded",
            Stacks::Contention => "contention-work.folded",
        }
    }
}

/// The folded stacks of `which` in run directory `dir` (empty when the
/// file is missing: a run from before it was written).
fn folded(dir: &Path, which: Stacks) -> Folded {
    let source = match which {
        Stacks::Contention => FoldSource::ContentionStacks,
        Stacks::Blocked => FoldSource::OffCpuStacks,
        Stacks::KernelSamples => FoldSource::Stacks,
    };
    let text = std::fs::read_to_string(dir.join(which.file())).unwrap_or_default();
    Folded::from_text(&text, source).0
}

/// A frame of every idle-thread stack.
const IDLE_FRAME: &str = "capos_kernel::sched::idle_loop_[k]";

/// `dir`'s stacks of `which` as paths (kernel frames only for samples,
/// instrument frames dropped at the leaf) -> weight.
fn paths(dir: &Path, which: Stacks) -> BTreeMap<String, i128> {
    let mut out = BTreeMap::new();
    for (stack, w) in folded(dir, which).stacks {
        // The idle thread's samples (its loop and select) are idle time,
        // not the kernel time a kernel path explains.
        if which == Stacks::KernelSamples && stack.contains(IDLE_FRAME) {
            continue;
        }
        let mut frames: Vec<&str> = stack
            .split(';')
            .filter(|f| which != Stacks::KernelSamples || f.ends_with("_[k]"))
            .collect();
        while frames.last().is_some_and(|f| f.starts_with("capos_kernel::measure::")) {
            frames.pop();
        }
        if !frames.is_empty() {
            *out.entry(frames.join(" -> ")).or_default() += w as i128;
        }
    }
    out
}

/// The path of `which` whose weight grew most from the runs in `ones`
/// (k times) to those in `ns`, and by how much; `None` if none grew.
pub fn growing_path(
    ones: &[PathBuf],
    ns: &[PathBuf],
    k: i128,
    which: Stacks,
) -> Option<(String, i128)> {
    let mut growth: BTreeMap<String, i128> = BTreeMap::new();
    for d in ns {
        for (s, w) in paths(d, which) {
            *growth.entry(s).or_default() += w;
        }
    }
    for d in ones {
        for (s, w) in paths(d, which) {
            *growth.entry(s).or_default() -= k * w;
        }
    }
    growth.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).filter(|g| g.1 > 0)
}

/// The heaviest work-phase spin of lock `part` (`<class> <lock>`, as the
/// scaling loss names its parts) over the runs in `ns`.
pub fn lock_path(ns: &[PathBuf], part: &str) -> Option<String> {
    let (class, lock) = part.split_once(' ')?;
    let (frames, _) = (ns.iter())
        .filter_map(|d| hottest_path(&folded(d, Stacks::Contention), class, lock))
        .max_by_key(|(_, w)| *w)?;
    Some(frames.join(" -> "))
}

/// The call path behind `loss`'s first kernel cause (the instrument's
/// own left out), explained from the 1-worker runs `ones` and the
/// n-worker runs `ns`: (cause, path, how it was found).
pub fn behind_first_cause(
    loss: &ScalingLoss,
    ones: &[PathBuf],
    ns: &[PathBuf],
) -> Option<(String, String, String)> {
    let top = loss.top_kernel_cause()?;
    let k = i128::from(loss.work_factor);
    let (path, how) = match top.name.as_str() {
        LOCKS => {
            let part = top.parts.first()?.0.clone();
            (lock_path(ns, &part)?, format!("the heaviest spin on {part}"))
        }
        "idle" => {
            let (p, grew) = growing_path(ones, ns, k, Stacks::Blocked)?;
            (p, format!("the blocked stack whose blocked time grew most (+{grew} cycles)"))
        }
        _ => {
            let (p, grew) = growing_path(ones, ns, k, Stacks::KernelSamples)?;
            (p, format!("the kernel stack whose samples grew most (+{grew})"))
        }
    };
    Some((top.name.clone(), path, how))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, which: Stacks, lines: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(which.file()), lines).unwrap();
    }

    #[test]
    fn the_growing_path_and_the_hottest_spin_are_found() {
        let base = std::env::temp_dir().join(format!("capos-call-paths-{}", std::process::id()));
        let (one, n) = (base.join("one"), base.join("n"));
        run(&one, Stacks::KernelSamples, "u`main;a_[k];b_[k] 10\nu`main;a_[k];c_[k] 10\n");
        run(
            &n,
            Stacks::KernelSamples,
            "u`main;a_[k];b_[k] 12\nu`main;a_[k];c_[k] 45\nu`main;a_[k];capos_kernel::measure::x_[k] 99\n\
             ap_entry_[k];capos_kernel::sched::idle_loop_[k];x_[k] 500\n",
        );
        run(&n, Stacks::Contention, "[lock shared_kernel_lock heap];s_[k];t_[k] 70\n[lock shared_kernel_lock heap];s_[k];u_[k] 30\n");
        let (ones, ns) = (vec![one.clone()], vec![n.clone()]);
        // k = 2: b grew 12 - 20 < 0, c grew 45 - 20 = 25; the measure
        // frame is dropped, leaving a_[k] with 99.
        let (p, grew) = growing_path(&ones, &ns, 2, Stacks::KernelSamples).unwrap();
        assert_eq!((p.as_str(), grew), ("a_[k]", 99));
        let (p, grew) = growing_path(&ones, &ns, 4, Stacks::KernelSamples).unwrap();
        assert_eq!((p.as_str(), grew), ("a_[k]", 99));
        assert_eq!(lock_path(&ns, "shared_kernel_lock heap").as_deref(), Some("s_[k] -> t_[k]"));
        assert_eq!(lock_path(&ns, "scheduler_lock yield"), None);
        assert_eq!(growing_path(&ones, &ns, 1, Stacks::Blocked), None, "no file, no path");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
