//! Fidelity workload: known system call counts (2 CPUs).
//!
//! Two threads make known numbers of each system call in the work phase
//! and nothing else: the main thread `yields` x `yield`, `infos` x
//! `ring_info`, `invalid` x an unknown number, `stats` extra x
//! `thread_stat`, and `enters` x `cap_enter`, each submitting `nops` NOP
//! SQEs; the helper thread the same with its own counts (`h_*`, smaller, so
//! the harness tells the two apart: the main thread makes more calls).
//! Before the work phase the helper starts and spins without system calls
//! until the main thread, after its `work` mark, lets it go; the main
//! thread spins (no calls) until the helper is done, then marks `shutdown`.
//! The two run on different CPUs (the helper was placed on the idle one),
//! so every `yield` finds an empty queue and returns at once.
//!
//! Each thread reads its own `THREAD_STAT` counts around its section (four
//! `thread_stat` calls: two reads of two counts) and checks them against
//! what it meant to make. Prints `[fid-syscalls] planted` with the planned
//! counts and the reads (`m_syscalls`, `m_sqes`, `h_syscalls`, `h_sqes`),
//! then PASS. Caps: see `capos_smokes::fidelity`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use capos_abi::ring::op;
use capos_abi::syscall as nr;
use capos_rt::ring::{next_user_data, Ring, FOREVER};
use capos_rt::syscall::{cap_enter, raw, thread_stats, yield_now, ThreadStats};
use capos_rt::{thread, Ctx};
use capos_smokes::args::number;
use capos_smokes::fidelity::{mark, print_planted, CONSOLE, THREADS};
use capos_smokes::Checks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

capos_rt::main!(run);

const NAME: &str = "fid-syscalls";
/// A number no system call has (`capos_abi::syscall::COUNT` and above).
const INVALID_NR: u64 = 99;

/// What one thread makes in the work phase.
#[derive(Clone, Copy)]
struct Plan {
    yields: u64,
    infos: u64,
    invalid: u64,
    /// `thread_stat` calls besides the four of the two reads.
    stats: u64,
    enters: u64,
    nops: u64,
}

impl Plan {
    /// Counted system calls (`THREAD_STAT` counts everything but itself).
    fn syscalls(&self) -> u64 {
        self.yields + self.infos + self.invalid + self.enters
    }
}

#[derive(Default)]
struct Shared {
    /// 1 when the helper has started (its start-up calls are done).
    ready: AtomicU32,
    /// 1: the helper may run its section; 2: it may return.
    go: AtomicU32,
    /// 1 when the helper's section is done (its reads below are set).
    done: AtomicU32,
    /// 1 if every helper call returned what it should.
    ok: AtomicU32,
    syscalls: AtomicU64,
    sqes: AtomicU64,
}

/// Makes the calls of `p`; `true` if each returned what it should.
fn section(p: &Plan) -> bool {
    let mut ok = true;
    for _ in 0..p.yields {
        yield_now();
    }
    for _ in 0..p.infos {
        ok &= raw(nr::RING_INFO, 0, 0) > 0;
    }
    for _ in 0..p.invalid {
        ok &= raw(INVALID_NR, 0, 0) < 0;
    }
    for _ in 0..p.stats {
        ok &= raw(nr::THREAD_STAT, nr::thread_stat::SYSCALLS, 0) >= 0;
    }
    let ring = Ring::current();
    for _ in 0..p.enters {
        for _ in 0..p.nops {
            let sqe = capos_abi::ring::Sqe {
                opcode: op::NOP,
                user_data: next_user_data(),
                ..Default::default()
            };
            ok &= ring.push(sqe).is_ok();
        }
        ok &= cap_enter(p.nops, FOREVER) >= p.nops as i64;
        for _ in 0..p.nops {
            ok &= ring.pop().is_some_and(|c| c.result == 0);
        }
    }
    ok
}

