//! Fidelity workload: known migrations (2 CPUs).
//!
//! User space cannot pin a thread to a CPU, so the workload makes the
//! kernel's placement rule (kernel/kcore/src/placement.rs) move a thread for
//! it. Two waker threads, the main thread and `q`, keep both CPUs busy (they
//! never block in the work phase). A third thread, the mover, parks between
//! rounds. Round `r` is run by one waker, alternately the main thread and
//! `q`: it stores its identity and `r`, unparks the mover and yields until
//! the mover acknowledges. With both CPUs busy the woken mover is queued on
//! the waker's own CPU (rule 3: shortest queue, ties to the caller), so it
//! runs where its waker runs: every round the mover changes CPU, if it was
//! really woken. (A round whose unpark comes before the mover is back in its
//! park is no wake-up: the mover sees the new round at once and stays.)
//!
//! The mover counts what it saw: a real wake-up (`park` returned `true`)
//! by a waker other than the one that last woke it is a migration. Two
//! warm-up rounds before the work phase tell it where it is.
//!
//! Prints `[fid-migrate] planted rounds=<n> wakes=<real wake-ups in work>
//! migrations=<mover migrations in work>`, then PASS. Caps: see
//! `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use capos_rt::syscall::yield_now;
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, PARK, THREADS};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-migrate";
const FOREVER: u64 = u64::MAX;
/// Waker identities (0 means none yet).
const MAIN: u32 = 1;
const Q: u32 = 2;

#[derive(Default)]
struct Shared {
    /// The round the mover should run; `u32::MAX` ends it.
    go: AtomicU32,
    /// The last round the mover ran.
    ack: AtomicU32,
    /// Who unparked the mover for the current round.
    waker: AtomicU32,
    /// Rounds `q` is asked to run, and the last it finished.
    q_turn: AtomicU32,
    q_done: AtomicU32,
    /// The mover counts only while this is 1 (the work phase).
    counting: AtomicU32,
    /// The mover's last waker (0: none yet).
    last: AtomicU32,
    wakes: AtomicU64,
    migrations: AtomicU64,
}

fn mover(sh: &Shared) -> i64 {
    let mut seen = 0u32;
    loop {
        let woken = loop {
            let g = sh.go.load(Ordering::Acquire);
            if g != seen {
                break false;
            }
            match PARK.park(&sh.go, seen, FOREVER) {
                Ok(true) if sh.go.load(Ordering::Acquire) != seen => break true,
                Ok(_) => continue,
                Err(_) => return -1,
            }
        };
        seen = sh.go.load(Ordering::Acquire);
        if seen == u32::MAX {
            return 0;
        }
        if woken {
            let w = sh.waker.load(Ordering::Acquire);
            let last = sh.last.swap(w, Ordering::AcqRel);
            if sh.counting.load(Ordering::Acquire) == 1 {
                sh.wakes.fetch_add(1, Ordering::Relaxed);
                if last != 0 && last != w {
                    sh.migrations.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        sh.ack.store(seen, Ordering::Release);
    }
}

/// One round, run by waker `who`.
fn round(sh: &Shared, who: u32, r: u32) -> Result<(), alloc::string::String> {
    sh.waker.store(who, Ordering::Release);
    sh.go.store(r, Ordering::Release);
    PARK.unpark(&sh.go, 1).map_err(|e| alloc::format!("unpark: {e:?}"))?;
    while sh.ack.load(Ordering::Acquire) != r {
        yield_now();
    }
    Ok(())
}

fn waker_q(sh: &Shared) -> i64 {
    let mut done = 0;
    loop {
        let t = sh.q_turn.load(Ordering::Acquire);
        if t == u32::MAX {
            return 0;
        }
        if t != done {
            if round(sh, Q, t).is_err() {
                return -1;
            }
            done = t;
            sh.q_done.store(t, Ordering::Release);
        }
        core::hint::spin_loop();
    }
}

/// Round `r`: odd rounds by the main thread, even ones by `q`.
fn drive(sh: &Shared, r: u32) -> Result<(), alloc::string::String> {
    if r % 2 == 1 {
        round(sh, MAIN, r)
    } else {
        sh.q_turn.store(r, Ordering::Release);
        while sh.q_done.load(Ordering::Acquire) != r {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let rounds = number(ctx.args, "rounds").unwrap_or(20) as u32;
    match work(rounds) {
        Ok(()) => c.check(true, "every round acknowledged"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(rounds: u32) -> Result<(), alloc::string::String> {
    mark("spawn_ready")?;
    let sh = Arc::new(Shared::default());
    let s = sh.clone();
    let q = thread::spawn(THREADS, move || waker_q(&s))
        .map_err(|e| alloc::format!("spawn q: {e:?}"))?;
    let s = sh.clone();
    let m = thread::spawn(THREADS, move || mover(&s))
        .map_err(|e| alloc::format!("spawn mover: {e:?}"))?;
    // Warm-up rounds until the mover has really been woken once.
    let mut r = 0;
    while r < 2 || sh.last.load(Ordering::Acquire) == 0 {
        r += 1;
        drive(&sh, r)?;
        if r > 100 {
            return Err("the mover was never woken in 100 warm-up rounds".into());
        }
    }
    mark("work")?;
    sh.counting.store(1, Ordering::Release);
    for _ in 0..rounds {
        r += 1;
        drive(&sh, r)?;
    }
    sh.counting.store(0, Ordering::Release);
    mark("shutdown")?;
    sh.q_turn.store(u32::MAX, Ordering::Release);
    sh.go.store(u32::MAX, Ordering::Release);
    PARK.unpark(&sh.go, 1).map_err(|e| alloc::format!("unpark: {e:?}"))?;
    q.join().map_err(|e| alloc::format!("join q: {e:?}"))?;
    m.join().map_err(|e| alloc::format!("join mover: {e:?}"))?;
    print_planted(
        NAME,
        &[
            ("rounds", u64::from(rounds)),
            ("wakes", sh.wakes.load(Ordering::Acquire)),
            ("migrations", sh.migrations.load(Ordering::Acquire)),
        ],
    );
    mark("final_total")?;
    Ok(())
}
