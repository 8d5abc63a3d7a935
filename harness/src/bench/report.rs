//! summary.log text and the Markdown speedup table, from result rows.

use std::fmt::Write as _;

use super::gates::{self, Evidence, Policy};
use super::results::Row;
use super::stats::{self, CaseStats, System};

pub struct Summary {
    /// summary.log contents.
    pub text: String,
    /// speedup-table.md contents.
    pub markdown: String,
    /// Required gates that did not pass (the run fails if non-empty).
    pub errors: Vec<String>,
}

fn fmt_x(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}x")).unwrap_or_else(|| "-".into())
}

/// Speedup targets reported: 1->2 and 1->4 (gates use 1->2).
const TARGETS: [u32; 2] = [2, 4];

/// Builds the summary. Gates are enforced (`required`) for capOS rows only;
/// Linux rows are references and get the same gates as information.
pub fn summarize(
    benchmark: &str,
    rows: &[Row],
    policy: &Policy,
    host_cpus: u32,
    notes: &[String],
) -> Summary {
    let st = stats::case_stats(rows);
    let mut text = String::new();
    let mut md = String::new();
    let mut errors = Vec::new();
    let _ = writeln!(text, "benchmark={benchmark} rows={}", rows.len());
    let _ = writeln!(md, "# {benchmark}\n");
    let _ = writeln!(
        md,
        "| os | accel | sched | case | cpus | workers | runs | disturbed | work median | work min | work max | total median | speedup work | speedup total |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for s in &st {
        line_for_case(&mut text, s);
        let sys = System::new(&s.os, &s.accel, &s.sched_policy);
        let sp = (s.workers > 1).then(|| stats::speedup(&st, &sys, s.workers)).flatten();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.os,
            s.accel,
            if s.sched_policy.is_empty() { "-" } else { &s.sched_policy },
            s.case,
            s.cpus,
            s.workers,
            s.runs,
            s.disturbed,
            s.work.median,
            s.work.min,
            s.work.max,
            s.total.map(|t| t.median.to_string()).unwrap_or_else(|| "-".into()),
            if s.workers == 1 { "1.000x".into() } else { fmt_x(sp.as_ref().map(|x| x.work)) },
            if s.workers == 1 && s.total.is_some() {
                "1.000x".into()
            } else {
                fmt_x(sp.and_then(|x| x.total))
            },
        );
    }
    calls_table(&mut md, &st);
    let systems = stats::systems(&st);
    for sys in &systems {
        let (os, accel, pol) = (&sys.os, &sys.accel, sys.policy_field());
        let _ = writeln!(
            text,
            "system os={os} accel={accel}{pol} evidence={}",
            Evidence::of(accel).name()
        );
        for to in TARGETS {
            if let Some(sp) = stats::speedup(&st, sys, to) {
                let _ = writeln!(
                    text,
                    "speedup os={os} accel={accel}{pol} 1->{to} (cpus={}) work={} total={}",
                    sp.to_cpus,
                    fmt_x(Some(sp.work)),
                    fmt_x(sp.total)
                );
            }
        }
        // The global run queue is the regression kept on purpose: its
        // speedups are reported, never enforced.
        let enforce = os == "capos" && sys.sched_policy != "global";
        let p = Policy {
            require_work: policy.require_work && enforce,
            require_total: policy.require_total && enforce,
            require_work4: policy.require_work4 && enforce,
            require_total4: policy.require_total4 && enforce,
            ..*policy
        };
        let (g2, g4) = (stats::gate_speedup(&st, sys, 2), stats::gate_speedup(&st, sys, 4));
        let left_out: usize =
            st.iter().filter(|s| stats::System::of(s) == *sys).map(|s| s.disturbed).sum();
        let _ = writeln!(
            text,
            "gates os={os}{pol}: medians of undisturbed runs only ({left_out} disturbed runs left out)"
        );
        let (g2, g4) = (g2.as_ref().map_err(String::as_str), g4.as_ref().map_err(String::as_str));
        for g in gates::evaluate(&p, accel, g2, g4) {
            let _ = writeln!(text, "{} os={os}{pol}", g.describe());
            errors.extend(g.blocking_error().map(|e| format!("{os}{pol}: {e}")));
        }
    }
    relative_lines(&mut text, &mut md, &st, &systems);
    for n in gates::case_notes(&st, host_cpus).iter().chain(notes) {
        let _ = writeln!(text, "note: {n}");
        let _ = writeln!(md, "\n- {n}");
    }
    for e in &errors {
        let _ = writeln!(text, "error: {e}");
    }
    Summary { text, markdown: md, errors }
}

