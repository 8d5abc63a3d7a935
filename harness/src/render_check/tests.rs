//! `render-check` on pages written for each test: clean ones pass, and
//! each kind of breakage fails with the problem it should.

use std::sync::Mutex;

use super::browser::Browser;
use super::urls::{file_url, is_svg_url, local_path};
use super::*;

/// One browser at a time: the machines that run the tests have few cores.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

const GOOD_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"60\">\
                        <rect width=\"120\" height=\"60\" fill=\"#4a8\"/></svg>\n";
/// Not well-formed: `<rect>` is never closed.
const BAD_SVG: &str =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect></svg>\n";
/// Well-formed, but its script throws when it loads.
const THROWING_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"50\" \
                            height=\"50\" onload=\"init()\"><script>function init() { \
                            throw new Error('in the svg'); }</script><rect width=\"50\" \
                            height=\"50\"/></svg>\n";

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>t</title>\
         </head><body>\n{body}\n</body></html>\n"
    )
}

/// Checks `pages` in one browser. Without Chromium this panics with the
/// install hint: the render tests fail rather than pass unchecked.
fn check_pages(pages: &[PathBuf]) -> Vec<PageReport> {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let exe = find_chromium(None).unwrap_or_else(|e| panic!("{e:#}"));
    let mut browser = Browser::launch(&exe).unwrap_or_else(|e| panic!("{e:#}"));
    let timeout = Duration::from_secs(60);
    pages
        .iter()
        .map(|p| {
            browser.check_page(p, timeout).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()))
        })
        .collect()
}

/// Writes `files` (name, text) into a fresh directory and checks its
/// `index.html`.
fn check(files: &[(&str, &str)]) -> PageReport {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
    }
    let mut reports = check_pages(&[dir.path().join("index.html")]);
    reports.remove(0)
}

#[track_caller]
fn fails_with(r: &PageReport, needle: &str) {
    assert!(
        !r.ok() && r.problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got:\n{r}"
    );
}

#[test]
fn a_good_page_with_valid_svgs_passes() {
    let index = page(
        "<img src=\"chart.svg\" alt=\"chart\">\n\
         <object type=\"image/svg+xml\" data=\"sub%20dir/graph.svg\">graph</object>\n\
         <a href=\"data.json\">json</a> <a href=\"sub%20dir/graph.svg\">graph</a>\n\
         <a href=\"other.svg#frame\">other</a> <a href=\"https://example.org/\">out</a>\n\
         <a href=\"#top\">top</a>",
    );
    let r = check(&[
        ("index.html", &index),
        ("chart.svg", GOOD_SVG),
        ("sub dir/graph.svg", GOOD_SVG),
        ("other.svg", GOOD_SVG),
        ("data.json", "{}"),
    ]);
    assert!(r.ok(), "{r}");
    assert_eq!(r.images.len(), 1, "{r}");
    assert_eq!((r.images[0].width, r.images[0].height), (120.0, 60.0));
    assert_eq!(r.embedded.len(), 1, "{r}");
    assert!(r.embedded[0].url.ends_with("/sub%20dir/graph.svg"), "{:?}", r.embedded);
    assert_eq!(r.embedded[0].root, "svg");
    assert!(r.embedded[0].width > 0.0 && r.embedded[0].height > 0.0, "{:?}", r.embedded);
    // data.json, sub dir/graph.svg, other.svg and the page itself (#top).
    assert_eq!(r.links, 4, "{r}");
    // other.svg is only linked, so it is opened; graph.svg was embedded.
    assert_eq!((r.svgs_opened, r.external_links, r.console_messages), (1, 1, 0), "{r}");
    assert!(r.dom.contains("<object type=\"image/svg+xml\" data=\"sub%20dir/graph.svg\""));
    let text = r.to_string();
    assert!(text.contains(": ok: 1 images decoded, 1 embedded documents parsed"), "{text}");
}

#[test]
fn a_console_error_fails() {
    let r = check(&[("index.html", &page("<script>console.error('x marks', 42)</script>"))]);
    fails_with(&r, "console.error: x marks 42 (file://");
    assert_eq!(r.console_messages, 1);
}

#[test]
fn a_console_log_is_counted_and_shown_but_passes() {
    let r = check(&[("index.html", &page("<script>console.log('hello')</script>"))]);
    assert!(r.ok(), "{r}");
    assert_eq!(r.console_messages, 1);
    assert!(r.notes.iter().any(|n| n.contains("console.log: hello")), "{r}");
}

#[test]
fn an_uncaught_exception_fails() {
    let r = check(&[("index.html", &page("<script>throw new Error('y')</script>"))]);
    fails_with(&r, "uncaught exception: Error: y");
}

