//! The headless Chromium behind `render-check`: started with its DevTools
//! protocol on a pipe, it loads each page in its own tab and reports what
//! the page's events and documents show.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::urls::{file_url, is_svg_url, local_path, same_doc, shown_path, strip_fragment};
use super::{Embedded, Image, PageReport};

/// Moves our pipes onto the fds `--remote-debugging-pipe` uses (3: the
/// browser reads commands, 4: it writes replies and events), then runs
/// Chromium (`$0`) with its arguments; its own stdout goes to stderr.
const PIPE_SHIM: &str = "exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>&2";

/// Chromium's flags (before `--user-data-dir` and the start URL).
pub const CHROMIUM_FLAGS: [&str; 14] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1280,1024",
];

/// How long Chromium may take to answer its first command.
const STARTUP: Duration = Duration::from_secs(60);
/// A page has settled after this long without a protocol event...
const QUIET: Duration = Duration::from_millis(300);
/// ...or this long after its load event, whichever comes first.
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// The isolated world the checks run in.
const WORLD: &str = "capos-render-check";

/// A headless Chromium driven over its DevTools pipe.
pub struct Browser {
    child: Child,
    input: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Events that arrived while waiting for a reply.
    backlog: VecDeque<Value>,
    next_id: u64,
    /// Holds the profile and Chromium's stderr; removed on drop.
    scratch: PathBuf,
}