/// ipc-scale: calls per second and the throughput speedup per case, in
/// the Markdown (only when the rows count their calls).
fn calls_table(md: &mut String, st: &[CaseStats]) {
    if st.iter().all(|s| s.total_calls.is_none()) {
        return;
    }
    let _ = writeln!(
        md,
        "\n| os | accel | case | pairs | calls (all pairs) | calls/s median | speedup |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for s in st {
        let sp = if s.workers == 1 {
            Some(1.0)
        } else {
            stats::speedup(st, &stats::System::new(&s.os, &s.accel, &s.sched_policy), s.workers)
                .map(|x| x.work)
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.os,
            s.accel,
            s.case,
            s.workers,
            s.total_calls.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            s.calls_per_sec().map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into()),
            fmt_x(sp),
        );
    }
}

fn line_for_case(text: &mut String, s: &CaseStats) {
    let _ = write!(
        text,
        "case os={} accel={}{} case={} cpus={} workers={} runs={} disturbed={} work_median={} work_min={} work_max={}",
        s.os, s.accel, System::new(&s.os, &s.accel, &s.sched_policy).policy_field(), s.case, s.cpus, s.workers, s.runs, s.disturbed, s.work.median, s.work.min, s.work.max
    );
    if let Some(t) = s.total {
        let _ = write!(text, " total_median={} total_min={} total_max={}", t.median, t.min, t.max);
    }
    if let Some(ns) = s.work_ns {
        let _ = write!(text, " work_ns_median={}", ns.median);
    }
    if let Some(c) = s.total_calls {
        let _ = write!(text, " calls={c}");
    }
    if let Some(r) = s.calls_per_sec() {
        let _ = write!(text, " calls_per_sec_median={r:.0}");
    }
    text.push('\n');
}

