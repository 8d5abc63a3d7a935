//! Attack child of smoke-timed-storm: two threads hand a turn back and
//! forth, each waiting for its turn with a 10 s timeout that never expires
//! (every wait ends early, woken by the other thread). Thread A waits with
//! ParkSpace.park; thread B submits the park itself and waits in
//! `cap_enter(1, 10 s)`, so both the park timeout and the cap_enter timeout
//! are cut short every time. A kernel that keeps a timer entry for every
//! wait that ended early grows by tens of bytes per wait; this process
//! checks (while still alive) that the kernel heap did not grow.
//!
//! Args: `waits=N` (parks made by both threads together). Caps: slot 0
//! Console, 1 ThreadSpawner, 2 ParkSpace, 3 Timer, 4 Measure.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_rt::clients::{Console, Measure, ParkSpace, ThreadSpawner, Timer, PARK_PARK};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, thread, Ctx, Error};
use capos_smokes::memory::Memory;
use capos_smokes::{args, Checks};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const PARK: ParkSpace = ParkSpace(2);
const TIMER: Timer = Timer(3);
const TEN_S: u64 = 10_000_000_000;

#[derive(Default)]
struct Storm {
    /// Whose turn it is: even for A, odd for B.
    turn: AtomicU32,
    /// Set by the side that takes the last turn.
    stop: AtomicBool,
    /// A's parks by outcome.
    woken: AtomicU64,
    changed: AtomicU64,
    /// B's parks that completed successfully.
    entered: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
}

impl Storm {
    /// A: waits while the turn is still `v`, with ParkSpace.park.
    fn park_wait(&self, v: u32) {
        match PARK.park(&self.turn, v, TEN_S) {
            Ok(true) => &self.woken,
            Ok(false) => &self.changed,
            Err(Error::Timeout) => &self.timeouts,
            Err(_) => &self.errors,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// B: submits the park and waits for it in cap_enter with a timeout.
    fn enter_wait(&self, v: u32) {
        let params = ParkSpace::park_params(&self.turn, v, TEN_S);
        let mut result = [0u8; 64];
        let ud = ring::next_user_data();
        ring::submit(ring::call_sqe(PARK.0, PARK_PARK, &params, &mut result, ud));
        let ring = Ring::current();
        loop {
            syscall::cap_enter(1, TEN_S);
            if let Some(c) = ring.pop() {
                let counter = match Error::from_result(c.result) {
                    _ if c.user_data != ud => &self.errors,
                    None => &self.entered,
                    Some(Error::Timeout) => &self.timeouts,
                    Some(_) => &self.errors,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if c.user_data == ud {
                    return;
                }
            }
        }
    }

    /// Parks made so far by both threads.
    fn waits(&self) -> u64 {
        [&self.woken, &self.changed, &self.entered, &self.timeouts, &self.errors]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Takes turns as `side` (0: A, 1: B) until `target` parks have been
    /// made; returns the turns it took.
    fn play(&self, side: u32, target: u64) -> i64 {
        let mut taken = 0;
        loop {
            loop {
                if self.stop.load(Ordering::Acquire) {
                    return taken;
                }
                let v = self.turn.load(Ordering::Acquire);
                if v % 2 == side {
                    break;
                }
                if side == 0 {
                    self.park_wait(v)
                } else {
                    self.enter_wait(v)
                }
            }
            // Set before the turn moves on, so the other side sees it when
            // it wakes for the turn.
            let last = self.waits() >= target;
            if last {
                self.stop.store(true, Ordering::Release);
            }
            taken += 1;
            self.turn.fetch_add(1, Ordering::Release);
            if PARK.unpark(&self.turn, 1).is_err() {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
            if last {
                return taken;
            }
        }
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("attack-timed-storm", Console(0));
    let mem = Memory::new(Measure(4), TIMER);
    let waits = args::number(ctx.args, "waits").unwrap_or(1000);
    let storm = Arc::new(Storm::default());
    let before = mem.baseline();
    let t0 = TIMER.now().unwrap_or(0);
    let sides: alloc::vec::Vec<_> = (0..2u32)
        .filter_map(|side| {
            let s = storm.clone();
            thread::spawn(ThreadSpawner(1), move || s.play(side, waits)).ok()
        })
        .collect();
    c.check(sides.len() == 2, "both storm threads started");
    let turns: alloc::vec::Vec<i64> = sides.into_iter().map(|h| h.join().unwrap_or(-1)).collect();
    let ms = (TIMER.now().unwrap_or(0) - t0) / 1_000_000;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    c.note(&alloc::format!(
        "{} parks with a 10 s timeout in {ms} ms over {} turns: A's ParkSpace.park woken {} times, {} times the turn had moved on; B's parks waited for in cap_enter(1, 10 s): {}",
        storm.waits(),
        storm.turn.load(Ordering::Relaxed),
        load(&storm.woken),
        load(&storm.changed),
        load(&storm.entered)
    ));
    c.check(
        turns.iter().all(|&t| t >= 0) && storm.waits() >= waits,
        &alloc::format!("both storm threads made their {waits} parks together"),
    );
    c.check(
        turns.iter().sum::<i64>() == storm.turn.load(Ordering::Relaxed) as i64,
        "every turn was taken exactly once",
    );
    c.check(
        load(&storm.timeouts) == 0 && load(&storm.errors) == 0,
        &alloc::format!(
            "no wait timed out or failed ({} timeouts, {} errors)",
            load(&storm.timeouts),
            load(&storm.errors)
        ),
    );
    mem.check_returned(
        &mut c,
        &alloc::format!("after {} waits ended early (this process still alive)", storm.waits()),
        before,
        0,
    );
    c.finish()
}
