//! A newc ("070701") cpio writer for Linux initramfs images: directories,
//! regular files and character devices, with a `TRAILER!!!` at the end.

use std::io::{self, Write};

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    Dir,
    File { data: &'a [u8], executable: bool },
    CharDevice { major: u32, minor: u32 },
}

pub struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter { out, written: 0, next_ino: 1 }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad4(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..pad])
    }

    /// Appends `path` (relative, no leading `/`).
    pub fn add(&mut self, path: &str, entry: &Entry<'_>) -> io::Result<()> {
        let (mode, data, nlink, (rmaj, rmin)): (u32, &[u8], u32, (u32, u32)) = match entry {
            Entry::Dir => (S_IFDIR | 0o755, &[], 2, (0, 0)),
            Entry::File { data, executable } => {
                (S_IFREG | if *executable { 0o755 } else { 0o644 }, data, 1, (0, 0))
            }
            Entry::CharDevice { major, minor } => (S_IFCHR | 0o600, &[], 1, (*major, *minor)),
        };
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{path}: file over 4 GiB"))
        })?;
        if path.is_empty() || path.starts_with('/') || path.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad cpio path `{path}`"),
            ));
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.header(path, ino, mode, nlink, size, rmaj, rmin)?;
        self.put(data)?;
        self.pad4()
    }

    #[allow(clippy::too_many_arguments)]
    fn header(
        &mut self,
        path: &str,
        ino: u32,
        mode: u32,
        nlink: u32,
        size: u32,
        rmaj: u32,
        rmin: u32,
    ) -> io::Result<()> {
        let namesize = path.len() as u32 + 1;
        // magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, namesize, 0];
        let mut h = String::with_capacity(110);
        h.push_str("070701");
        for f in fields {
            h.push_str(&format!("{f:08x}"));
        }
        self.put(h.as_bytes())?;
        self.put(path.as_bytes())?;
        self.put(&[0])?;
        self.pad4()
    }

    /// Writes the trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header("TRAILER!!!", 0, 0, 1, 0, 0, 0)?;
        Ok(self.out)
    }
}

/// An initramfs whose `/init` is `init` (plus /dev/console, /proc, /sys).
pub fn initramfs(init: &[u8]) -> io::Result<Vec<u8>> {
    let mut w = CpioWriter::new(Vec::new());
    w.add("dev", &Entry::Dir)?;
    w.add("dev/console", &Entry::CharDevice { major: 5, minor: 1 })?;
    w.add("proc", &Entry::Dir)?;
    w.add("sys", &Entry::Dir)?;
    w.add("init", &Entry::File { data: init, executable: true })?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, mode, rdev, data).
    type Parsed = (String, u32, (u32, u32), Vec<u8>);

    /// A minimal newc reader for the test.
    fn read(mut b: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut off = 0usize;
        loop {
            assert_eq!(&b[..6], b"070701", "magic at {off}");
            let field = |i: usize| {
                u32::from_str_radix(std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap(), 16)
                    .unwrap()
            };
            let (mode, size, rmaj, rmin, namesize) =
                (field(1), field(6) as usize, field(9), field(10), field(11) as usize);
            let name = std::str::from_utf8(&b[110..110 + namesize - 1]).unwrap().to_string();
            assert_eq!(b[110 + namesize - 1], 0);
            let data_at = (110 + namesize).div_ceil(4) * 4;
            let data = b[data_at..data_at + size].to_vec();
            let next = (data_at + size).div_ceil(4) * 4;
            assert_eq!((off + next) % 4, 0);
            if name == "TRAILER!!!" {
                assert_eq!(next, b.len());
                return out;
            }
            out.push((name, mode, (rmaj, rmin), data));
            b = &b[next..];
            off += next;
        }
    }

    #[test]
    fn initramfs_round_trip() {
        let img = initramfs(b"\x7fELF-ish").unwrap();
        let entries = read(&img);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "proc", "sys", "init"]);
        assert_eq!(entries[1].1, 0o020_600);
        assert_eq!(entries[1].2, (5, 1));
        assert_eq!(entries[4].1, 0o100_755);
        assert_eq!(entries[4].3, b"\x7fELF-ish");
        assert_eq!(&img[..14], b"07070100000001");
    }

    #[test]
    fn odd_sizes_pad_and_bad_paths_fail() {
        let mut w = CpioWriter::new(Vec::new());
        for n in 0..5 {
            w.add(&"x".repeat(n + 1), &Entry::File { data: &vec![7u8; n], executable: false })
                .unwrap();
        }
        assert!(w.add("/abs", &Entry::Dir).is_err());
        assert!(w.add("", &Entry::Dir).is_err());
        let entries = read(&w.finish().unwrap());
        assert_eq!(entries.len(), 5);
        assert!(entries.iter().enumerate().all(|(n, e)| e.3.len() == n && e.1 == 0o100_644));
    }
}