fn helper(sh: &Shared, p: Plan) -> i64 {
    sh.ready.store(1, Ordering::Release);
    while sh.go.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    let s0 = thread_stats();
    let ok = section(&p);
    let d = thread_stats().since(s0);
    sh.syscalls.store(d.syscalls, Ordering::Relaxed);
    sh.sqes.store(d.ring_sqes, Ordering::Relaxed);
    sh.ok.store(u32::from(ok), Ordering::Relaxed);
    sh.done.store(1, Ordering::Release);
    while sh.go.load(Ordering::Acquire) != 2 {
        core::hint::spin_loop();
    }
    0
}

fn plan(args: &str, prefix: &str, d: Plan) -> Plan {
    let n = |k: &str, v: u64| number(args, &alloc::format!("{prefix}{k}")).unwrap_or(v);
    Plan {
        yields: n("yields", d.yields),
        infos: n("infos", d.infos),
        invalid: n("invalid", d.invalid),
        stats: n("stats", d.stats),
        enters: n("enters", d.enters),
        nops: n("nops", d.nops).min(capos_abi::ring::SQ_ENTRIES as u64),
    }
}

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new(NAME, CONSOLE);
    let m = plan(
        ctx.args,
        "",
        Plan { yields: 40, infos: 30, invalid: 20, stats: 10, enters: 12, nops: 3 },
    );
    let h = plan(
        ctx.args,
        "h_",
        Plan { yields: 8, infos: 6, invalid: 4, stats: 2, enters: 5, nops: 2 },
    );
    match work(m, h) {
        Ok((md, hd, ok)) => {
            c.check(ok, "every call returned what it should");
            c.check(
                md == ThreadStats { syscalls: m.syscalls(), ring_sqes: m.enters * m.nops },
                "THREAD_STAT: the main thread made the planned calls",
            );
            c.check(
                hd == ThreadStats { syscalls: h.syscalls(), ring_sqes: h.enters * h.nops },
                "THREAD_STAT: the helper made the planned calls",
            );
        }
        Err(e) => c.check(false, &e),
    }
    c.finish()
}

fn work(m: Plan, h: Plan) -> Result<(ThreadStats, ThreadStats, bool), String> {
    mark("spawn_ready")?;
    let sh = Arc::new(Shared::default());
    let s = sh.clone();
    let helper = thread::spawn(THREADS, move || helper(&s, h))
        .map_err(|e| alloc::format!("spawn helper: {e:?}"))?;
    while sh.ready.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    // Heap room for the `shutdown` mark's message, so that the work phase
    // holds no `grow_heap`.
    drop(alloc::vec![0u8; 64 * 1024]);
    mark("work")?;
    let s0 = thread_stats();
    sh.go.store(1, Ordering::Release);
    let mut ok = section(&m);
    while sh.done.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    let md = thread_stats().since(s0);
    mark("shutdown")?;
    sh.go.store(2, Ordering::Release);
    helper.join().map_err(|e| alloc::format!("join helper: {e:?}"))?;
    ok &= sh.ok.load(Ordering::Relaxed) == 1;
    let hd = ThreadStats {
        syscalls: sh.syscalls.load(Ordering::Relaxed),
        ring_sqes: sh.sqes.load(Ordering::Relaxed),
    };
    print_planted(
        NAME,
        &[
            ("yields", m.yields),
            ("infos", m.infos),
            ("invalid", m.invalid),
            ("stats", m.stats),
            ("enters", m.enters),
            ("nops", m.nops),
            ("h_yields", h.yields),
            ("h_infos", h.infos),
            ("h_invalid", h.invalid),
            ("h_stats", h.stats),
            ("h_enters", h.enters),
            ("h_nops", h.nops),
            ("m_syscalls", md.syscalls),
            ("m_sqes", md.ring_sqes),
            ("h_syscalls", hd.syscalls),
            ("h_sqes", hd.ring_sqes),
        ],
    );
    mark("final_total")?;
    Ok((md, hd, ok))
}