#[test]
fn a_missing_image_fails() {
    let r = check(&[("index.html", &page("<img src=\"missing.svg\" alt=\"m\">"))]);
    fails_with(&r, "missing.svg: net::ERR_FILE_NOT_FOUND");
    fails_with(&r, "references missing file");
    assert!(r.images.is_empty());
}

#[test]
fn an_image_that_is_not_well_formed_svg_fails() {
    let r =
        check(&[("index.html", &page("<img src=\"bad.svg\" alt=\"b\">")), ("bad.svg", BAD_SVG)]);
    fails_with(&r, "bad.svg did not decode");
    assert!(r.images.is_empty());
}

#[test]
fn an_embedded_svg_that_is_not_well_formed_fails() {
    let r = check(&[
        ("index.html", &page("<object type=\"image/svg+xml\" data=\"bad.svg\">b</object>")),
        ("bad.svg", BAD_SVG),
    ]);
    fails_with(&r, "<object> file://");
    fails_with(&r, "bad.svg is not well-formed: error on line 1");
}

#[test]
fn a_missing_embedded_svg_fails() {
    let r = check(&[(
        "index.html",
        &page("<object type=\"image/svg+xml\" data=\"gone.svg\">fallback</object>"),
    )]);
    fails_with(&r, "gone.svg has no document");
}

#[test]
fn an_exception_inside_an_embedded_svg_fails() {
    let r = check(&[
        ("index.html", &page("<object type=\"image/svg+xml\" data=\"t.svg\">t</object>")),
        ("t.svg", THROWING_SVG),
    ]);
    fails_with(&r, "uncaught exception: Error: in the svg (file://");
}

#[test]
fn a_dead_link_fails() {
    let r = check(&[("index.html", &page("<a href=\"case%201/gone.folded\">f</a>"))]);
    fails_with(&r, "link to missing file");
    fails_with(&r, "case 1/gone.folded");
}

#[test]
fn a_linked_svg_that_is_not_well_formed_or_throws_fails() {
    let r = check(&[
        ("index.html", &page("<a href=\"bad.svg\">b</a> <a href=\"t.svg\">t</a>")),
        ("bad.svg", BAD_SVG),
        ("t.svg", THROWING_SVG),
    ]);
    fails_with(&r, "linked bad.svg: not well-formed");
    fails_with(&r, "linked t.svg: uncaught exception: Error: in the svg");
    assert_eq!(r.svgs_opened, 2);
}

#[test]
fn without_chromium_the_error_says_how_to_install_it() {
    let empty = tempfile::tempdir().expect("tempdir");
    let path = Some(empty.path().as_os_str());
    let e = find_chromium_in(None, None, path).expect_err("no chromium there");
    let text = format!("{e:#}");
    assert!(text.contains("not found") && text.contains("make deps"), "{text}");
    let e = find_chromium_in(Some(Path::new("/nonexistent/chromium")), None, path)
        .expect_err("not a file");
    assert!(format!("{e:#}").contains("make deps"), "{e:#}");
    let e =
        find_chromium_in(None, Some(OsStr::new("no-such-browser")), path).expect_err("not on PATH");
    assert!(format!("{e:#}").contains(CHROMIUM_ENV), "{e:#}");
}

#[test]
fn file_urls_round_trip() {
    let p = Path::new("/tmp/run 1/a%b/ünï #?.svg");
    let url = file_url(p);
    assert_eq!(url, "file:///tmp/run%201/a%25b/%C3%BCn%C3%AF%20%23%3F.svg");
    assert_eq!(local_path(&url).as_deref(), Some(p));
    assert_eq!(local_path("file:///x/y.svg#frag?q").as_deref(), Some(Path::new("/x/y.svg")));
    assert_eq!(local_path("file:///x/100%").as_deref(), Some(Path::new("/x/100%")));
    assert_eq!(local_path("https://example.org/x"), None);
    assert!(is_svg_url("file:///a/B.SVG#x") && !is_svg_url("file:///a/b.svgz"));
}

