//! Threads the fuzzer starts itself: the workers of a child and the
//! short-lived threads workers start, plus spawns the kernel must refuse
//! and joins of real and bogus handles.
//!
//! A started thread gets a `Job` (leaked, never freed) naming its plan.
//! Its stack is either one the kernel allocates (`stackTop = 0`) or a leaked
//! buffer of ours; FS base is whatever the op drew, since fuzz threads never
//! use the runtime's TLS.
//!
//! A spawn message must start at most one thread: a second thread on the
//! same message would run on the first one's stack and corrupt it. So
//! thread-spawn parameters only ever live in the arena's spawn area, which
//! holds a refused message except while a real spawn is submitted; before
//! that submission no other ThreadSpawner SQE may be left in the ring, and
//! if the kernel did not consume the spawn at once it is turned into a NOP
//! ([`neutralize`]). Ring-index and scribble ops neutralize too, so a stale
//! SQE they replay cannot start anything either.

use super::arena::Arena;
use super::msg;
use super::ring::RawRing;
use super::shared::{self, slot};
use super::values::{self, KERNEL_HALF, KERNEL_IMAGE};
use super::worker::{tag, Worker};
use alloc::boxed::Box;
use capos_abi::layout::USER_TOP;
use capos_abi::ring::{op, Sqe};
use capos_fuzzplan::plan::ThreadPlan;
use capos_fuzzplan::rng::Rng;
use capos_rt::syscall;
use capos_schema::methods as m;
use core::sync::atomic::{AtomicBool, Ordering};

/// Arena bytes of a worker and of a short-lived thread.
pub const WORKER_ARENA: usize = 64 * 1024;
pub const SUB_ARENA: usize = 16 * 1024;
/// Stack bytes of a short-lived thread when we provide the stack.
const SUB_STACK: usize = 64 * 1024;
/// Short-lived threads one worker may start (each costs memory for good).
const MAX_SUB_THREADS: u32 = 12;

/// What a started thread runs. Leaked on purpose: the thread may outlive
/// every record of it, and a replayed spawn may hand it out again.
pub struct Job {
    claimed: AtomicBool,
    plan: ThreadPlan,
    caps: u32,
    /// A child's worker: counted in `WORKERS_LEFT`, may spawn.
    worker: bool,
    arena_bytes: usize,
    exit_code: i64,
}

pub fn leak_job(
    plan: ThreadPlan,
    caps: u32,
    worker: bool,
    arena_bytes: usize,
    exit_code: i64,
) -> &'static Job {
    Box::leak(Box::new(Job {
        claimed: AtomicBool::new(false),
        plan,
        caps,
        worker,
        arena_bytes,
        exit_code,
    }))
}

/// First instruction of every thread we start (RDI = job, RSI = ring).
extern "C" fn thread_entry(job: u64, ring: u64) -> ! {
    // SAFETY: every spawn naming this entry passes the address of a `Job`
    // from `leak_job`, which is never freed.
    let job = unsafe { &*(job as *const Job) };
    if job.claimed.swap(true, Ordering::AcqRel) {
        syscall::exit_thread(0); // a replayed spawn: the job is taken
    }
    // SAFETY: RSI at thread entry is the ring page the kernel mapped for
    // this thread, which stays mapped while the thread runs.
    let ring = unsafe { RawRing::new(ring) };
    let entry = shared::register_ring(ring.base());
    let mut w = Worker::new(ring, job.arena_bytes, job.caps, job.worker);
    w.run(job.plan.clone());
    if job.worker {
        shared::worker_done();
    }
    shared::retire_ring(entry);
    syscall::exit_thread(job.exit_code)
}

/// Entry of spawns that should have been refused: if the kernel starts
/// one anyway, it leaves at once without touching its argument.
extern "C" fn stray_entry(_arg: u64, _ring: u64) -> ! {
    syscall::exit_thread(0)
}

pub fn thread_entry_addr() -> u64 {
    thread_entry as extern "C" fn(u64, u64) -> ! as usize as u64
}

pub fn stray_entry_addr() -> u64 {
    stray_entry as extern "C" fn(u64, u64) -> ! as usize as u64
}

/// Parameters the kernel must refuse (bad entry, stack or TLS).
fn refused(r: &mut Rng, arena: &Arena) -> (u64, u64, u64, u64) {
    let stray = stray_entry_addr();
    match r.below(6) {
        0 => (r.pick(&[0, KERNEL_HALF, KERNEL_IMAGE, USER_TOP, u64::MAX, 1 << 63]), 0, 0, 0),
        1 => (stray, 0, arena.base().next_multiple_of(16) + 8, 0), // misaligned stack
        2 => (stray, 0, r.pick(&[KERNEL_HALF, KERNEL_IMAGE, USER_TOP, u64::MAX - 15]), 0),
        3 => (stray, 0, 0, r.pick(&[KERNEL_HALF, USER_TOP, u64::MAX, 1 << 63])),
        4 => (KERNEL_HALF | r.next_u64(), r.next_u64(), r.next_u64() & !15, r.next_u64()),
        _ => (USER_TOP + r.below(1 << 40), 0, 0, 0),
    }
}

/// Turns every ThreadSpawner SQE in `ring` (queued or stale) into a NOP.
pub fn neutralize(ring: &RawRing) {
    for i in 0..capos_abi::ring::SQ_ENTRIES {
        let s = ring.read_sqe(i);
        if s.cap == slot::THREAD_SPAWNER && s.method == m::THREAD_SPAWN {
            ring.write_sqe(i, &Sqe { opcode: op::NOP, ..Sqe::default() });
        }
    }
}

