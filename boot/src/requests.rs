//! Finding the kernel's Limine requests in its loaded image.
//!
//! Requests are 8-byte aligned structures whose first two words are
//! [`COMMON_MAGIC`]. When the image holds the start and end markers, only the
//! bytes between them are searched (the kernel keeps all requests there);
//! otherwise the whole image is. The base-revision tag is found the same way.

use crate::proto::{
    Request, BASE_REVISION_MAGIC, COMMON_MAGIC, REQUESTS_END_MARKER, REQUESTS_START_MARKER,
};

pub const MAX_REQUESTS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub request: Request,
    /// Offset of the request within the image.
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Offset of the base-revision tag, if the kernel has one.
    pub base_revision: Option<usize>,
    pub found: [Option<Found>; MAX_REQUESTS],
    pub count: usize,
    /// Requests with the common magic that this loader does not answer.
    pub unknown: usize,
}

impl Scan {
    pub fn iter(&self) -> impl Iterator<Item = Found> + '_ {
        self.found[..self.count].iter().flatten().copied()
    }

    pub fn get(&self, r: Request) -> Option<usize> {
        self.iter().find(|f| f.request == r).map(|f| f.offset)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// The same request id appears twice; the protocol says not to boot.
    Duplicate(Request),
    TooMany,
}

fn word(image: &[u8], off: usize) -> Option<u64> {
    image.get(off..off + 8).map(|b| {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    })
}

fn find_words(image: &[u8], words: &[u64], from: usize) -> Option<usize> {
    (from..image.len())
        .step_by(8)
        .find(|&o| words.iter().enumerate().all(|(i, &w)| word(image, o + 8 * i) == Some(w)))
}

/// Scans `image` (the kernel's loaded span, starting page-aligned).
pub fn scan(image: &[u8]) -> Result<Scan, ScanError> {
    let (from, to) = match find_words(image, &REQUESTS_START_MARKER, 0) {
        Some(s) => {
            let e = find_words(image, &REQUESTS_END_MARKER, s).unwrap_or(image.len());
            (s + 32, e)
        }
        None => (0, image.len()),
    };
    let region = &image[..to];
    let mut s = Scan { base_revision: None, found: [None; MAX_REQUESTS], count: 0, unknown: 0 };
    // The base-revision tag may sit outside the markers in older layouts.
    s.base_revision = find_words(image, &BASE_REVISION_MAGIC, 0);
    let mut off = from;
    while off + 32 <= region.len() {
        if word(region, off) == Some(COMMON_MAGIC[0])
            && word(region, off + 8) == Some(COMMON_MAGIC[1])
        {
            let id = [word(region, off + 16).unwrap_or(0), word(region, off + 24).unwrap_or(0)];
            match Request::from_id(id) {
                Some(r) => {
                    if s.get(r).is_some() {
                        return Err(ScanError::Duplicate(r));
                    }
                    if s.count == MAX_REQUESTS {
                        return Err(ScanError::TooMany);
                    }
                    s.found[s.count] = Some(Found { request: r, offset: off });
                    s.count += 1;
                }
                None => s.unknown += 1,
            }
            off += 32;
        } else {
            off += 8;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(img: &mut Vec<u8>, words: &[u64]) -> usize {
        let at = img.len();
        for w in words {
            img.extend_from_slice(&w.to_le_bytes());
        }
        at
    }

    fn req(r: Request) -> [u64; 7] {
        [COMMON_MAGIC[0], COMMON_MAGIC[1], r.id()[0], r.id()[1], 0, 0, 0]
    }

    #[test]
    fn finds_requests_between_markers() {
        let mut img = vec![0u8; 64];
        // A decoy before the start marker is ignored.
        put(&mut img, &req(Request::Rsdp));
        put(&mut img, &REQUESTS_START_MARKER);
        let br = put(&mut img, &[BASE_REVISION_MAGIC[0], BASE_REVISION_MAGIC[1], 2]);
        let hhdm = put(&mut img, &req(Request::Hhdm));
        let mp = put(&mut img, &req(Request::Mp));
        put(&mut img, &[COMMON_MAGIC[0], COMMON_MAGIC[1], 1, 2, 0, 0]);
        put(&mut img, &REQUESTS_END_MARKER);
        put(&mut img, &req(Request::Module));
        let s = scan(&img).unwrap();
        assert_eq!(s.base_revision, Some(br));
        assert_eq!(s.get(Request::Hhdm), Some(hhdm));
        assert_eq!(s.get(Request::Mp), Some(mp));
        assert_eq!(s.get(Request::Rsdp), None);
        assert_eq!(s.get(Request::Module), None);
        assert_eq!(s.unknown, 1);
    }

    #[test]
    fn whole_image_without_markers_and_duplicates_refused() {
        let mut img = Vec::new();
        put(&mut img, &req(Request::Rsdp));
        let s = scan(&img).unwrap();
        assert_eq!(s.get(Request::Rsdp), Some(0));
        assert_eq!(s.base_revision, None);
        put(&mut img, &req(Request::Rsdp));
        assert_eq!(scan(&img), Err(ScanError::Duplicate(Request::Rsdp)));
    }
}
