//! Views by process and thread on a synthetic report whose answers are
//! known: per-thread and per-process flamegraphs, who ran where, the flame
//! chart on the timeline's thread tracks, and the index section.

#[path = "../../symbolize/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use capos_flamegraphs::write_run_profile;
use capos_measure::phase::Phase;
use capos_measure::record::{SampleMode, SampleTag};
use capos_measure::report::{Begin, End, LoadMap, Report, ThreadName};
use capos_symbolize::{ElfPaths, ReportInput};
use common::*;

const W1: u64 = 1 << 32 | 5;
const W2: u64 = 1 << 32 | 6;
const IDLE: u64 = 2;
const K1: u64 = 0xffff_ffff_8000_1000;
const K2: u64 = 0xffff_ffff_8000_2000;
const U1: u64 = 0x40_1000;
const U2: u64 = 0x40_2000;

fn tag(cpu: u8, pid: u32, tid: u64, mode: SampleMode) -> SampleTag {
    SampleTag { cpu, pid, tid, mode, lock: None }
}

/// Process 3 (`thread_scale`) runs `worker-1` (t5) and `worker-2` (t6);
/// CPU 1 idles in t2. Work phase: worker-1 7 samples (5 user, 2 kernel)
/// on CPU 0, worker-2 7 (3 + 4 user) split 3/4 over CPUs 0 and 1, idle 6
/// on CPU 1; 100 more worker-1 samples in `shutdown`.
fn threads_report() -> Report {
    let mut r = Report {
        begin: Some(Begin { cpus: 2, tsc_khz: 1_000_000, catalogue: 0 }),
        end: Some(End { tsc: 100_000, records: 0, lost: 0 }),
        ..Report::default()
    };
    r.load_maps.push(LoadMap { pid: 3, binary: "thread_scale".into(), base: 0x40_0000 });
    for (tid, name) in [(W1, "worker-1"), (W2, "worker-2")] {
        r.thread_names.insert(tid, ThreadName { thread: tid, pid: 3, name: name.into() });
    }
    let mut add = |phase, tag, frames: Vec<u64>, n| {
        r.stack_samples.insert((phase, tag, frames.clone()), n);
        let pc = frames.first().copied().unwrap_or(0);
        let slot = r.pc_samples.entry((phase, tag, pc)).or_default();
        *slot += n;
    };
    add(Phase::Work, tag(0, 3, W1, SampleMode::User), vec![U1, U2], 5);
    add(Phase::Work, tag(0, 3, W1, SampleMode::Kernel), vec![K1, K2], 2);
    add(Phase::Work, tag(0, 3, W2, SampleMode::User), vec![U1, U2], 3);
    add(Phase::Work, tag(1, 3, W2, SampleMode::User), vec![U2], 4);
    add(Phase::Work, tag(1, 0, IDLE, SampleMode::Idle), vec![K2], 6);
    add(Phase::Shutdown, tag(0, 3, W1, SampleMode::User), vec![U1], 100);
    r
}

/// Sum of the counts of a `.folded` file.
fn folded_total(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).expect("folded");
    text.lines()
        .map(|l| l.rsplit_once(' ').and_then(|(_, n)| n.parse::<u64>().ok()).expect("count"))
        .sum()
}

fn profile(r: Report, dir: &std::path::Path) -> capos_flamegraphs::RunProfile {
    write_run_profile(&ReportInput::from_report(r), &ElfPaths::new(), dir).expect("profile")
}

