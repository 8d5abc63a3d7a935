//! The Perfetto timeline (valid JSON, per-CPU slices that never overlap)
//! and index.html (escaped text, links only to files that exist).

#[path = "../../symbolize/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use capos_flamegraphs::{
    render_index, timeline_json, write_index, write_run_profile, write_timeline, Artifact,
    GateResult, IndexInput, LockPair, LockSite, Table,
};
use capos_measure::phase::Phase;
use capos_measure::report::{Begin, End, Report};
use capos_measure::trace::{LockId, TraceArgs, TraceEvent, TraceKind};
use capos_measure::ContentionClass;
use capos_symbolize::{parse_report_text, ElfPaths};
use common::*;
use serde_json::Value;

fn ev(cpu: u8, tsc: u64, args: TraceArgs) -> TraceEvent {
    args.event(tsc, cpu)
}

fn switch(prev: u64, next: u64) -> TraceArgs {
    TraceArgs::ContextSwitch { prev, next, prev_state: 1 }
}

const HEAP: LockId = LockId { class: ContentionClass::SharedKernelLock, index: 1 };

fn traced() -> Report {
    let mut r = Report {
        begin: Some(Begin { cpus: 2, tsc_khz: 2_000_000, catalogue: 0 }),
        end: Some(End { tsc: 20_000, records: 0, lost: 0 }),
        ..Report::default()
    };
    r.checkpoints.insert(Phase::Boot, 0);
    r.checkpoints.insert(Phase::Work, 4_000);
    r.checkpoints.insert(Phase::FinalTotal, 16_000);
    r.trace = vec![
        ev(0, 2_000, switch(1, 5)),
        ev(0, 4_000, TraceArgs::PhaseMark { phase: 2, mark_tsc: 4_000 }),
        ev(0, 6_000, TraceArgs::Wakeup { thread: 6, target_cpu: 1, waker: 5 }),
        ev(0, 6_000, TraceArgs::IpiSend { target_cpu: 1, vector: 0xf0 }),
        ev(0, 10_000, switch(5, 7)),
        ev(1, 6_500, TraceArgs::IpiRecv { vector: 0xf0, sender_cpu: 0 }),
        ev(1, 7_000, switch(0, 6)),
        ev(1, 7_000, switch(6, 8)),
        ev(1, 9_000, TraceArgs::LockContendedWait { lock: HEAP, wait_cycles: 400 }),
        ev(0, 1_000, TraceArgs::Shootdown { cpu_mask: 0b10, address_space: 0x9000 }),
    ];
    r
}

/// The instant event of category `cat` (the first one).
fn instant<'v>(v: &'v Value, cat: &str) -> &'v Value {
    v["traceEvents"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["ph"] == "i" && e["cat"] == cat))
        .unwrap_or_else(|| panic!("no {cat} instant"))
}

#[test]
fn instants_carry_named_arguments_in_the_right_places() {
    let v = timeline_json(&traced());
    let recv = &instant(&v, "ipi_recv")["args"];
    assert_eq!((recv["vector"].as_u64(), recv["sender_cpu"].as_u64()), (Some(0xf0), Some(0)));
    let send = &instant(&v, "ipi_send")["args"];
    assert_eq!((send["target_cpu"].as_u64(), send["vector"].as_u64()), (Some(1), Some(0xf0)));
    let wake = &instant(&v, "wakeup")["args"];
    assert_eq!(
        (wake["thread"].as_u64(), wake["target_cpu"].as_u64(), wake["waker"].as_u64()),
        (Some(6), Some(1), Some(5))
    );
    let lock = &instant(&v, "lock_contended_wait");
    assert_eq!(lock["args"]["wait_cycles"].as_u64(), Some(400));
    assert_eq!(lock["args"]["lock_name"].as_str(), Some("shared_kernel_lock lock=heap"));
    let shoot = &instant(&v, "shootdown")["args"];
    assert_eq!(
        (shoot["cpu_mask"].as_u64(), shoot["address_space"].as_u64()),
        (Some(0b10), Some(0x9000))
    );
}

