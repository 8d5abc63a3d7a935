//! Ops on the ring itself: batches of random SQEs, corrupted indices,
//! scribbling on thread rings (ours, a sibling's, a dead thread's) and
//! bounded waits for completions.

use super::malformed::malformed;
use super::msg;
use super::ring::{RawRing, HEADER_WORDS, SPARE_OFFSET};
use super::shared::{self, slot, PARK_WORDS};
use super::threads;
use super::values;
use super::worker::{tag, Worker};
use alloc::vec::Vec;
use capos_abi::ring::{op, Sqe, CQ_ENTRIES, CQ_OFFSET, RING_BYTES, SQ_ENTRIES, SQ_OFFSET};
use capos_fuzzplan::rng::Rng;
use capos_schema::methods as m;
use core::sync::atomic::Ordering;

/// A plausible (slot, method, params) for some method of some cap.
fn target(w: &Worker, r: &mut Rng) -> (u32, u16, Vec<u8>) {
    let word = |r: &mut Rng| values::word_addr(r, &w.arena, &w.ring);
    match r.below(12) {
        0 => (slot::TIMER, m::TIMER_NOW, Vec::new()),
        1 => (slot::TIMER, m::TIMER_SLEEP, msg::timer_sleep(values::timeout_ns(r))),
        2 => (
            slot::SPAWNER,
            m::SPAWNER_SPAWN,
            msg::spawn(b"exit-child", b"code=3", &[(slot::TIMER, 7)]),
        ),
        3 => {
            let (addr, i) = word(r);
            let expected = i.map_or(r.next_u32(), |i| PARK_WORDS[i].load(Ordering::Relaxed));
            (
                slot::PARK,
                m::PARK_PARK,
                msg::park(addr, expected, values::timeout_ns(r) % 100_000_000),
            )
        }
        4 => (
            slot::PARK,
            m::PARK_UNPARK,
            msg::unpark(word(r).0, pick!(r, 1, u32::MAX, r.next_u32())),
        ),
        5 => (slot::MEASURE, m::MEASURE_MARK, msg::text(&values::text(r, 40))),
        6 => (slot::MEASURE, m::MEASURE_MEMORY, Vec::new()),
        7 => (slot::ENDPOINT, m::ENDPOINT_CALL, msg::ep_call(&random_bytes(r, 64))),
        8 => (slot::ENDPOINT, m::ENDPOINT_REPLY, msg::ep_reply(r.below(64), b"r")),
        9 => (values::slot(r, w.caps, &w.handles()), 0, Vec::new()),
        _ => (
            values::slot(r, w.caps, &w.handles()),
            values::method(r),
            msg::text(&values::text(r, 16)),
        ),
    }
}

pub fn random_bytes(r: &mut Rng, max: u64) -> Vec<u8> {
    let mut v = alloc::vec![0u8; r.below(max + 1) as usize];
    r.fill(&mut v);
    v
}

/// One random SQE: opcode, slot, method, params, result buffer, flags.
pub fn random_sqe(w: &Worker, r: &mut Rng) -> Sqe {
    let opcode = match r.below(10) {
        0 => op::NOP,
        1 => r.next_u32() as u8,
        _ => op::CALL,
    };
    let (mut cap, mut method, mut params) = target(w, r);
    if r.chance(1, 5) {
        cap = values::slot(r, w.caps, &w.handles());
    }
    if r.chance(1, 6) {
        method = values::method(r);
    }
    if r.chance(1, 3) {
        params = malformed(r, &params);
    }
    let (result, result_len) = values::result_buf(r, &w.arena);
    let mut sqe = Sqe {
        opcode,
        flags: if r.chance(1, 10) { r.next_u32() as u8 } else { 0 },
        method,
        cap,
        user_data: r.next_u64() & !tag::MASK,
        result,
        result_len,
        arg: if r.chance(1, 5) { r.next_u64() } else { 0 },
        _reserved: if r.chance(1, 20) { [r.next_u64(), r.next_u64()] } else { [0; 2] },
        ..Sqe::default()
    };
    if cap == slot::THREAD_SPAWNER && method == m::THREAD_SPAWN {
        // Only refused parameters may reach the ThreadSpawner at random.
        return threads::refused_spawn_sqe(r, &w.arena, sqe);
    }
    (sqe.params, sqe.params_len) = if params.is_empty() && r.chance(1, 2) {
        (0, 0)
    } else {
        values::place_params(r, &w.arena, &w.ring, &params)
    };
    sqe
}

pub fn ring_call(w: &mut Worker, r: &mut Rng) {
    let n = match r.below(10) {
        0..=3 => 1,
        4..=7 => r.range(2, 8),
        _ => r.range(9, u64::from(SQ_ENTRIES)),
    };
    for _ in 0..n {
        let sqe = random_sqe(w, r);
        if !w.push(&sqe) {
            break;
        }
    }
    match r.below(4) {
        0 => {} // leave them queued for a later op to submit
        1 => {
            w.enter(r.range(1, n), r.range(0, 2_000_000));
        }
        _ => {
            w.enter(0, 0);
        }
    }
}

