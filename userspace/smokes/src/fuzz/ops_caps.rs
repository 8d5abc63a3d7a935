//! Capability traffic with fuzzed values: process spawn and wait, endpoint
//! call / receive / reply, park and unpark (and storms of short timed
//! parks), timer sleeps (and storms), Measure.

use super::malformed::malformed;
use super::msg;
use super::ops_ring::random_bytes;
use super::shared::{slot, PARK_WORDS};
use super::values;
use super::worker::{tag, Worker};
use alloc::vec::Vec;
use capos_abi::ring::{op, Sqe};
use capos_fuzzplan::rng::Rng;
use capos_schema::methods as m;
use core::sync::atomic::Ordering;

/// All rights (CALL | GRANT | RECEIVE); the kernel intersects.
const ALL: u32 = 7;

/// `user_data` for `call` meaning "random, untagged".
const JUNK: u64 = 0;

/// Queues a CALL of `method` on `cap` with `params` and a result buffer
/// (see `values::aimed`), tagged `user_data` (or random).
fn call(w: &mut Worker, r: &mut Rng, cap: u32, method: u16, params: &[u8], user_data: u64) -> bool {
    let user_data = if user_data == JUNK { junk_ud(r) } else { user_data };
    let ((p, plen), (result, result_len)) = values::aimed(r, &w.arena, &w.ring, params);
    let sqe = Sqe {
        opcode: op::CALL,
        method,
        cap,
        user_data,
        params: p,
        params_len: plen,
        result,
        result_len,
        ..Sqe::default()
    };
    w.push(&sqe)
}

/// Usually just submits; sometimes waits a little for completions.
fn submit(w: &mut Worker, r: &mut Rng) {
    if r.chance(1, 4) {
        w.enter(1, r.range(0, 2_000_000));
    } else {
        w.enter(0, 0);
    }
}

fn junk_ud(r: &mut Rng) -> u64 {
    r.next_u64() & !tag::MASK
}

fn maybe_malformed(r: &mut Rng, bytes: Vec<u8>, one_in: u64) -> Vec<u8> {
    if r.chance(1, one_in) {
        malformed(r, &bytes)
    } else {
        bytes
    }
}

pub fn proc_spawn(w: &mut Worker, r: &mut Rng) {
    let long = alloc::vec![b'x'; 2000];
    let binary: Vec<u8> = match r.below(20) {
        0 => b"no-such-binary".to_vec(),
        1 => b"manifest".to_vec(), // a module that is not an ELF
        2 => Vec::new(),
        3 => long.clone(),
        4 => alloc::vec![0xff, 0xfe, b'x'], // not UTF-8
        5 => b"fuzz-child".to_vec(),        // with junk args it exits at once
        _ => b"exit-child".to_vec(),
    };
    let code = pick!(r, 0i64, 1, 7, -1, i64::MAX, i64::MIN, r.next_u64() as i64);
    let args: Vec<u8> = match r.below(12) {
        0..=3 => alloc::format!("code={code}").into_bytes(),
        4 | 5 => b"fault".to_vec(),
        6 | 7 => b"linger".to_vec(),
        8 => b"threads".to_vec(),
        9 => values::text(r, 40).into_bytes(),
        10 => alloc::vec![b'a'; 1100], // over the kernel's 1024
        _ => Vec::new(),
    };
    let grants: Vec<(u32, u32)> = match r.below(20) {
        0..=12 => alloc::vec![(slot::TIMER, ALL), (slot::THREAD_SPAWNER, ALL)],
        13 => Vec::new(),
        14 | 15 => (0..r.range(1, 8))
            .map(|_| (values::slot(r, w.caps, &w.handles()), r.next_u32()))
            .collect(),
        16 => alloc::vec![(slot::TIMER, 1); 300], // more than a table holds
        17 => alloc::vec![(slot::TIMER, ALL), (slot::ENDPOINT, ALL), (slot::PARK, ALL)],
        _ => alloc::vec![(slot::TIMER, r.next_u32()), (slot::THREAD_SPAWNER, r.next_u32())],
    };
    let bytes = maybe_malformed(r, msg::spawn(&binary, &args, &grants), 8);
    call(w, r, slot::SPAWNER, m::SPAWNER_SPAWN, &bytes, tag::make(tag::PROC_SPAWN, 0));
    submit(w, r);
}

