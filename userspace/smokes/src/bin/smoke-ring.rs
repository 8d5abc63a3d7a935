//! Ring: many in-flight calls, ring full (SQ and CQ), completions in order.
//! Manifest: slot 0 Console, slot 1 Timer.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_abi::ring::{op, Sqe, CQ_ENTRIES, SQ_ENTRIES};
use capos_rt::clients::{Console, Timer};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, Ctx};
use capos_smokes::Checks;

capos_rt::main!(run);

fn nop(ud: u64) -> Sqe {
    Sqe { opcode: op::NOP, user_data: ud, ..Sqe::default() }
}

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-ring", Console(0));
    let r = Ring::current();

    // Many in-flight timer calls; each completes with its own result buffer.
    // (No console output until they are all consumed: printing uses the ring.)
    let mut bufs: Vec<[u8; 64]> = alloc::vec![[0; 64]; SQ_ENTRIES as usize];
    let mut queued = 0;
    for (i, b) in bufs.iter_mut().enumerate() {
        if r.push(ring::call_sqe(1, capos_rt::clients::TIMER_NOW, &[], b, 1000 + i as u64)).is_ok()
        {
            queued += 1;
        }
    }
    let refused = r.push(nop(1)).is_err();
    let n = syscall::cap_enter(SQ_ENTRIES as u64, ring::FOREVER);
    let done = ring::drain();
    c.check(queued == SQ_ENTRIES, "32 calls in flight at once");
    c.check(refused, "a full submission queue refuses one more SQE");
    c.check(n == SQ_ENTRIES as i64, "cap_enter returns once all 32 completions are ready");
    let uds: Vec<u64> = done.iter().map(|q| q.user_data).collect();
    c.check(
        uds == (1000..1000 + SQ_ENTRIES as u64).collect::<Vec<_>>(),
        "completions arrive in submission order",
    );
    c.check(
        done.iter().all(|q| q.result == 0 && q.result_bytes > 0),
        "every call wrote its result message",
    );

    // CQ back-pressure: fill the completion queue, then the kernel stops consuming.
    for i in 0..CQ_ENTRIES as u64 {
        let _ = r.push(nop(2000 + i));
        if r.sq_pending() == SQ_ENTRIES {
            syscall::cap_enter(0, 0);
        }
    }
    syscall::cap_enter(0, 0);
    for i in 0..4 {
        let _ = r.push(nop(3000 + i));
    }
    syscall::cap_enter(0, 0);
    let left_queued = r.sq_pending();
    let first = ring::drain();
    syscall::cap_enter(4, ring::FOREVER);
    let rest = ring::drain();
    c.check(left_queued == 4, "with a full CQ the kernel leaves new SQEs queued");
    c.check(first.len() == CQ_ENTRIES as usize, "the CQ held exactly CQ_ENTRIES completions");
    c.check(r.sq_pending() == 0 && rest.len() == 4, "after draining, the queued SQEs complete");
    c.check(r.cq_overflow() == 0, "no completion was ever dropped");

    // Timed completions finish in deadline order, each routed to this thread.
    let t = Timer(1);
    let params: Vec<Vec<u8>> =
        (0..8u64).map(|i| Timer::sleep_params((8 - i) * 5_000_000)).collect();
    for (i, p) in params.iter().enumerate() {
        ring::submit(ring::call_sqe(
            1,
            capos_rt::clients::TIMER_SLEEP,
            p,
            &mut [],
            4000 + i as u64,
        ));
    }
    let mut order = Vec::new();
    while order.len() < 8 {
        syscall::cap_enter(1, ring::FOREVER);
        order
            .extend(ring::drain().iter().map(|q| q.user_data).filter(|u| (4000..4008).contains(u)));
    }
    c.check(order == (4000..4008).rev().collect::<Vec<_>>(), "sleeps complete shortest first");
    c.check(t.now().is_ok(), "synchronous calls still work after all that");
    c.check(matches!(syscall::cap_enter(1, 1_000_000), x if x == capos_abi::error::Error::Timeout.as_result()), "cap_enter with nothing pending times out");
    c.finish()
}