#[test]
fn per_thread_graphs_hold_exactly_their_threads_samples() {
    let dir = scratch("per-thread");
    let p = profile(threads_report(), &dir);
    let threads: BTreeMap<String, (u64, u64, String)> = p
        .per_thread
        .threads
        .iter()
        .map(|g| {
            let stem = g.files.folded.file_name().and_then(|n| n.to_str()).expect("name");
            (g.label.clone(), (g.samples, folded_total(&g.files.folded), stem.to_string()))
        })
        .collect();
    assert_eq!(
        threads,
        BTreeMap::from([
            ("worker-1 (t5)".into(), (7, 7, "flamegraph-work-t5.folded".into())),
            ("worker-2 (t6)".into(), (7, 7, "flamegraph-work-t6.folded".into())),
            ("idle/t2".into(), (6, 6, "flamegraph-work-t2.folded".into())),
        ])
    );
    // Worker 1's graph holds its kernel samples too, and nothing of shutdown.
    let w1 = std::fs::read_to_string(dir.join("flamegraph-work-t5.folded")).expect("t5");
    assert_eq!(w1.lines().count(), 2, "{w1}");
    assert!(w1.lines().any(|l| l.ends_with(" 5")) && w1.lines().any(|l| l.ends_with(" 2")));
    let svg = std::fs::read_to_string(dir.join("flamegraph-work-t5.svg")).expect("svg");
    assert!(svg.contains("worker-1 (t5): work phase") && svg.contains("7 samples"), "title");
    // A process is the sum of its threads; the processes sum to the whole.
    let procs: Vec<(String, u64, u64)> = p
        .per_thread
        .processes
        .iter()
        .map(|g| (g.label.clone(), g.samples, folded_total(&g.files.folded)))
        .collect();
    assert_eq!(procs, [("thread_scale:3".into(), 14, 14), ("kernel".into(), 6, 6)]);
    assert!(dir.join("flamegraph-work-pid3.svg").is_file());
    assert_eq!(folded_total(&p.work.folded), 20);
    assert_eq!((p.per_thread.threads_left_out, p.per_thread.processes_left_out), (0, 0));
}

#[test]
fn the_all_threads_graph_by_thread_roots_each_stack_in_its_process_and_thread() {
    let dir = scratch("by-thread");
    let mut r = threads_report();
    r.thread_names.insert(W2, ThreadName { thread: W2, pid: 3, name: "a;b\nc".into() });
    let p = profile(r, &dir);
    let text = std::fs::read_to_string(&p.work_by_thread.folded).expect("folded");
    let mut by_root: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("count");
        let root: Vec<&str> = stack.split(';').take(2).collect();
        *by_root.entry(root.join(";")).or_default() += n.parse::<u64>().expect("n");
    }
    assert_eq!(
        by_root,
        BTreeMap::from([
            ("[thread_scale:3];[worker-1 (t5)]".to_string(), 7),
            ("[thread_scale:3];[a_b_c (t6)]".to_string(), 7),
            ("[kernel];[idle/t2]".to_string(), 6),
        ])
    );
    assert_eq!(p.work_by_thread.total, p.work.total);
    // The plain graph keeps its lines free of labels.
    let plain = std::fs::read_to_string(&p.work.folded).expect("plain");
    assert!(plain.lines().all(|l| !l.starts_with('[') && !l.contains("worker")), "{plain}");
}

#[test]
fn only_the_busiest_threads_get_graphs() {
    let dir = scratch("per-thread-cap");
    let mut r = threads_report();
    let extra = capos_flamegraphs::MAX_THREAD_GRAPHS as u64 + 3;
    for i in 0..extra {
        // Threads 100.. of process 3, one sample each (fewer than any above).
        r.stack_samples.insert((Phase::Work, tag(0, 3, 100 + i, SampleMode::User), vec![U1]), 1);
    }
    let p = profile(r, &dir);
    let t = &p.per_thread;
    assert_eq!(t.threads.len(), capos_flamegraphs::MAX_THREAD_GRAPHS);
    assert_eq!(t.threads_left_out, extra as usize + 3 - capos_flamegraphs::MAX_THREAD_GRAPHS);
    assert_eq!(t.threads_left_out_samples, t.threads_left_out as u64);
    let first: Vec<&str> = t.threads.iter().take(3).map(|g| g.label.as_str()).collect();
    assert_eq!(first, ["worker-1 (t5)", "worker-2 (t6)", "idle/t2"]);
    assert_eq!(t.processes[0].samples, 14 + extra);
}

#[test]
fn reused_slots_get_distinct_files() {
    let dir = scratch("per-thread-gen");
    let mut r = threads_report();
    r.stack_samples.insert((Phase::Work, tag(0, 3, 2 << 32 | 5, SampleMode::User), vec![U1]), 1);
    let p = profile(r, &dir);
    let stems: Vec<String> = p
        .per_thread
        .threads
        .iter()
        .filter(|g| g.tid.is_some_and(|t| t as u32 == 5))
        .map(|g| g.files.svg.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string())
        .collect();
    assert_eq!(stems, ["flamegraph-work-t5g1.svg", "flamegraph-work-t5g2.svg"]);
}