impl Browser {
    /// Starts Chromium `exe` with [`CHROMIUM_FLAGS`] and a fresh profile,
    /// and waits for it to answer.
    pub fn launch(exe: &Path) -> Result<Browser> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let scratch = std::env::temp_dir().join(format!(
            "capos-render-check-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        let log_path = scratch.join("chromium.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()));
        let log = match log {
            Ok(log) => log,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e);
            }
        };
        let mut profile = OsString::from("--user-data-dir=");
        profile.push(scratch.join("profile"));
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(PIPE_SHIM)
            .arg(exe)
            .args(CHROMIUM_FLAGS)
            .arg(profile)
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e).with_context(|| format!("starting {} via sh", exe.display()));
            }
        };
        let input = child.stdin.take();
        let output = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        if let Some(output) = output {
            std::thread::spawn(move || read_messages(output, tx));
        }
        let mut browser =
            Browser { child, input, messages: rx, backlog: VecDeque::new(), next_id: 0, scratch };
        browser
            .call(None, "Browser.getVersion", json!({}), Instant::now() + STARTUP)
            .with_context(|| format!("starting headless Chromium {}", exe.display()))?;
        Ok(browser)
    }

    /// Loads `page` in a new tab and checks it (see the module doc). An
    /// error is a failure to check at all (Chromium died, no such page).
    pub fn check_page(&mut self, page: &Path, timeout: Duration) -> Result<PageReport> {
        let deadline = Instant::now() + timeout;
        let path =
            std::fs::canonicalize(page).with_context(|| format!("no page {}", page.display()))?;
        if !path.is_file() {
            bail!("{} is not a file", page.display());
        }
        let target =
            self.call(None, "Target.createTarget", json!({"url": "about:blank"}), deadline)?;
        let target_id =
            target["targetId"].as_str().context("createTarget: no targetId")?.to_owned();
        let report = self.check_in_tab(&target_id, page, &path, deadline, timeout);
        let close = Instant::now() + Duration::from_secs(10);
        let _ = self.call(None, "Target.closeTarget", json!({"targetId": target_id}), close);
        report
    }

    fn check_in_tab(
        &mut self,
        target_id: &str,
        page: &Path,
        path: &Path,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<PageReport> {
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            deadline,
        )?;
        let session = attached["sessionId"].as_str().context("attachToTarget: no sessionId")?;
        let session = session.to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] {
            self.call(Some(&session), domain, json!({}), deadline)?;
        }
        let mut report = PageReport { page: page.to_path_buf(), ..PageReport::default() };
        let url = file_url(path);
        let loaded = self.visit(&session, &url, "", deadline, timeout, &mut report)?;
        if !loaded {
            return Ok(report);
        }
        let frames = self.frame_docs(&session, deadline)?;
        let Some(main) = frames.iter().find(|f| f.main) else {
            bail!("{url}: Chromium reported no main frame");
        };
        let info = self.evaluate(&session, main.context, PAGE_JS, deadline)?;
        report.dom = info["dom"].as_str().unwrap_or_default().to_owned();
        if let Some(e) = &main.parse_error {
            report.problems.push(format!("the page is not well-formed: {e}"));
        }
        for img in info["images"].as_array().into_iter().flatten() {
            let src = img["url"].as_str().unwrap_or_default().to_owned();
            let (width, height) = (num(&img["width"]), num(&img["height"]));
            match img["error"].as_str() {
                Some(e) => report.problems.push(format!("image {src} did not decode: {e}")),
                None if width <= 0.0 => {
                    report.problems.push(format!("image {src} decoded to naturalWidth 0"))
                }
                None => report.images.push(Image { url: src, width, height }),
            }
        }
        let mut embedded_urls = HashSet::new();
        for e in info["embeds"].as_array().into_iter().flatten() {
            let tag = e["tag"].as_str().unwrap_or("object").to_owned();
            let src = e["url"].as_str().unwrap_or_default().to_owned();
            embedded_urls.insert(strip_fragment(&src).to_owned());
            let frame = frames.iter().find(|f| !f.main && same_doc(&f.url, &src));
            match frame {
                None => {
                    report.problems.push(format!("<{tag}> {src} has no document (it did not load)"))
                }
                Some(f) => match (&f.parse_error, f.root.as_deref()) {
                    (Some(err), _) => {
                        report.problems.push(format!("<{tag}> {src} is not well-formed: {err}"))
                    }
                    (None, None) => {
                        report.problems.push(format!("<{tag}> {src}: its document is empty"))
                    }
                    (None, Some(root)) if is_svg_url(&src) && root != "svg" => report
                        .problems
                        .push(format!("<{tag}> {src}: root element <{root}>, not <svg>")),
                    (None, Some(root)) => report.embedded.push(Embedded {
                        tag,
                        url: src,
                        root: root.to_owned(),
                        width: f.width,
                        height: f.height,
                    }),
                },
            }
        }
        // Every local file the page references must exist.
        let referenced = ["images", "embeds"]
            .iter()
            .flat_map(|k| info[*k].as_array().into_iter().flatten().map(|v| &v["url"]))
            .chain(info["resources"].as_array().into_iter().flatten());
        for u in referenced.filter_map(Value::as_str) {
            if let Some(p) = local_path(u) {
                if !p.exists() {
                    report.problems.push(format!("references missing file {}", p.display()));
                }
            }
        }
        let mut linked_svgs = BTreeSet::new();
        let mut seen = HashSet::new();
        for u in info["links"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let Some(p) = local_path(u) else {
                report.external_links += 1;
                continue;
            };
            if !seen.insert(p.clone()) {
                continue;
            }
            if !p.exists() {
                report.problems.push(format!("link to missing file {}", p.display()));
                continue;
            }
            report.links += 1;
            let target = strip_fragment(u).to_owned();
            if is_svg_url(&target) && p.is_file() && !embedded_urls.contains(&target) {
                linked_svgs.insert(target);
            }
        }
        for svg in linked_svgs {
            let label = format!("linked {}: ", shown_path(&svg, path));
            if !self.visit(&session, &svg, &label, deadline, timeout, &mut report)? {
                continue;
            }
            report.svgs_opened += 1;
            let frames = self.frame_docs(&session, deadline)?;
            match frames.iter().find(|f| f.main) {
                None => report.problems.push(format!("{label}no document")),
                Some(f) => match (&f.parse_error, f.root.as_deref()) {
                    (Some(e), _) => report.problems.push(format!("{label}not well-formed: {e}")),
                    (None, Some("svg")) => {}
                    (None, root) => report.problems.push(format!(
                        "{label}root element {}, not <svg>",
                        root.unwrap_or("(none)")
                    )),
                },
            }
        }
        Ok(report)
    }

    /// Navigates the tab to `url`, waits for its load event, then until it
    /// settles; records what the events show in `report` (with `label`
    /// before each problem). False when it did not load.
    fn visit(
        &mut self,
        session: &str,
        url: &str,
        label: &str,
        deadline: Instant,
        timeout: Duration,
        report: &mut PageReport,
    ) -> Result<bool> {
        // Events still queued belong to the document before.
        self.backlog.retain(|m| m["sessionId"].as_str() != Some(session));
        let mut w = Watch { session: session.to_owned(), ..Watch::default() };
        let nav = self.call(Some(session), "Page.navigate", json!({"url": url}), deadline)?;
        if let Some(e) = nav["errorText"].as_str() {
            report.problems.push(format!("{label}{url} did not load: {e}"));
            return Ok(false);
        }
        while !w.loaded && !w.gone {
            if !self.pump(&mut w, deadline)? {
                w.problems.push(format!(
                    "{url} did not fire its load event within {}s",
                    timeout.as_secs()
                ));
                break;
            }
        }
        if w.loaded {
            let settle = (Instant::now() + SETTLE_MAX).min(deadline);
            while !w.gone && self.pump(&mut w, (Instant::now() + QUIET).min(settle))? {}
        }
        let loaded = w.loaded && !w.gone;
        w.finish();
        report.console_messages += w.console;
        report.problems.extend(w.problems.into_iter().map(|p| format!("{label}{p}")));
        report.notes.extend(w.notes.into_iter().map(|n| format!("{label}{n}")));
        Ok(loaded)
    }

    /// Feeds one message (a queued event first) to `w`; false when none
    /// came by `until`.
    fn pump(&mut self, w: &mut Watch, until: Instant) -> Result<bool> {
        let m = match self.backlog.pop_front() {
            Some(m) => m,
            None => match self.next(until)? {
                Some(m) => m,
                None => return Ok(false),
            },
        };
        if m["sessionId"].as_str() == Some(&w.session) || m["method"] == "Target.detachedFromTarget"
        {
            if let Some((method, params)) = w.see(&m) {
                self.send(Some(w.session.as_str()), method, params)?;
            }
        }
        Ok(true)
    }

    /// Every frame of the tab, with what its document is.
    fn frame_docs(&mut self, session: &str, deadline: Instant) -> Result<Vec<FrameDoc>> {
        let tree = self.call(Some(session), "Page.getFrameTree", json!({}), deadline)?;
        let mut frames = Vec::new();
        let mut stack = vec![&tree["frameTree"]];
        while let Some(node) = stack.pop() {
            let f = &node["frame"];
            if let Some(id) = f["id"].as_str() {
                let main = f["parentId"].is_null();
                frames.push((
                    id.to_owned(),
                    f["url"].as_str().unwrap_or_default().to_owned(),
                    main,
                ));
            }
            stack.extend(node["childFrames"].as_array().into_iter().flatten());
        }
        let mut docs = Vec::new();
        for (id, url, main) in frames {
            let world = self.call(
                Some(session),
                "Page.createIsolatedWorld",
                json!({"frameId": id, "worldName": WORLD}),
                deadline,
            );
            let context = match world.map(|w| w["executionContextId"].as_i64()) {
                Ok(Some(c)) => c,
                Ok(None) | Err(_) => {
                    let parse_error = Some("no document to inspect".to_owned());
                    docs.push(FrameDoc {
                        url,
                        main,
                        context: 0,
                        parse_error,
                        ..FrameDoc::default()
                    });
                    continue;
                }
            };
            let v = self.evaluate(session, context, FRAME_JS, deadline)?;
            docs.push(FrameDoc {
                url,
                main,
                context,
                root: v["root"].as_str().map(str::to_owned),
                parse_error: v["parseError"].as_str().map(str::to_owned),
                width: num(&v["width"]),
                height: num(&v["height"]),
            });
        }
        Ok(docs)
    }

    /// Runs `expr` in execution context `context`, awaiting a promise; its
    /// value as JSON.
    fn evaluate(
        &mut self,
        session: &str,
        context: i64,
        expr: &str,
        deadline: Instant,
    ) -> Result<Value> {
        let params = json!({
            "expression": expr,
            "contextId": context,
            "awaitPromise": true,
            "returnByValue": true,
        });
        let mut r = self.call(Some(session), "Runtime.evaluate", params, deadline)?;
        if !r["exceptionDetails"].is_null() {
            bail!("the check's own script failed: {}", exception_text(&r["exceptionDetails"]));
        }
        Ok(r["result"]["value"].take())
    }

    /// Sends a command; its id.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<u64> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(0);
        let sent = match self.input.as_mut() {
            Some(pipe) => pipe.write_all(&bytes).and_then(|()| pipe.flush()),
            None => Err(std::io::Error::from(ErrorKind::BrokenPipe)),
        };
        if let Err(e) = sent {
            bail!("sending {method} to Chromium: {e}{}", self.log_tail());
        }
        Ok(id)
    }

    /// Sends a command and waits for its reply (until `deadline`); its
    /// `result`. Events meanwhile are queued.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        deadline: Instant,
    ) -> Result<Value> {
        let id = self.send(session, method, params)?;
        loop {
            let Some(mut m) = self.next(deadline)? else {
                bail!("Chromium did not answer {method} in time{}", self.log_tail());
            };
            if m["id"].as_u64() == Some(id) {
                if !m["error"].is_null() {
                    bail!("{method}: {}", m["error"]);
                }
                return Ok(m["result"].take());
            }
            if m["method"].is_string() {
                self.backlog.push_back(m);
            }
        }
    }

    /// The next message, or `None` at `until`; an error once Chromium is gone.
    fn next(&mut self, until: Instant) -> Result<Option<Value>> {
        let wait = until.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(wait) {
            Ok(m) => Ok(Some(m)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                // Give it a moment to exit, to say how it ended.
                let mut status = String::new();
                for _ in 0..50 {
                    if let Ok(Some(s)) = self.child.try_wait() {
                        status = format!(" ({s})");
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                bail!("Chromium closed its DevTools pipe{status}{}", self.log_tail())
            }
        }
    }

    /// The end of Chromium's stderr, to quote in an error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.scratch.join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail = &lines[lines.len().saturating_sub(15)..];
        format!("; Chromium's stderr ends:\n  {}", tail.join("\n  "))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send(None, "Browser.close", json!({}));
        self.input = None;
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= give_up => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Splits Chromium's output into NUL-ended JSON messages.
fn read_messages(mut from: impl Read, to: mpsc::Sender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut scanned = 0;
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf[scanned..].iter().position(|b| *b == 0).map(|i| scanned + i) {
            if let Ok(v) = serde_json::from_slice::<Value>(&buf[..end]) {
                if to.send(v).is_err() {
                    return;
                }
            }
            buf.drain(..=end);
            scanned = 0;
        }
        scanned = buf.len();
    }
}

/// One frame's document.
#[derive(Debug, Default)]
struct FrameDoc {
    url: String,
    main: bool,
    /// The isolated world's execution context in it.
    context: i64,
    root: Option<String>,
    parse_error: Option<String>,
    width: f64,
    height: f64,
}

/// What the events of one navigation showed.
#[derive(Debug, Default)]
struct Watch {
    session: String,
    loaded: bool,
    /// The tab crashed or was detached.
    gone: bool,
    console: usize,
    problems: Vec<String>,
    notes: Vec<String>,
    /// Request id -> URL.
    requests: HashMap<String, String>,
    failed: HashSet<String>,
    /// Network errors the browser logged: (request id, text); those of a
    /// request that failed are already problems.
    network_log: Vec<(Option<String>, String)>,
}

impl Watch {
    /// Records one event; a command to send in answer (closing a dialog).
    fn see(&mut self, m: &Value) -> Option<(&'static str, Value)> {
        let p = &m["params"];
        match m["method"].as_str().unwrap_or_default() {
            "Page.loadEventFired" => self.loaded = true,
            "Runtime.consoleAPICalled" => {
                self.console += 1;
                let kind = p["type"].as_str().unwrap_or("log");
                let text = console_text(p);
                if matches!(kind, "error" | "assert") {
                    self.problems.push(format!("console.{kind}: {text}"));
                } else {
                    self.notes.push(format!("console.{kind}: {text}"));
                }
            }
            "Runtime.exceptionThrown" => {
                self.console += 1;
                let text = exception_text(&p["exceptionDetails"]);
                self.problems.push(format!("uncaught exception: {text}"));
            }
            "Log.entryAdded" => {
                self.console += 1;
                let e = &p["entry"];
                let level = e["level"].as_str().unwrap_or("info");
                let mut text = e["text"].as_str().unwrap_or_default().to_owned();
                if let Some(u) = e["url"].as_str().filter(|u| !u.is_empty()) {
                    let _ = write!(text, " ({u})");
                }
                let source = e["source"].as_str().unwrap_or("other");
                if level != "error" {
                    self.notes.push(format!("browser {source} {level}: {text}"));
                } else if source == "network" {
                    let id = e["networkRequestId"].as_str().map(str::to_owned);
                    self.network_log.push((id, format!("browser {source} error: {text}")));
                } else {
                    self.problems.push(format!("browser {source} error: {text}"));
                }
            }
            "Network.requestWillBeSent" => {
                if let (Some(id), Some(u)) = (p["requestId"].as_str(), p["request"]["url"].as_str())
                {
                    self.requests.insert(id.to_owned(), u.to_owned());
                }
            }
            "Network.loadingFailed" => {
                let id = p["requestId"].as_str().unwrap_or_default();
                self.failed.insert(id.to_owned());
                let what = self.requests.get(id).cloned().unwrap_or_else(|| {
                    format!("a {} request", p["type"].as_str().unwrap_or("resource"))
                });
                let err = p["errorText"].as_str().unwrap_or("failed");
                let canceled = if p["canceled"] == true { " (canceled)" } else { "" };
                self.problems.push(format!("failed to load {what}: {err}{canceled}"));
            }
            "Network.responseReceived" => {
                let status = num(&p["response"]["status"]);
                if status >= 400.0 {
                    let u = p["response"]["url"].as_str().unwrap_or_default();
                    self.problems.push(format!("{u}: HTTP status {status}"));
                }
            }
            "Page.javascriptDialogOpening" => {
                let kind = p["type"].as_str().unwrap_or("dialog");
                let msg = p["message"].as_str().unwrap_or_default();
                self.problems.push(format!("the page opened a dialog ({kind}): {msg}"));
                return Some(("Page.handleJavaScriptDialog", json!({"accept": false})));
            }
            "Inspector.targetCrashed" => {
                self.gone = true;
                self.problems.push("the page's renderer crashed".to_owned());
            }
            "Target.detachedFromTarget" if p["sessionId"].as_str() == Some(&self.session) => {
                self.gone = true;
                self.problems.push("the tab went away while loading".to_owned());
            }
            _ => {}
        }
        None
    }

    /// Network errors the browser logged for requests not already failed.
    fn finish(&mut self) {
        for (id, text) in std::mem::take(&mut self.network_log) {
            if !id.is_some_and(|id| self.failed.contains(&id)) {
                self.problems.push(text);
            }
        }
    }
}

/// A console call's arguments, space-separated, and where it was made.
fn console_text(p: &Value) -> String {
    let args: Vec<String> = p["args"].as_array().into_iter().flatten().map(remote_text).collect();
    let mut text = args.join(" ");
    if let Some(frame) = p["stackTrace"]["callFrames"].as_array().and_then(|f| f.first()) {
        let _ = write!(text, " ({})", location(frame));
    }
    text
}

/// An uncaught exception: its description (or text) and where.
fn exception_text(d: &Value) -> String {
    let what = d["exception"]["description"]
        .as_str()
        .or_else(|| d["exception"]["value"].as_str())
        .or_else(|| d["text"].as_str())
        .unwrap_or("exception");
    let first = what.lines().next().unwrap_or(what);
    format!("{first} ({})", location(d))
}

/// `url:line:column` (1-based) of a call frame or exception.
fn location(v: &Value) -> String {
    let url = v["url"].as_str().unwrap_or("?");
    let line = v["lineNumber"].as_u64().map_or(0, |n| n + 1);
    let col = v["columnNumber"].as_u64().map_or(0, |n| n + 1);
    format!("{url}:{line}:{col}")
}

/// A `Runtime.RemoteObject` as text.
fn remote_text(o: &Value) -> String {
    match &o["value"] {
        Value::String(s) => s.clone(),
        Value::Null => {
            o["description"].as_str().or_else(|| o["type"].as_str()).unwrap_or("?").to_owned()
        }
        v => v.to_string(),
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Collects the main frame's images, embedded documents, links and other
/// referenced resources (all as absolute URLs) and its DOM, after waiting
/// for each image to decode.
const PAGE_JS: &str = r#"(async () => {
  const images = await Promise.all([...document.images]
    .filter((i) => i.getAttribute('src') !== null)
    .map(async (i) => {
      let error = null;
      try { await i.decode(); } catch (e) { error = String(e); }
      return { url: i.currentSrc || i.src, error, width: i.naturalWidth, height: i.naturalHeight };
    }));
  const embeds = [];
  for (const o of document.querySelectorAll('object[data]')) embeds.push({ tag: 'object', url: o.data });
  for (const e of document.querySelectorAll('embed[src], iframe[src]')) embeds.push({ tag: e.localName, url: e.src });
  const links = [...document.querySelectorAll('a[href], area[href]')].map((a) => a.href);
  const resources = [...document.querySelectorAll('link[href]')].map((l) => l.href)
    .concat([...document.querySelectorAll('script[src], source[src], video[src], audio[src], track[src]')].map((s) => s.src));
  return { images, embeds, links, resources, dom: document.documentElement ? document.documentElement.outerHTML : '' };
})()"#;

/// A frame's document: its root element, its first XML parse error, the
/// root's laid-out size.
const FRAME_JS: &str = r#"(() => {
  const root = document.documentElement;
  const err = document.getElementsByTagNameNS('*', 'parsererror')[0];
  const box = root && root.getBoundingClientRect ? root.getBoundingClientRect() : { width: 0, height: 0 };
  return {
    root: root ? root.localName : null,
    parseError: err ? (((err.querySelector('div') || err).textContent || '').replace(/\s+/g, ' ').trim().slice(0, 300) || 'parser error') : null,
    width: box.width,
    height: box.height,
  };
})()"#;
