//! Host tools the tests need. Locally a test whose tool is missing says so
//! and skips; in CI (`CI=true`, set by `.ci/run`) that is a failure, so a
//! missing install step cannot hide behind a green run.

/// Reports that `tool` is missing: panics when `CI=true`, else prints a
/// skip note (the caller then returns).
pub fn tool_missing(tool: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("`{tool}` is not installed, and CI=true requires every test's tools");
    }
    eprintln!("skipping: `{tool}` is not installed");
}