fn push_nops(w: &mut Worker, r: &mut Rng) {
    for _ in 0..r.range(1, 8) {
        w.ring.push(&Sqe {
            opcode: op::NOP,
            user_data: r.next_u64() & !tag::MASK,
            ..Sqe::default()
        });
    }
}

pub fn ring_index(w: &mut Worker, r: &mut Rng) {
    let ring = w.ring;
    let (head, tail) = (ring.sq_head(), ring.sq_tail());
    match r.below(6) {
        0 => {
            ring.set_sq_tail(
                head.wrapping_add(r.range(u64::from(SQ_ENTRIES) + 1, u64::from(u32::MAX)) as u32),
            );
            w.enter(0, 0);
            ring.set_sq_tail(tail);
        }
        1 => {
            ring.set_sq_tail(head.wrapping_sub(r.range(1, 64) as u32));
            w.enter(0, 0);
            ring.set_sq_tail(tail);
        }
        2 => {
            // CQ head moved backwards: the kernel must count, not overwrite.
            push_nops(w, r);
            ring.set_cq_head(
                ring.cq_head().wrapping_sub(r.range(1, u64::from(CQ_ENTRIES) + 8) as u32),
            );
            w.enter(0, 0);
            ring.set_cq_head(ring.cq_tail());
        }
        3 => {
            ring.set_cq_head(ring.cq_tail().wrapping_add(r.range(1, 1 << 20) as u32));
            push_nops(w, r);
            w.enter(0, 0);
        }
        4 => {
            // Stale SQEs replayed.
            threads::neutralize(&ring);
            ring.set_sq_tail(head.wrapping_add(r.range(1, u64::from(SQ_ENTRIES)) as u32));
            w.enter(0, 0);
        }
        _ => {
            // Kernel-owned words (sq_head, cq_tail, sizes, overflow count).
            threads::neutralize(&ring);
            for _ in 0..r.range(1, 3) {
                let i = pick!(r, 0usize, 3, 4, 5, 6, r.below(HEADER_WORDS as u64) as usize);
                ring.set_header_word(
                    i,
                    pick!(r, 0, 1, u32::MAX, r.next_u32(), head.wrapping_add(40)),
                );
            }
            push_nops(w, r);
            w.enter(0, 0);
        }
    }
    ring.repair();
    w.take_completions();
}

/// Random words written into some thread's ring page: usually a live
/// sibling's, sometimes our own. (An exited thread's ring is a lethal op:
/// its page must be gone, and touching it must fault.)
pub fn scribble(w: &mut Worker, r: &mut Rng) {
    let target = match shared::pick_ring(r, false) {
        Some((addr, false)) if r.chance(4, 5) => addr,
        _ => w.ring.base(),
    };
    // SAFETY: `target` is a ring page the kernel gave this process for a
    // thread that had not exited when we looked; if it exits meanwhile and
    // the kernel unmaps the page, the write faults and the kernel kills
    // this process (the fuzz parent accepts that). No Rust object lives in
    // a ring page.
    let ring = unsafe { RawRing::new(target) };
    scribble_on(&ring, r);
    w.ring.repair();
    w.take_completions();
}

/// A few random words anywhere in `ring`'s page (header, SQ, CQ, spare).
pub fn scribble_on(ring: &RawRing, r: &mut Rng) {
    for _ in 0..r.range(1, 8) {
        match r.below(10) {
            0..=2 => ring.set_header_word(
                r.below(HEADER_WORDS as u64) as usize,
                pick!(r, 0, 1, 31, 32, 33, u32::MAX, r.next_u32()),
            ),
            3..=6 => ring.store_word(
                SQ_OFFSET + r.below(u64::from(SQ_ENTRIES) * 64) as usize,
                scribble_value(r),
            ),
            7 | 8 => ring.store_word(
                CQ_OFFSET + r.below(u64::from(CQ_ENTRIES) * 32) as usize,
                scribble_value(r),
            ),
            _ => ring.store_word(
                SPARE_OFFSET + r.below((RING_BYTES - SPARE_OFFSET) as u64) as usize,
                r.next_u64(),
            ),
        }
    }
    // Never leave a ThreadSpawner SQE behind in anyone's ring.
    threads::neutralize(ring);
}

fn scribble_value(r: &mut Rng) -> u64 {
    match r.below(4) {
        // Keep the ThreadSpawner out of the cap field (see threads::neutralize).
        0 => r.next_u64() & !(0xffff_ffff << 32) | 0x7777 << 32,
        1 => values::bad_write_addr(r), // may become a result pointer
        2 => r.below(64),
        _ => r.next_u64(),
    }
}

pub fn drain(w: &mut Worker, r: &mut Rng) {
    let min = pick!(r, 0, 1, r.range(1, u64::from(CQ_ENTRIES)), u64::from(CQ_ENTRIES), u64::MAX);
    let timeout = r.pick(&[0, 1_000, 100_000, 1_000_000, 5_000_000]);
    w.enter(min, timeout);
}
