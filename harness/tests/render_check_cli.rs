//! `capos-harness render-check` end to end: its exit status and what it
//! prints, for a page that renders cleanly, one that does not, and a
//! Chromium that is not there. (The checks themselves are tested in
//! `src/render_check/tests.rs`.)

use std::path::Path;
use std::process::{Command, Output};

fn harness(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capos-harness"))
        .arg("render-check")
        .args(args)
        .output()
        .expect("run capos-harness")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>t</title>\
         </head><body>{body}</body></html>\n"
    );
    std::fs::write(&path, html).expect("write page");
    path
}

#[test]
fn exit_status_says_whether_every_page_rendered_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.html", "<p>fine</p>");
    let bad = write(dir.path(), "bad.html", "<script>console.error('broken')</script>");
    let o = harness(&[good.as_os_str()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("good.html: ok: 0 images decoded"), "{}", text(&o));
    let o = harness(&[good.as_os_str(), bad.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("good.html: ok:"), "{out}");
    assert!(out.contains("bad.html: FAILED, 1 problems") && out.contains("console.error: broken"));
    assert!(out.contains("1 of 2 pages have problems"), "{out}");
}

#[test]
fn a_missing_chromium_fails_with_the_install_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = write(dir.path(), "index.html", "<p>fine</p>");
    let o = harness(&["--chromium".as_ref(), "/nonexistent/chromium".as_ref(), page.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("make deps"), "{}", text(&o));
}