#[test]
fn who_ran_where_gives_exact_shares_and_times_per_cpu() {
    let dir = scratch("who-ran");
    let mut r = threads_report();
    r.instrument = Some(capos_measure::InstrumentInfo { sample_hz: 1000, ..Default::default() });
    let p = profile(r, &dir);
    let rows = |w: &capos_flamegraphs::WhoRan| -> Vec<(u8, String, String, String, u64, f64, f64)> {
        w.rows
            .iter()
            .map(|x| {
                let secs = x.seconds(w.sample_hz).expect("rate known");
                (
                    x.cpu,
                    x.process.clone(),
                    x.thread.clone(),
                    x.mode.clone(),
                    x.samples,
                    x.share_percent(),
                    secs,
                )
            })
            .collect()
    };
    let s = |x: &str| x.to_string();
    assert_eq!(p.who_ran.work.source, "PC samples");
    assert_eq!(
        rows(&p.who_ran.work),
        [
            (0, s("thread_scale:3"), s("worker-1 (t5)"), s("user"), 5, 50.0, 0.005),
            (0, s("thread_scale:3"), s("worker-2 (t6)"), s("user"), 3, 30.0, 0.003),
            (0, s("thread_scale:3"), s("worker-1 (t5)"), s("kernel"), 2, 20.0, 0.002),
            (1, s("kernel"), s("idle/t2"), s("idle"), 6, 60.0, 0.006),
            (1, s("thread_scale:3"), s("worker-2 (t6)"), s("user"), 4, 40.0, 0.004),
        ]
    );
    let run = rows(&p.who_ran.whole_run);
    assert_eq!((run[0].4, run[0].6), (105, 0.105));
    assert_eq!(run[0].5, 105.0 * 100.0 / 110.0);
    let text = std::fs::read_to_string(dir.join(capos_flamegraphs::WHO_RAN_FILE)).expect("txt");
    assert!(
        text.contains("Who ran where, work phase") && text.contains("Who ran where, whole run")
    );
    assert!(text.contains("1000 Hz per CPU"), "{text}");
    let line = text.lines().find(|l| l.contains("idle/t2")).expect("idle row");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words, ["1", "kernel", "idle/t2", "idle", "6", "60.00%", "6.000", "ms"]);
    // Columns line up: every row of the work table is as wide as its header.
    let table: Vec<&str> = text.lines().skip(2).take(6).collect();
    let col = table[0].find("samples").expect("header") + "samples".len();
    for l in &table[1..] {
        assert_eq!(l.as_bytes().get(col - 1).map(|b| b.is_ascii_digit()), Some(true), "{l}");
    }
}

#[test]
fn who_ran_where_without_a_rate_has_no_time() {
    let dir = scratch("who-ran-norate");
    let p = profile(threads_report(), &dir);
    assert_eq!(p.who_ran.work.sample_hz, 0);
    assert_eq!(p.who_ran.work.rows[0].seconds(0), None);
    let table = p.who_ran.work.to_table("case 1: ");
    assert!(table.caption.starts_with("case 1: Who ran where, work phase"));
    assert!(table.caption.contains("no time estimate"));
    assert_eq!(table.rows[0], ["0", "thread_scale:3", "worker-1 (t5)", "user", "5", "50.00%", "-"]);
}

#[test]
fn who_ran_where_text_totals_each_cpu() {
    let dir = scratch("who-ran-totals");
    let mut r = threads_report();
    r.instrument = Some(capos_measure::InstrumentInfo { sample_hz: 500, ..Default::default() });
    let p = profile(r, &dir);
    let text = p.who_ran.work.to_text();
    assert!(
        text.contains("cpu 0: 10 samples (20.000 ms)\ncpu 1: 10 samples (20.000 ms)\n"),
        "{text}"
    );
}

// ---- The flame chart on the timeline's thread tracks. ----

const BASE: u64 = 0x40_0000;

#[inline(never)]
fn chart_probe(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(13) ^ 0x77
}

#[inline(never)]
fn chart_caller(x: u64) -> u64 {
    chart_probe(std::hint::black_box(x)).wrapping_add(1)
}

fn runtime(f: fn(u64) -> u64) -> u64 {
    fn_link_address(f) - link_start() + BASE
}

const MS: u64 = 1_000_000; // cycles at 1 GHz