/// A real report page: `capos_flamegraphs` draws the three charts and
/// an inferno flamegraph (and an empty one) and writes index.html.
#[test]
fn a_real_index_with_its_charts_renders_cleanly() {
    use capos_flamegraphs::{
        write_graph, write_index, write_lock_hists, write_loss_bars, write_speedup, Artifact,
        GateResult, GraphLink, GraphStyle, HistSeries, IndexInput, LossBar, SpeedupSeries, Table,
        ThreadViews,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let speedup = [
        SpeedupSeries { label: "capos (tcg)".into(), points: vec![(1, 1.0), (2, 1.8), (4, 3.1)] },
        SpeedupSeries { label: "linux (tcg)".into(), points: vec![(1, 1.0), (2, 1.9), (4, 3.6)] },
    ];
    write_speedup(&d.join("speedup.svg"), "thread-scale: median work speedup", &speedup)
        .expect("speedup chart");
    let segments = |idle: f64, locks: f64, kernel: f64| {
        vec![
            ("idle".to_string(), idle),
            ("locks (spin + longer holds)".to_string(), locks),
            ("kernel (outside lock holds)".to_string(), kernel),
        ]
    };
    let bars = [
        LossBar { label: "smp2-w2".into(), segments: segments(3.5, 1.25, -0.5) },
        LossBar { label: "smp4-w4".into(), segments: segments(9.0, 4.0, 2.0) },
    ];
    write_loss_bars(&d.join("scaling-loss.svg"), "Where the lost CPU time went", &bars)
        .expect("loss chart");
    let hists = [
        HistSeries { label: "scheduler_lock wait".into(), buckets: vec![(4, 10), (5, 40)] },
        HistSeries { label: "scheduler_lock hold".into(), buckets: vec![(3, 100), (6, 2)] },
    ];
    write_lock_hists(&d.join("lock-histograms.svg"), "smp4-w4: lock histograms", &hists)
        .expect("lock histograms");
    let case = d.join("case 1");
    let style = GraphStyle::new("case 1: work phase", "samples");
    let folded = "kmain_[k];schedule_[k] 5\nuser::main;user::work<T> 12\n";
    let work = write_graph(&case, "flamegraph-work", &style, folded, "test").expect("graph");
    let empty = write_graph(&case, "thread-7", &style, "", "no samples").expect("empty");
    std::fs::write(case.join("timeline.json"), "{\"traceEvents\":[]}").expect("timeline");
    std::fs::write(d.join("summary.log"), "work 1->2: 1.8x\n").expect("summary");
    let md = "| os | workers | work median |\n|---|---|---|\n| capos | 1 | 100 |\n";
    let input = IndexInput {
        title: "thread-scale <run> & co".into(),
        notes: vec!["accel=tcg".into()],
        tables: vec![Table::from_markdown("Speedup", md).expect("table")],
        gates: vec![GateResult {
            name: "work 1->2".into(),
            status: "pass".into(),
            detail: "1.8x >= 1.5x".into(),
        }],
        graphs: vec![
            Artifact::new("speedup", "speedup.svg"),
            Artifact::new("scaling loss", "scaling-loss.svg"),
            Artifact::new("lock histograms", "lock-histograms.svg"),
            Artifact::new("work phase", work.svg.clone()),
        ],
        files: vec![
            Artifact::new("timeline", "case 1/timeline.json"),
            Artifact::new("summary.log", "summary.log"),
        ],
        thread_views: vec![ThreadViews {
            heading: "case 1".into(),
            processes: vec![GraphLink {
                label: "init (pid 1)".into(),
                samples: 17,
                svg: work.svg.clone(),
                folded: work.folded.clone(),
            }],
            threads: vec![GraphLink {
                label: "t7".into(),
                samples: 0,
                svg: empty.svg.clone(),
                folded: empty.folded.clone(),
            }],
            ..ThreadViews::default()
        }],
        preformatted: vec![("summary.log".into(), "work 1->2: 1.8x".into())],
        ..IndexInput::default()
    };
    let out = write_index(&input, d).expect("index");
    assert!(out.missing.is_empty(), "{:?}", out.missing);
    let r = check_pages(std::slice::from_ref(&out.path)).remove(0);
    println!("{r}");
    assert!(r.ok(), "{r}");
    for chart in
        ["speedup.svg", "scaling-loss.svg", "lock-histograms.svg", "case%201/flamegraph-work.svg"]
    {
        assert!(r.dom.contains(&format!("data=\"{chart}\"")), "no {chart} in the DOM");
        let e = r.embedded.iter().find(|e| e.url.ends_with(&format!("/{chart}")));
        let e = e.unwrap_or_else(|| panic!("{chart} not embedded: {r}"));
        assert_eq!(e.root, "svg", "{chart}");
        assert!(e.width > 0.0 && e.height > 0.0, "{chart}: {e:?}");
    }
    assert_eq!(r.embedded.len(), 4, "{r}");
    assert_eq!(r.console_messages, 0, "{r}");
    // The empty thread graph is only linked: opened on its own.
    assert_eq!(r.svgs_opened, 1, "{r}");
}