pub fn proc_wait(w: &mut Worker, r: &mut Rng) {
    let cap = match w.procs.last() {
        Some(&s) if r.chance(3, 4) => s,
        _ => values::slot(r, w.caps, &w.handles()),
    };
    let method = if r.chance(9, 10) { m::PROCESS_WAIT } else { values::method(r) };
    let params = if r.chance(1, 5) { random_bytes(r, 64) } else { Vec::new() };
    if cap == slot::THREAD_SPAWNER && method == m::THREAD_SPAWN {
        return; // only threads::spawn_op talks to the ThreadSpawner on purpose
    }
    call(w, r, cap, method, &params, JUNK);
    submit(w, r);
}

pub fn ep_call(w: &mut Worker, r: &mut Rng) {
    let len =
        pick!(r, 0, r.range(1, 64), r.range(64, 4096), 16 * 1024, 16 * 1024 + 1, r.below(20_000));
    let data = {
        let mut v = alloc::vec![0u8; len as usize];
        r.fill(&mut v);
        v
    };
    let bytes = maybe_malformed(r, msg::ep_call(&data), 10);
    call(w, r, slot::ENDPOINT, m::ENDPOINT_CALL, &bytes, JUNK);
    submit(w, r);
}

/// Offset of the receive buffer in the arena's result half.
const RECEIVE_AT: usize = 4096;

pub fn ep_serve(w: &mut Worker, r: &mut Rng) {
    if r.chance(1, 2) {
        let off = w.arena.results() + RECEIVE_AT;
        let (result, result_len) = if r.chance(4, 5) {
            let room = w.arena.len().saturating_sub(off) as u32;
            (w.arena.addr(off), r.pick(&[room, room, 64, 8, 0]).min(room))
        } else {
            values::result_buf(r, &w.arena)
        };
        let params = if r.chance(1, 5) { random_bytes(r, 32) } else { Vec::new() };
        let (p, plen) = if params.is_empty() {
            (0, 0)
        } else {
            values::place_params(r, &w.arena, &w.ring, &params)
        };
        let sqe = Sqe {
            opcode: op::CALL,
            method: m::ENDPOINT_RECEIVE,
            cap: slot::ENDPOINT,
            user_data: tag::make(tag::RECEIVE, off as u64),
            params: p,
            params_len: plen,
            result,
            result_len,
            ..Sqe::default()
        };
        w.push(&sqe);
    } else {
        let id = match w.call_ids.pop() {
            Some(id) if r.chance(4, 5) => id,
            _ => pick!(r, 0, 1, r.range(1, 4096), u64::MAX, r.next_u64()),
        };
        let max = r.pick(&[0, 16, 256, 16 * 1024 + 1]);
        let data = random_bytes(r, max);
        let bytes = maybe_malformed(r, msg::ep_reply(id, &data), 10);
        call(w, r, slot::ENDPOINT, m::ENDPOINT_REPLY, &bytes, JUNK);
    }
    submit(w, r);
}

pub fn park(w: &mut Worker, r: &mut Rng) {
    let (addr, shared) = values::word_addr(r, &w.arena, &w.ring);
    let expected = match shared {
        Some(i) if r.chance(3, 4) => PARK_WORDS[i].load(Ordering::Relaxed),
        _ => pick!(r, 0, 1, u32::MAX, r.next_u32()),
    };
    let mut timeout = values::timeout_ns(r);
    if shared.is_none() && timeout > 100_000_000 {
        // Nobody unparks odd addresses: keep those waits finite.
        timeout = r.range(0, 100_000_000);
    }
    let bytes = maybe_malformed(r, msg::park(addr, expected, timeout), 10);
    call(w, r, slot::PARK, m::PARK_PARK, &bytes, JUNK);
    submit(w, r);
}

