//! Read-only view of a ustar archive (the `-initrd` module).
//!
//! Only regular files are listed; the archive ends at the first all-zero
//! header block or at the end of the buffer. Every length is checked against
//! the buffer, so a truncated or corrupt archive yields an error, not a fault.

/// A file found in the archive: its name and byte range within the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub offset: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveError {
    /// A header's size field is not octal.
    BadSize { header_offset: usize },
    /// A file's data runs past the end of the archive.
    Truncated { header_offset: usize },
    /// A header's checksum does not match.
    BadChecksum { header_offset: usize },
    /// A header's name is not UTF-8.
    BadName { header_offset: usize },
}

const BLOCK: usize = 512;

fn octal(field: &[u8]) -> Option<usize> {
    let mut v: usize = 0;
    let mut seen = false;
    for &b in field {
        match b {
            b'0'..=b'7' => {
                v = v.checked_mul(8)?.checked_add((b - b'0') as usize)?;
                seen = true;
            }
            b' ' | 0 if seen => break,
            b' ' | 0 => continue,
            _ => return None,
        }
    }
    Some(v)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Iterator over the regular files of an archive.
pub struct Entries<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

/// Lists the regular files of `data`.
pub fn entries(data: &[u8]) -> Entries<'_> {
    Entries { data, pos: 0, done: false }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let h = self.pos;
            let Some(header) = self.data.get(h..h + BLOCK) else {
                self.done = true;
                return None;
            };
            if header.iter().all(|&b| b == 0) {
                self.done = true;
                return None;
            }
            let stored = octal(&header[148..156]);
            let sum: usize = header
                .iter()
                .enumerate()
                .map(|(i, &b)| if (148..156).contains(&i) { b' ' as usize } else { b as usize })
                .sum();
            if stored != Some(sum) {
                self.done = true;
                return Some(Err(ArchiveError::BadChecksum { header_offset: h }));
            }
            let Some(size) = octal(&header[124..136]) else {
                self.done = true;
                return Some(Err(ArchiveError::BadSize { header_offset: h }));
            };
            let data_off = h + BLOCK;
            if data_off.checked_add(size).filter(|&e| e <= self.data.len()).is_none() {
                self.done = true;
                return Some(Err(ArchiveError::Truncated { header_offset: h }));
            }
            self.pos = data_off + size.div_ceil(BLOCK) * BLOCK;
            let typeflag = header[156];
            if typeflag != b'0' && typeflag != 0 {
                continue; // directories, links, pax headers: not files we serve
            }
            // ustar can split long names into prefix + name; the harness never
            // writes such names, so a prefix is refused rather than misread.
            let is_ustar = &header[257..262] == b"ustar";
            let Ok(name) = core::str::from_utf8(cstr(&header[0..100])) else {
                self.done = true;
                return Some(Err(ArchiveError::BadName { header_offset: h }));
            };
            if is_ustar && !cstr(&header[345..500]).is_empty() {
                self.done = true;
                return Some(Err(ArchiveError::BadName { header_offset: h }));
            }
            let name = name.strip_prefix("./").unwrap_or(name);
            return Some(Ok(Entry { name, offset: data_off, size }));
        }
        None
    }
}

/// Finds the file called `name` (no leading slash).
pub fn find<'a>(data: &'a [u8], name: &str) -> Result<Option<Entry<'a>>, ArchiveError> {
    let name = name.trim_start_matches('/');
    for e in entries(data) {
        let e = e?;
        if e.name == name {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ustar archive by hand (the loader must not trust any one tool).
    pub fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            let mut h = [0u8; BLOCK];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..108].copy_from_slice(b"0000644\0");
            h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| b as u32).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }

    #[test]
    fn lists_and_finds_files() {
        let a = build(&[("boot/limine.conf", b"timeout: 0\n"), ("boot/kernel", &[7u8; 1000])]);
        let names: Vec<_> = entries(&a).map(|e| e.unwrap().name).collect();
        assert_eq!(names, ["boot/limine.conf", "boot/kernel"]);
        let k = find(&a, "/boot/kernel").unwrap().unwrap();
        assert_eq!(k.size, 1000);
        assert_eq!(&a[k.offset..k.offset + k.size], &[7u8; 1000][..]);
        assert_eq!(find(&a, "boot/missing").unwrap(), None);
    }

    #[test]
    fn truncated_archive_is_an_error() {
        let a = build(&[("boot/kernel", &[1u8; 3000])]);
        let cut = &a[..1500];
        assert!(matches!(find(cut, "boot/kernel"), Err(ArchiveError::Truncated { .. })));
    }

    #[test]
    fn corrupt_header_is_an_error() {
        let mut a = build(&[("boot/kernel", &[1u8; 10])]);
        a[5] ^= 0x55;
        assert!(matches!(find(&a, "boot/kernel"), Err(ArchiveError::BadChecksum { .. })));
        let mut b = build(&[("boot/kernel", &[1u8; 10])]);
        b[124] = b'9';
        // checksum recomputed so only the size is bad
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b[..512].iter().map(|&x| x as u32).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(matches!(find(&b, "boot/kernel"), Err(ArchiveError::BadSize { .. })));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_u64;
        for len in [0usize, 1, 511, 512, 513, 1024, 4096] {
            for _ in 0..50 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                for e in entries(&v) {
                    let _ = e;
                }
            }
        }
    }
}