/// The threads report with timed samples (1 GHz TSC, 1000 Hz sampling:
/// the cap is 2 ms). CPU 0: worker-1 at 1, 2 ms (probe under caller) and
/// 3 ms (a kernel frame under caller), worker-2 at 4 ms, a stack not kept
/// at 5 ms, worker-1 again at 9 ms. CPU 1 switches to idle at 1 ms; idle
/// is sampled at 1.5 ms, then a sample with a stack id the report lacks at
/// 2.5 ms.
fn timed_report() -> Report {
    let mut r = threads_report();
    r.instrument = Some(capos_measure::InstrumentInfo { sample_hz: 1000, ..Default::default() });
    r.checkpoints.insert(Phase::Boot, 0);
    let caller = runtime(chart_caller) + 8;
    let a = vec![runtime(chart_probe), caller];
    r.stack_defs.insert(1, (tag(0, 3, W1, SampleMode::User), a.clone()));
    r.stack_defs.insert(2, (tag(0, 3, W1, SampleMode::Kernel), vec![K1, caller]));
    r.stack_defs.insert(3, (tag(0, 3, W2, SampleMode::User), a));
    r.stack_defs.insert(4, (tag(1, 0, IDLE, SampleMode::Idle), vec![K2]));
    let s = |cpu, tsc, stack| capos_measure::report::TimedSample { cpu, tsc, stack };
    r.timed_samples = vec![
        s(0, MS, 1),
        s(0, 2 * MS, 1),
        s(0, 3 * MS, 2),
        s(0, 4 * MS, 3),
        s(0, 5 * MS, 0),
        s(0, 9 * MS, 1),
        s(1, 3 * MS / 2, 4),
        s(1, 5 * MS / 2, 99),
    ];
    r.trace =
        vec![capos_measure::trace::TraceArgs::ContextSwitch { prev: 0, next: IDLE, prev_state: 1 }
            .event(MS, 1)];
    r
}

/// A flame-chart slice as read back: (ts, end, name, depth, samples).
type Slice = (f64, f64, String, u64, u64);

/// Flame-chart slices by (JSON pid, tid), sorted by start then depth.
fn chart_slices(v: &serde_json::Value) -> BTreeMap<(u64, u64), Vec<Slice>> {
    let mut out: BTreeMap<(u64, u64), Vec<Slice>> = BTreeMap::new();
    for e in v["traceEvents"].as_array().expect("events") {
        if e["ph"] == "X" && e["cat"] == "sample" {
            let ts = e["ts"].as_f64().expect("ts");
            let end = ts + e["dur"].as_f64().expect("dur");
            out.entry((e["pid"].as_u64().expect("pid"), e["tid"].as_u64().expect("tid")))
                .or_default()
                .push((
                    ts,
                    end,
                    e["name"].as_str().expect("name").to_string(),
                    e["args"]["depth"].as_u64().expect("depth"),
                    e["args"]["samples"].as_u64().expect("samples"),
                ));
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.3.cmp(&b.3)));
    }
    out
}

/// Every slice below the root lies within a slice one level up on its
/// track, and slices of one level never overlap.
fn assert_nested(tracks: &BTreeMap<(u64, u64), Vec<Slice>>) {
    for (track, list) in tracks {
        for s in list {
            assert!(s.1 >= s.0, "{track:?}: negative {s:?}");
            if s.3 > 0 {
                assert!(
                    list.iter().any(|p| p.3 + 1 == s.3 && p.0 <= s.0 && s.1 <= p.1),
                    "{track:?}: {s:?} has no parent in {list:?}"
                );
            }
            for o in list.iter().filter(|o| o.3 == s.3 && *o != s) {
                assert!(o.1 <= s.0 || s.1 <= o.0, "{track:?}: {s:?} overlaps {o:?}");
            }
        }
    }
}

/// The metadata event `name` (`process_name`, `thread_name`) of `pid`/`tid`.
fn meta(v: &serde_json::Value, name: &str, pid: u64, tid: Option<u64>) -> Option<String> {
    v["traceEvents"].as_array()?.iter().find_map(|e| {
        (e["ph"] == "M" && e["name"] == name && e["pid"] == pid && e["tid"].as_u64() == tid)
            .then(|| e["args"]["name"].as_str().map(String::from))?
    })
}