/// `truncated` of each CPU's first slice.
fn first_slice_truncated(v: &Value) -> BTreeMap<u64, bool> {
    let mut out = BTreeMap::new();
    for e in v["traceEvents"].as_array().expect("events") {
        if e["ph"] == "X" && e["cat"] == "sched" {
            let tid = e["tid"].as_u64().expect("tid");
            out.entry(tid).or_insert(e["args"]["truncated"].as_bool().expect("flag"));
        }
    }
    out
}

#[test]
fn first_slice_is_truncated_only_when_that_cpu_lost_events() {
    let mut r = traced();
    let v = timeline_json(&r);
    assert_eq!(first_slice_truncated(&v), BTreeMap::from([(0, false), (1, false)]));
    // Nothing lost: the first slice runs from the start of measurement.
    assert_eq!(slices(&v)[&0][0].0, 0.0);
    r.trace_dropped.insert(1, 3);
    let v = timeline_json(&r);
    assert_eq!(first_slice_truncated(&v), BTreeMap::from([(0, false), (1, true)]));
}

/// (tid, ts, dur) of every complete slice, checking no two on a tid overlap.
fn slices(v: &Value) -> BTreeMap<u64, Vec<(f64, f64, String)>> {
    let mut by_tid: BTreeMap<u64, Vec<(f64, f64, String)>> = BTreeMap::new();
    for e in v["traceEvents"].as_array().expect("events") {
        // IPI ends are zero-length markers nested in a CPU's slice.
        if e["ph"] == "X" && e["cat"] == "ipi" {
            assert_eq!(e["dur"].as_f64(), Some(0.0), "{e}");
            continue;
        }
        if e["ph"] == "X" {
            let tid = e["tid"].as_u64().expect("tid");
            let ts = e["ts"].as_f64().expect("ts");
            let dur = e["dur"].as_f64().expect("dur");
            assert!(dur >= 0.0, "{e}");
            by_tid.entry(tid).or_default().push((
                ts,
                dur,
                e["name"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    for list in by_tid.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in list.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0 + 1e-9, "overlap: {w:?}");
        }
    }
    by_tid
}

#[test]
fn timeline_is_valid_json_with_non_overlapping_cpu_slices() {
    let dir = scratch("timeline");
    let path = write_timeline(&traced(), &dir).expect("timeline");
    let text = std::fs::read_to_string(path).expect("read");
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(
        serde_json::to_string(&v).ok().and_then(|s| serde_json::from_str::<Value>(&s).ok()),
        Some(v.clone())
    );
    let s = slices(&v);
    // CPU 0: thread 1 (from the start of measurement), 5, then 7 to the end.
    let cpu0: Vec<&str> = s[&0].iter().map(|x| x.2.as_str()).collect();
    assert_eq!(cpu0, ["t1", "t5", "t7"]);
    // 2000 cycles at 2 GHz = 1 us; thread 5 ran 2000..10000.
    assert_eq!((s[&0][1].0, s[&0][1].1), (1.0, 4.0));
    assert_eq!(s[&0][2].0 + s[&0][2].1, 10.0);
    let cpu1: Vec<&str> = s[&1].iter().map(|x| x.2.as_str()).collect();
    // CPU 1's first switch: thread 0 ran from the start until it.
    assert_eq!(cpu1, ["t0", "t6", "t8"]);
    let phases: Vec<&str> = s[&1000].iter().map(|x| x.2.as_str()).collect();
    assert_eq!(phases, ["boot", "work"]);
    let instants: Vec<&str> = v["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "i")
        .filter_map(|e| e["cat"].as_str())
        .collect();
    for cat in [
        "wakeup",
        "ipi_send",
        "ipi_recv",
        "shootdown",
        "lock_contended_wait",
        "phase_mark",
        "phase",
    ] {
        assert!(instants.contains(&cat), "{cat} missing from {instants:?}");
    }
}

#[test]
fn random_traces_never_overlap_or_panic() {
    let mut m = Mutator::new(77);
    for _ in 0..200 {
        let mut r = traced();
        r.begin = (m.below(4) != 0).then_some(Begin {
            cpus: m.below(5) as u8,
            tsc_khz: m.next() % 3_000_000,
            catalogue: 0,
        });
        r.end = (m.below(3) != 0).then(|| End { tsc: m.next() % 30_000, records: 0, lost: 0 });
        r.trace = (0..m.below(40))
            .map(|_| {
                let kind = TraceKind::ALL[m.below(TraceKind::ALL.len())];
                // Raw slots: random values, undecodable ones included.
                let (a, b) = (m.next() % 9, m.next());
                TraceEvent { tsc: m.next() % 25_000, kind, cpu: m.below(3) as u8, flags: 1, a, b }
            })
            .collect();
        slices(&timeline_json(&r));
    }
}

fn sample_input(dir: &std::path::Path) -> IndexInput {
    let md =
        "# thread-scale\n\n| os | workers | work median |\n|---|---|---|\n| capos | 1 | 100 |\n| linux | 4 | <25> |\n";
    IndexInput {
        title: "thread-scale <run> & \"quotes\"".into(),
        notes: vec!["accel=tcg <script>alert(1)</script>".into()],
        tables: vec![Table::from_markdown("Speedup", md).expect("table")],
        gates: vec![
            GateResult {
                name: "work 1->2".into(),
                status: "pass".into(),
                detail: "1.9x >= 1.5x".into(),
            },
            GateResult {
                name: "kvm".into(),
                status: "not collected".into(),
                detail: "no KVM".into(),
            },
        ],
        lock_sites: vec![LockSite {
            family: "scheduler_lock_site".into(),
            site: "timer_select".into(),
            acquisitions: 5,
            contended: 2,
            wait_cycles: 1000,
            hold_cycles: 10,
        }],
        lock_pairs: vec![LockPair {
            class: "scheduler_lock".into(),
            waiter: "wake_unblock".into(),
            holder: "steal".into(),
            count: 2,
            wait_cycles: 1000,
            cross_cpu: 2,
        }],
        graphs: vec![
            Artifact::new("work phase", "case 1/flamegraph-work.svg"),
            Artifact::new("absolute", dir.join("case 1/flamegraph-run.svg")),
            Artifact::new("gone", "nope.svg"),
        ],
        files: vec![Artifact::new("timeline", "case 1/timeline.json")],
        preformatted: vec![("summary.log".into(), "a < b && c > d".into())],
        thread_views: Vec::new(),
    }
}

#[test]
fn index_escapes_text_and_links_only_existing_files() {
    let dir = scratch("index");
    let report = parse_report_text("measure: begin version=1 cpus=1 tsc_khz=0 catalogue=0x0\n")
        .expect("log")
        .report;
    write_run_profile(
        &capos_symbolize::ReportInput { report, contention: vec![] },
        &ElfPaths::new(),
        &dir.join("case 1"),
    )
    .expect("profile");
    let out = write_index(&sample_input(&dir), &dir).expect("index");
    assert_eq!(out.missing, vec![std::path::PathBuf::from("nope.svg")]);
    let html = std::fs::read_to_string(&out.path).expect("read");
    assert!(html.contains("thread-scale &lt;run&gt; &amp; &quot;quotes&quot;"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script"));
    assert!(html.contains("<td>&lt;25&gt;</td>") && html.contains("a &lt; b &amp;&amp; c &gt; d"));
    assert!(html.contains("<td class=\"pass\">pass</td>") && html.contains("missing: nope.svg"));
    assert!(html.contains("Contended with: top waiter -&gt; holder pairs"), "{html}");
    assert!(
        html.contains("<td>wake_unblock</td><td>steal</td><td>2</td><td>1000</td><td>2</td>"),
        "{html}"
    );
    let pairs = std::fs::read_to_string(dir.join("case 1/lock-pairs.txt")).expect("lock-pairs.txt");
    assert!(pairs.contains("## whole run: 0 pairs"), "{pairs}");
    assert!(!html.contains("http://") && !html.contains("https://"), "no network references");
    let mut refs = 0;
    for attr in ["href=\"", "data=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().expect("attr value").replace("%20", " ");
            assert!(dir.join(&target).is_file(), "dangling {target}");
            refs += 1;
        }
    }
    assert_eq!(refs, 5, "{html}");
    // Rendering alone needs no files to exist.
    let (html, missing) = render_index(&sample_input(&dir), &dir.join("elsewhere"));
    assert_eq!(missing.len(), 3);
    assert!(html.contains("data=\"../case%201/flamegraph-run.svg\""), "{html}");
}

#[test]
fn wakeups_are_flow_arrows_from_the_waker_to_the_woken_threads_next_run() {
    use capos_measure::report::ThreadName;
    let mut r = traced();
    for (thread, name) in [(5u64, "waker"), (6, "sleeper")] {
        r.thread_names.insert(thread, ThreadName { thread, pid: 2, name: name.into() });
    }
    // The timer wakes the sleeper again on CPU 1; no switch to it follows.
    r.trace.push(ev(1, 8_000, TraceArgs::Wakeup { thread: 6, target_cpu: 1, waker: 0 }));
    let v = timeline_json(&r);
    let events = v["traceEvents"].as_array().unwrap();
    let of = |ph: &str| -> Vec<&Value> {
        events.iter().filter(|e| e["ph"] == ph && e["cat"] == "wakeup").collect()
    };
    let (starts, ends) = (of("s"), of("f"));
    assert_eq!((starts.len(), ends.len()), (2, 2));
    // Thread tracks: the kernel-less process 2 is JSON pid 4; threads 5 and
    // 6 are its first two tracks.
    let track = |e: &Value| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
    let us = |tsc: f64| tsc / 2_000.0; // 2 GHz, t0 = 0
    let (s, f) = (starts[0], ends[0]);
    assert_eq!(s["id"], f["id"]);
    assert_eq!((track(s), s["ts"].as_f64()), ((4, 2000), Some(us(6_000.0))));
    // Bound at its switch-in on CPU 1 at 7 000, 0.5 us after the wakeup.
    assert_eq!(
        (track(f), f["ts"].as_f64(), f["bp"].as_str()),
        ((4, 2001), Some(us(7_000.0)), Some("e"))
    );
    let woken = events
        .iter()
        .find(|e| e["ph"] == "X" && e["cat"] == "wakeup" && track(e) == (4, 2001))
        .unwrap();
    assert_eq!(woken["name"], "woken by waker (t5) (0.5 us queued)");
    // The timer's wakeup starts on CPU 1's track and ends at the wakeup.
    let (s, f) = (starts[1], ends[1]);
    assert_eq!((track(s), track(f)), ((1, 1), (4, 2001)));
    assert_eq!((s["ts"].as_f64(), f["ts"].as_f64()), (Some(us(8_000.0)), Some(us(8_000.0))));
}

#[test]
fn the_timeline_carries_ipi_flows_and_counter_tracks() {
    let v = timeline_json(&traced());
    let events = v["traceEvents"].as_array().expect("events");
    let of =
        |ph: &str, cat: &str| events.iter().filter(|e| e["ph"] == ph && e["cat"] == cat).count();
    // One IPI (CPU 0 at 6 000 -> CPU 1 at 6 500): one arrow, two ends.
    assert_eq!((of("s", "ipi"), of("f", "ipi"), of("X", "ipi")), (1, 1, 2));
    // The heap lock wait on CPU 1: 400 cycles at 2 GHz = 0.2 us so far.
    let wait = events
        .iter()
        .find(|e| e["ph"] == "C" && e["name"] == "lock wait cpu 1")
        .expect("a lock wait counter");
    assert_eq!(wait["args"]["us"].as_f64(), Some(0.2));
}