pub fn unpark(w: &mut Worker, r: &mut Rng) {
    let (addr, shared) = values::word_addr(r, &w.arena, &w.ring);
    if let Some(i) = shared {
        if r.chance(1, 2) {
            PARK_WORDS[i].fetch_add(1, Ordering::AcqRel);
        }
    }
    let count = pick!(r, 0, 1, 2, 16, u32::MAX, r.next_u32());
    let bytes = maybe_malformed(r, msg::unpark(addr, count), 10);
    call(w, r, slot::PARK, m::PARK_UNPARK, &bytes, JUNK);
    submit(w, r);
}

/// Many parks with tiny timeouts at once, maybe raced by unparks: the
/// timed-wait paths under pressure.
pub fn park_storm(w: &mut Worker, r: &mut Rng) {
    let n = r.range(8, 31);
    for _ in 0..n {
        let i = r.below(PARK_WORDS.len() as u64) as usize;
        let bytes = msg::park(
            &PARK_WORDS[i] as *const _ as u64,
            PARK_WORDS[i].load(Ordering::Relaxed),
            pick!(r, 0, 1, r.range(1, 50_000)),
        );
        let params = w.arena.put(w.arena.alloc_params(bytes.len()), &bytes);
        let sqe = Sqe {
            opcode: op::CALL,
            method: m::PARK_PARK,
            cap: slot::PARK,
            user_data: junk_ud(r),
            params,
            params_len: bytes.len() as u32,
            ..Sqe::default()
        };
        if !w.push(&sqe) {
            break;
        }
        if r.chance(1, 4) {
            w.enter(0, 0); // submit in pieces, so timeouts overlap submission
        }
    }
    w.enter(0, 0);
    if r.chance(1, 2) {
        for word in PARK_WORDS.iter().take(r.range(1, 16) as usize) {
            let bytes = msg::unpark(word as *const _ as u64, u32::MAX);
            let params = w.arena.put(w.arena.alloc_params(bytes.len()), &bytes);
            w.push(&Sqe {
                opcode: op::CALL,
                method: m::PARK_UNPARK,
                cap: slot::PARK,
                user_data: junk_ud(r),
                params,
                params_len: bytes.len() as u32,
                ..Sqe::default()
            });
        }
    }
    w.enter(r.range(1, n), 2_000_000);
}

pub fn sleep(w: &mut Worker, r: &mut Rng) {
    let ns = values::timeout_ns(r);
    let bytes = maybe_malformed(r, msg::timer_sleep(ns), 10);
    call(w, r, slot::TIMER, m::TIMER_SLEEP, &bytes, JUNK);
    submit(w, r);
}

/// Many short sleeps at once: deadline-ordered completion under pressure.
pub fn timer_storm(w: &mut Worker, r: &mut Rng) {
    let n = r.range(8, 31);
    for _ in 0..n {
        let bytes = msg::timer_sleep(r.range(0, 100_000));
        let params = w.arena.put(w.arena.alloc_params(bytes.len()), &bytes);
        let sqe = Sqe {
            opcode: op::CALL,
            method: m::TIMER_SLEEP,
            cap: slot::TIMER,
            user_data: junk_ud(r),
            params,
            params_len: bytes.len() as u32,
            ..Sqe::default()
        };
        if !w.push(&sqe) {
            break;
        }
    }
    w.enter(n / 2, 2_000_000);
}

pub fn measure(w: &mut Worker, r: &mut Rng) {
    let (method, bytes) = match r.below(4) {
        0 | 1 => (m::MEASURE_MEMORY, Vec::new()),
        2 => (m::MEASURE_MARK, msg::text(&values::text(r, 40))),
        _ => (values::method(r), random_bytes(r, 64)),
    };
    call(w, r, slot::MEASURE, method, &bytes, JUNK);
    submit(w, r);
}