/// `timeline.json` of [`timed_report`], resolved against this test binary
/// (written once: loading its DWARF is slow).
fn timed_timeline() -> &'static serde_json::Value {
    static TIMELINE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    TIMELINE.get_or_init(|| {
        let dir = scratch("chart");
        let elfs = ElfPaths::new().with_program("thread_scale", own_exe());
        let p = write_run_profile(&ReportInput::from_report(timed_report()), &elfs, &dir)
            .expect("profile");
        let text = std::fs::read_to_string(&p.timeline).expect("timeline");
        serde_json::from_str(&text).expect("JSON")
    })
}

#[test]
fn timeline_names_processes_and_threads_on_their_own_tracks() {
    let v = timed_timeline();
    // JSON pid 2 + capOS pid; thread tids 2000.. in thread-ref order.
    assert_eq!(meta(v, "process_name", 5, None).as_deref(), Some("thread_scale:3"));
    assert_eq!(meta(v, "process_name", 2, None).as_deref(), Some("kernel"));
    assert_eq!(meta(v, "thread_name", 2, Some(2000)).as_deref(), Some("idle/t2"));
    assert_eq!(meta(v, "thread_name", 5, Some(2001)).as_deref(), Some("worker-1 (t5)"));
    assert_eq!(meta(v, "thread_name", 5, Some(2002)).as_deref(), Some("worker-2 (t6)"));
    assert_eq!(meta(v, "thread_name", 1, Some(0)).as_deref(), Some("CPU 0"));
    assert_eq!(
        meta(v, "thread_name", 1, Some(1100)).as_deref(),
        Some("CPU 0 samples (thread unknown)")
    );
    // The CPU track names the thread it switched to by its label.
    let cpu1: Vec<&str> = v["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "sched" && e["tid"] == 1)
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(cpu1, ["t0", "idle/t2"]);
}

#[test]
fn flame_chart_nests_frames_and_merges_shared_prefixes() {
    let tracks = chart_slices(timed_timeline());
    assert_nested(&tracks);
    let roots = |track: (u64, u64)| -> Vec<(f64, f64, u64)> {
        tracks[&track].iter().filter(|s| s.3 == 0).map(|s| (s.0, s.1, s.4)).collect()
    };
    // Worker 1: the three samples at 1, 2, 3 ms share their root (caller):
    // one slice 1000..4000 us; after the gap a new one, capped at 2 ms.
    assert_eq!(roots((5, 2001)), [(1000.0, 4000.0, 3), (9000.0, 11000.0, 1)]);
    let w1 = &tracks[&(5, 2001)];
    assert!(w1[0].2.contains("chart_caller"), "{w1:?}");
    // Under it: probe for the first two samples, then the kernel frame.
    let probe: Vec<(f64, f64, u64)> =
        w1.iter().filter(|s| s.2.contains("chart_probe")).map(|s| (s.0, s.1, s.4)).collect();
    assert_eq!(probe, [(1000.0, 3000.0, 2), (9000.0, 11000.0, 1)]);
    let kernel: Vec<(f64, f64, &str, u64)> = w1
        .iter()
        .filter(|s| s.2.ends_with("_[k]"))
        .map(|s| (s.0, s.1, s.2.as_str(), s.3))
        .collect();
    assert_eq!(kernel, [(3000.0, 4000.0, "<no symbols>_[k]", 1)]);
    assert_eq!(w1.len(), 5, "{w1:?}");
    // Worker 2's one sample runs to CPU 0's next sample.
    assert_eq!(roots((5, 2002)), [(4000.0, 5000.0, 1)]);
    // Stack 0 with no schedule: CPU 0's unknown-thread track.
    assert_eq!(tracks[&(1, 1100)], [(5000.0, 7000.0, "<stack not kept>".to_string(), 0, 1)]);
    // A stack id the report lacks, while CPU 1 ran idle: on idle's track.
    let idle = &tracks[&(2, 2000)];
    assert_eq!(idle.len(), 2, "{idle:?}");
    assert_eq!((idle[0].0, idle[0].1), (1500.0, 2500.0));
    assert_eq!(idle[1], (2500.0, 4500.0, "<stack not kept>".to_string(), 0, 1));
}

#[test]
fn random_timed_samples_always_nest() {
    let mut m = Mutator::new(99);
    let base = timed_report();
    for round in 0..100 {
        let mut r = base.clone();
        if round % 3 == 0 {
            r.instrument = None;
        }
        let frames = [K1, K2, U1, U2];
        for id in 1..6u32 {
            let depth = m.below(5);
            let stack = (0..depth).map(|_| frames[m.below(frames.len())]).collect();
            let tid = [W1, W2, IDLE][m.below(3)];
            r.stack_defs.insert(id, (tag(0, 3, tid, SampleMode::User), stack));
        }
        r.timed_samples = (0..m.below(60))
            .map(|_| capos_measure::report::TimedSample {
                cpu: m.below(3) as u8,
                tsc: m.next() % (20 * MS),
                stack: m.below(8) as u32,
            })
            .collect();
        let v = capos_flamegraphs::timeline_json(&r);
        let tracks = chart_slices(&v);
        assert_nested(&tracks);
        let drawn: u64 = tracks.values().flatten().filter(|s| s.3 == 0).map(|s| s.4).sum();
        assert_eq!(drawn, r.timed_samples.len() as u64, "every sample is drawn once");
        if round % 10 == 0 {
            // Odd names go through every view (titles, text, page) intact.
            let odd = ["", "a;b c", "<x&y>", "tab\tnew\nline", "\u{7f}\u{0}"];
            let name = odd[m.below(odd.len())].to_string();
            r.thread_names.insert(W1, ThreadName { thread: W1, pid: 3, name });
            let dir = scratch(&format!("chart-odd-{round}"));
            let p = profile(r.clone(), &dir);
            let views = p.thread_views("odd", |p| p.to_path_buf());
            let input =
                capos_flamegraphs::IndexInput { thread_views: vec![views], ..Default::default() };
            let (html, missing) = capos_flamegraphs::render_index(&input, &dir);
            assert!(missing.is_empty() && !html.contains("<x&y>"), "{missing:?}");
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p.timeline).expect("read"))
                    .expect("timeline JSON");
            assert_nested(&chart_slices(&v));
        }
    }
}

