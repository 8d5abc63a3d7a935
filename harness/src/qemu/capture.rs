//! Console and stderr capture threads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

pub(super) enum Event {
    Line(Instant, Vec<u8>),
}

pub(super) fn spawn_line_reader<R: Read + Send + 'static>(
    input: R,
    tx: mpsc::Sender<Event>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut r = BufReader::new(input);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(Event::Line(Instant::now(), std::mem::take(&mut buf))).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

pub(super) fn spawn_stderr_copier<R: Read + Send + 'static>(
    input: R,
    log: PathBuf,
) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut file = File::create(&log).ok();
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(input).lines().map_while(Result::ok) {
            eprintln!("qemu: {line}");
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
        tail
    })
}
