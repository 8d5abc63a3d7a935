//! Threads: create, TLS, join with exit codes, many threads, own rings.
//! Manifest: slot 0 Console, slot 1 Timer, slot 2 ThreadSpawner, slot 3
//! Measure (phases spawn_ready, work, shutdown, final_total are marked so a
//! measure kernel reports per-phase counters).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_rt::clients::{Console, Measure, ThreadSpawner, Timer};
use capos_rt::thread::{self, JoinHandle};
use capos_rt::{tls, Ctx, Error};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU64, Ordering};

capos_rt::main!(run);

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-thread", Console(0));
    let sp = ThreadSpawner(2);
    let m = Measure(3);
    c.check(m.mark("spawn_ready").is_ok(), "phase spawn_ready marked");
    let h = thread::spawn(sp, || 42);
    let raw = h.as_ref().ok().map(JoinHandle::raw);
    let joined = h.map(JoinHandle::join);
    c.note(&alloc::format!("spawn/join: {joined:?}"));
    c.check(joined == Ok(Ok(42)), "a thread returns 42 to its joiner");
    if let Some(raw) = raw {
        c.check(matches!(raw.join(), Err(Error::BadSlot)), "a joined handle is consumed (BadSlot)");
    }

    // TLS: every thread sees its own block, distinct from main's.
    let main_index = tls::current().index;
    let handles: Vec<JoinHandle> = (0..8u64)
        .filter_map(|i| {
            thread::spawn(sp, move || {
                let b = tls::current();
                b.user[0].set(1000 + i);
                for _ in 0..50 {
                    capos_rt::syscall::yield_now();
                }
                // Each thread also uses its own ring.
                let ok_ring = Timer(1).now().is_ok();
                if tls::current().user[0].get() == 1000 + i && ok_ring {
                    b.index as i64
                } else {
                    -1
                }
            })
            .ok()
        })
        .collect();
    c.check(handles.len() == 8, "8 threads created");
    let idx: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap_or(-2)).collect();
    c.check(
        idx.iter().all(|&x| x > 0 && x as u64 != main_index),
        "each thread kept its own TLS value and index",
    );
    let mut sorted = idx.clone();
    sorted.sort_unstable();
    sorted.dedup();
    c.check(sorted.len() == 8, "TLS blocks are distinct");

    c.check(m.mark("work").is_ok(), "phase work marked");
    // Many threads, in waves, all sharing one counter.
    let counter = Arc::new(AtomicU64::new(0));
    let mut created = 0;
    for _wave in 0..6 {
        let hs: Vec<JoinHandle> = (0..10)
            .filter_map(|_| {
                let k = counter.clone();
                thread::spawn(sp, move || {
                    for _ in 0..1000 {
                        k.fetch_add(1, Ordering::Relaxed);
                    }
                    0
                })
                .ok()
            })
            .collect();
        created += hs.len();
        for h in hs {
            let _ = h.join();
        }
    }
    c.check(m.mark("shutdown").is_ok(), "phase shutdown marked");
    c.check(created == 60, "60 short-lived threads created in waves");
    c.check(counter.load(Ordering::Relaxed) == 60_000, "all their increments landed");
    c.check(m.mark("final_total").is_ok(), "phase final_total marked");
    c.check(m.mark("work").is_err(), "phases cannot be marked out of order");
    c.finish()
}