// ---- index.html ----

#[test]
fn index_links_every_thread_graph_by_its_label() {
    let dir = scratch("thread-index");
    let mut r = threads_report();
    r.instrument = Some(capos_measure::InstrumentInfo { sample_hz: 1000, ..Default::default() });
    let extra = capos_flamegraphs::MAX_THREAD_GRAPHS as u64;
    for i in 0..extra {
        r.stack_samples.insert((Phase::Work, tag(0, 3, 100 + i, SampleMode::User), vec![U1]), 1);
    }
    let p = profile(r, &dir.join("case 1"));
    let rel = |path: &std::path::Path| path.strip_prefix(&dir).unwrap_or(path).to_path_buf();
    let input = capos_flamegraphs::IndexInput {
        thread_views: vec![p.thread_views("smp2-w2", rel)],
        ..Default::default()
    };
    let out = capos_flamegraphs::write_index(&input, &dir).expect("index");
    assert_eq!(out.missing, Vec::<std::path::PathBuf>::new());
    let html = std::fs::read_to_string(&out.path).expect("read");
    assert!(html.contains("<h2>Per-thread flamegraphs</h2>") && html.contains("<h3>smp2-w2</h3>"));
    for (label, svg) in [
        ("worker-1 (t5)", "case%201/flamegraph-work-t5.svg"),
        ("worker-2 (t6)", "case%201/flamegraph-work-t6.svg"),
        ("idle/t2", "case%201/flamegraph-work-t2.svg"),
        ("thread_scale:3", "case%201/flamegraph-work-pid3.svg"),
    ] {
        let row = html.lines().find(|l| l.contains(&format!("<td>{label}</td>"))).expect(label);
        assert!(row.contains(&format!("href=\"{svg}\"")), "{row}");
    }
    // 3 named threads + 64 one-sample threads: 3 of those have no graph.
    assert!(
        html.contains("3 more threads with samples (3 samples) have no graph: only the 64"),
        "{html}"
    );
    assert!(
        html.contains("Who ran where, work phase") && html.contains("Who ran where, whole run")
    );
    assert!(html.contains("<td>idle/t2</td><td>idle</td><td>6</td>"), "who-ran row");
    assert!(html.contains("href=\"case%201/who-ran-where.txt\""));
    for part in html.split("href=\"").skip(1) {
        let target = part.split('"').next().expect("href").replace("%20", " ");
        assert!(dir.join(&target).is_file(), "dangling {target}");
    }
}
