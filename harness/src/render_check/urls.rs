//! `file:` URLs and the paths they name, for `render-check`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The `file://` URL of an absolute path (bytes other than unreserved ones
/// and `/` percent-encoded).
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            let _ = write!(url, "%{b:02X}");
        }
    }
    url
}

/// The local file a `file:` URL names (query and fragment dropped), or
/// `None` for other URLs.
pub fn local_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    if !rest.starts_with('/') {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let mut bytes = Vec::with_capacity(rest.len());
    let mut it = rest.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next(), it.next()];
            let digit = |c: Option<u8>| c.and_then(|c| char::from(c).to_digit(16));
            match (digit(hex[0]), digit(hex[1])) {
                (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                _ => {
                    bytes.push(b'%');
                    bytes.extend(hex.into_iter().flatten());
                }
            }
        } else {
            bytes.push(b);
        }
    }
    Some(PathBuf::from(OsString::from_vec(bytes)))
}

pub(super) fn strip_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// Whether two URLs name the same document (fragments ignored).
pub(super) fn same_doc(a: &str, b: &str) -> bool {
    strip_fragment(a) == strip_fragment(b)
}

pub(super) fn is_svg_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let b = path.as_bytes();
    b.len() >= 4 && b[b.len() - 4..].eq_ignore_ascii_case(b".svg")
}

/// A linked file's path relative to the page's directory when inside it.
pub(super) fn shown_path(url: &str, page: &Path) -> String {
    let Some(p) = local_path(url) else { return url.to_owned() };
    match page.parent().and_then(|dir| p.strip_prefix(dir).ok()) {
        Some(rel) => rel.display().to_string(),
        None => p.display().to_string(),
    }
}