/// capOS-vs-Linux speedup ratios when both are present with the same accel
/// (one per capOS scheduler policy).
fn relative_lines(text: &mut String, md: &mut String, st: &[CaseStats], systems: &[System]) {
    for linux in systems.iter().filter(|s| s.os != "capos") {
        let (os, accel) = (&linux.os, &linux.accel);
        for capos in systems.iter().filter(|s| s.os == "capos" && s.accel == *accel) {
            let pol = capos.policy_field();
            for to in TARGETS {
                let (Some(c), Some(l)) =
                    (stats::speedup(st, capos, to), stats::speedup(st, linux, to))
                else {
                    continue;
                };
                if let Some(r) = stats::relative(&c, &l) {
                    let _ = writeln!(
                        text,
                        "relative capos/{os} accel={accel}{pol} 1->{to} work={r:.3}"
                    );
                    let _ = writeln!(
                        md,
                        "\ncapOS{pol}/{os} 1->{to} work speedup ratio ({accel}): {r:.3}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::results::from_csv;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bench")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    const POLICY: Policy = Policy {
        require_work: true,
        work_threshold: 1.6,
        require_total: true,
        total_threshold: 1.6,
        require_work4: false,
        work4_threshold: 3.2,
        require_total4: false,
        total4_threshold: 3.2,
    };

    #[test]
    fn recorded_kvm_sample_passes_work_and_fails_total() {
        let rows = from_csv(&fixture("results-kvm.csv")).unwrap();
        let s = summarize("thread-scale", &rows, &POLICY, 8, &[]);
        assert!(
            s.text.contains("speedup os=capos accel=kvm 1->2 (cpus=2) work=1.961x total=1.500x"),
            "{}",
            s.text
        );
        // The gate's median leaves the fixture's disturbed 2-worker run out.
        assert!(
            s.text.contains("gate work-1to2 threshold=1.60x required=yes: pass (1.942x) os=capos"),
            "{}",
            s.text
        );
        assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
        assert!(s.errors[0].contains("total-1to2") && s.errors[0].contains("1.500x"));
        assert!(
            s.text.contains("relative capos/linux-guest accel=kvm 1->2 work=0.990"),
            "{}",
            s.text
        );
        assert!(
            s.markdown.contains("| capos | kvm | - | smp2-w2 | 2 | 2 | 3 | 1 |"),
            "{}",
            s.markdown
        );
        // Linux rows are never enforced.
        assert!(!s.errors.iter().any(|e| e.starts_with("linux")));
    }

    #[test]
    fn policies_get_their_own_speedups_and_global_is_never_enforced() {
        let rows = from_csv(&fixture("results-kvm.csv")).unwrap();
        let mut both: Vec<Row> = rows.iter().filter(|r| r.os == "capos").cloned().collect();
        for r in &mut both {
            r.sched_policy = "percpu".into();
        }
        let global: Vec<Row> = both
            .iter()
            .map(|r| Row {
                sched_policy: "global".into(),
                case: format!("{}-global", r.case),
                // Twice as slow with more workers: speedup 1->2 below 1.6x.
                work: if r.workers == 1 { r.work } else { r.work * 2 },
                total: None,
                ..r.clone()
            })
            .collect();
        both.extend(global);
        let s = summarize("thread-scale", &both, &POLICY, 8, &[]);
        assert!(
            s.text.contains(
                "speedup os=capos accel=kvm sched_policy=percpu 1->2 (cpus=2) work=1.961x"
            ),
            "{}",
            s.text
        );
        assert!(s.text.contains("system os=capos accel=kvm sched_policy=global"), "{}", s.text);
        assert!(s.text.contains("case=smp2-w2-global"), "{}", s.text);
        assert!(s.markdown.contains("| capos | kvm | global | smp2-w2-global |"), "{}", s.markdown);
        // Only the per-CPU total gate blocks; the global rows are reported.
        assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
        assert!(s.errors[0].starts_with("capos sched_policy=percpu"), "{:?}", s.errors);
        assert!(s.text.contains("required=no") && s.text.contains("os=capos sched_policy=global"));
    }

    #[test]
    fn gates_leave_disturbed_runs_out_of_their_medians() {
        let rows = from_csv(&fixture("results-kvm.csv")).unwrap();
        let mut capos: Vec<Row> = rows.iter().filter(|r| r.os == "capos").cloned().collect();
        // One 2-worker run ten times slower, marked disturbed: the table's
        // median may move, the gate's must not.
        let slow = capos.iter().position(|r| r.workers == 2).unwrap();
        let mut extra = capos[slow].clone();
        extra.work *= 10;
        extra.run = 99;
        extra.disturbed = true;
        capos.push(extra);
        let relaxed = Policy { require_total: false, ..POLICY };
        let before = summarize("thread-scale", &capos[..capos.len() - 1], &relaxed, 8, &[]);
        let s = summarize("thread-scale", &capos, &relaxed, 8, &[]);
        assert!(s.text.contains("(2 disturbed runs left out)"), "{}", s.text);
        let gate = |t: &str| t.lines().find(|l| l.starts_with("gate work-1to2")).map(String::from);
        assert_eq!(gate(&s.text), gate(&before.text), "the disturbed run moved the gate");
        assert!(gate(&s.text).unwrap().contains("pass (1.942x)"), "{}", s.text);
        assert!(s.text.contains("gate work-1to4 threshold=3.20x required=no"), "{}", s.text);
        // Every 2-worker run disturbed: the gate is not collected, and a
        // required gate that is not collected blocks.
        for r in capos.iter_mut().filter(|r| r.workers == 2) {
            r.disturbed = true;
        }
        let s = summarize("thread-scale", &capos, &relaxed, 8, &[]);
        assert!(s.errors.iter().any(|e| e.contains("was disturbed")), "{:?}", s.errors);
    }

    #[test]
    fn tcg_sample_is_functional_only() {
        let rows = from_csv(&fixture("results-tcg.csv")).unwrap();
        let relaxed = Policy { require_work: false, require_total: false, ..POLICY };
        let s = summarize("smp-process-scale", &rows, &relaxed, 2, &["extra".into()]);
        assert!(s.errors.is_empty());
        assert!(s.text.contains("evidence=functional"));
        assert!(s.text.contains("not collected (accel is TCG"));
        assert!(s.text.contains("4 vCPUs on 2 host CPUs"), "{}", s.text);
        assert!(s.text.contains("note: extra"));
        let strict = summarize("smp-process-scale", &rows, &POLICY, 2, &[]);
        assert_eq!(strict.errors.len(), 2, "{:?}", strict.errors);
    }

    #[test]
    fn recorded_ipc_scale_run_reports_calls_per_second_and_throughput_speedups() {
        let rows = from_csv(&fixture("results-ipc-tcg.csv")).unwrap();
        assert_eq!(rows.len(), 30);
        assert!(rows.iter().all(|r| r.calls == Some(5000) && r.benchmark == "ipc-scale"));
        let relaxed = Policy { require_work: false, require_total: false, ..POLICY };
        let s = summarize("ipc-scale", &rows, &relaxed, 2, &[]);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        // 4 pairs: 4 x median work(1) / median work(4) = 4 x 1289037126 / 5675673161.
        assert!(
            s.text.contains("speedup os=capos accel=tcg 1->4 (cpus=4) work=0.908x"),
            "{}",
            s.text
        );
        assert!(
            s.text.contains(
                "case=smp1-w1 cpus=1 workers=1 runs=5 disturbed=5 work_median=1289037126"
            ),
            "{}",
            s.text
        );
        assert!(s.text.contains("calls=20000 calls_per_sec_median=9115"), "{}", s.text);
        assert!(
            s.text.contains("relative capos/linux-guest accel=tcg 1->4 work=0.692"),
            "{}",
            s.text
        );
        assert!(
            s.markdown.contains("| capos | tcg | smp4-w4 | 4 | 20000 | 9115 | 0.908x |"),
            "{}",
            s.markdown
        );
        assert!(s.markdown.contains("| linux-guest | tcg | smp1-w1 | 1 | 5000 | 9982 | 1.000x |"));
        // Benchmarks without call counts get no calls table.
        let t = summarize(
            "thread-scale",
            &from_csv(&fixture("results-kvm.csv")).unwrap(),
            &POLICY,
            8,
            &[],
        );
        assert!(!t.markdown.contains("calls/s"));
    }
}
