//! Park: wake, timeout, value mismatch, and a contended park-based lock.
//! Manifest: slot 0 Console, slot 1 Timer, slot 2 ThreadSpawner, slot 3 ParkSpace.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_rt::clients::{Console, ParkSpace, ThreadSpawner, Timer};
use capos_rt::{thread, Ctx, Error};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const PARK: ParkSpace = ParkSpace(3);

/// A lock built on park/unpark: 0 free, 1 held, 2 held with waiters.
struct ParkLock(AtomicU32);

impl ParkLock {
    fn lock(&self) {
        if self.0.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        while self.0.swap(2, Ordering::Acquire) != 0 {
            let _ = PARK.park(&self.0, 2, u64::MAX);
        }
    }
    fn unlock(&self) {
        if self.0.swap(0, Ordering::Release) == 2 {
            let _ = PARK.unpark(&self.0, 1);
        }
    }
}

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-park", Console(0));
    let sp = ThreadSpawner(2);
    let timer = Timer(1);

    let word = Arc::new(AtomicU32::new(0));
    c.check(
        PARK.park(&word, 5, u64::MAX) == Ok(false),
        "park returns at once when the word differs",
    );
    let t0 = timer.now().unwrap_or(0);
    c.check(PARK.park(&word, 0, 20_000_000) == Err(Error::Timeout), "park times out");
    c.check(
        timer.now().unwrap_or(0).saturating_sub(t0) >= 20_000_000,
        "the timeout waited at least 20 ms",
    );

    let w = word.clone();
    let sleeper = thread::spawn(sp, move || match PARK.park(&w, 0, 5_000_000_000) {
        Ok(true) => 1,
        _ => 0,
    });
    let mut woke = 0;
    for _ in 0..500 {
        woke = PARK.unpark(&word, 1).unwrap_or(0);
        if woke == 1 {
            break;
        }
        let _ = timer.sleep(1_000_000);
    }
    word.store(1, Ordering::Release);
    c.check(woke == 1, "unpark wakes the parked thread");
    c.check(sleeper.map(|h| h.join()) == Ok(Ok(1)), "the parked thread saw woken=true");

    let lock = Arc::new(ParkLock(AtomicU32::new(0)));
    let total = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..4)
        .filter_map(|_| {
            let (l, t) = (lock.clone(), total.clone());
            thread::spawn(sp, move || {
                for _ in 0..300 {
                    l.lock();
                    // Non-atomic read-modify-write under the lock.
                    let v = t.load(Ordering::Relaxed);
                    capos_rt::syscall::yield_now();
                    t.store(v + 1, Ordering::Relaxed);
                    l.unlock();
                }
                0
            })
            .ok()
        })
        .collect();
    c.check(hs.len() == 4, "4 contending threads");
    for h in hs {
        let _ = h.join();
    }
    c.check(
        total.load(Ordering::Relaxed) == 1200,
        "the park-based lock kept 1200 increments exact under contention",
    );
    c.finish()
}