/// Leaves the spawn area holding a refused message (see the module doc).
pub fn defuse(arena: &Arena) {
    arena.put_spawn(&msg::thread_spawn(0, 0, 0, 0));
}

/// An SQE for ThreadSpawner.spawn whose parameters are refused; used for
/// every random SQE that happens to target the ThreadSpawner.
pub fn refused_spawn_sqe(r: &mut Rng, arena: &Arena, mut sqe: Sqe) -> Sqe {
    let (e, a, s, t) = refused(r, arena);
    let (addr, len) = arena.put_spawn(&msg::thread_spawn(e, a, s, t));
    sqe.params = addr;
    sqe.params_len = len;
    sqe
}

fn spawn_sqe(params: (u64, u32), user_data: u64, w: &Worker, r: &mut Rng) -> Sqe {
    let (result, result_len) = if r.chance(3, 4) {
        values::good_result(&w.arena)
    } else {
        values::result_buf(r, &w.arena)
    };
    Sqe {
        opcode: op::CALL,
        method: m::THREAD_SPAWN,
        cap: slot::THREAD_SPAWNER,
        user_data,
        params: params.0,
        params_len: params.1,
        result,
        result_len,
        ..Sqe::default()
    }
}

/// A thread spawn: a real short-lived thread (when this thread may
/// spawn and has not used up its allowance) or refused parameters.
pub fn spawn_op(w: &mut Worker, r: &mut Rng) {
    let real = w.may_spawn && w.spawned < MAX_SUB_THREADS && r.chance(3, 5);
    if !real {
        let (e, a, s, t) = refused(r, &w.arena);
        let params = w.arena.put_spawn(&msg::thread_spawn(e, a, s, t));
        let sqe = spawn_sqe(params, tag::make(tag::THREAD_SPAWN, 0), w, r);
        w.push(&sqe);
        w.enter(0, 0);
        return;
    }
    w.spawned += 1;
    let ops = r.range(1, 12) as u32;
    let code = pick!(r, 0i64, 1, -1, i64::MIN, i64::MAX, r.next_u64() as i64);
    let job = leak_job(ThreadPlan::sub(r.next_u64(), ops), w.caps, false, SUB_ARENA, code);
    let stack_top = if r.chance(1, 2) {
        0 // the kernel allocates one
    } else {
        let stack: &'static mut [u128] =
            Box::leak(alloc::vec![0u128; SUB_STACK / 16].into_boxed_slice());
        stack.as_ptr() as u64 + SUB_STACK as u64
    };
    let tls = pick!(r, 0, w.arena.base(), r.below(USER_TOP));
    // Nothing queued or stale may read the message below (module doc).
    w.enter(0, 0);
    neutralize(&w.ring);
    let params = w.arena.put_spawn(&msg::thread_spawn(
        thread_entry_addr(),
        job as *const Job as u64,
        stack_top,
        tls,
    ));
    let sqe = spawn_sqe(params, tag::make(tag::THREAD_SPAWN, 0), w, r);
    if w.ring.push(&sqe) {
        w.enter(0, 0);
    }
    if w.ring.sq_pending() != 0 {
        neutralize(&w.ring); // not consumed now: it must never be
    }
    defuse(&w.arena);
}

/// Joins one of our thread handles, or some other slot.
pub fn join_op(w: &mut Worker, r: &mut Rng) {
    let slot = match w.threads.pop() {
        Some(s) if r.chance(3, 4) => s,
        _ => values::slot(r, w.caps, &w.handles()),
    };
    let method = if r.chance(9, 10) { m::THREAD_JOIN } else { values::method(r) };
    let (result, result_len) = values::result_buf(r, &w.arena);
    let sqe = Sqe {
        opcode: op::CALL,
        method,
        cap: slot,
        user_data: r.next_u64() & !tag::MASK,
        result,
        result_len,
        ..Sqe::default()
    };
    let sqe = if slot == slot::THREAD_SPAWNER && method == m::THREAD_SPAWN {
        refused_spawn_sqe(r, &w.arena, sqe)
    } else {
        sqe
    };
    w.push(&sqe);
    if r.chance(1, 3) {
        w.enter(1, r.range(0, 2_000_000));
    } else {
        w.enter(0, 0);
    }
}

/// Starts a child's worker from its main thread and waits (bounded) for
/// the spawn to complete; returns the handle slot or the error result.
pub fn start_worker(ring: &RawRing, arena: &Arena, job: &'static Job) -> Result<u32, i64> {
    let params =
        arena.put_spawn(&msg::thread_spawn(thread_entry_addr(), job as *const Job as u64, 0, 0));
    let ud = tag::make(tag::THREAD_SPAWN, 1);
    let sqe = Sqe {
        opcode: op::CALL,
        method: m::THREAD_SPAWN,
        cap: slot::THREAD_SPAWNER,
        user_data: ud,
        params: params.0,
        params_len: params.1,
        ..Sqe::default()
    };
    if !ring.push(&sqe) {
        return Err(capos_abi::error::Error::RingOverflow.as_result());
    }
    for _ in 0..100 {
        syscall::cap_enter(1, 10_000_000);
        while let Some(c) = ring.pop() {
            if c.user_data == ud {
                defuse(arena);
                return if c.result >= 0 { Ok(c.result as u32) } else { Err(c.result) };
            }
        }
    }
    Err(capos_abi::error::Error::Timeout.as_result())
}
