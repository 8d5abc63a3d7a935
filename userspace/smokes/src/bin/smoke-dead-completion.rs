//! Completions for the dead: a kernel must not deliver an answer into a
//! process that has exited (its ring and memory are gone).
//! (a) attack-dead-caller calls our Endpoint and exits; we take the call,
//!     wait until the caller has exited, then reply with 16 KiB of 0x41:
//!     the reply must fail (the caller is gone).
//! (b) attack-dead-waiter submits ProcessHandle.wait on a grandchild that
//!     lingers 200 ms and exits at once; we wait for it, then give the
//!     grandchild 400 ms to exit and report to the dead waiter.
//! Each runs several times; each time the kernel must get all memory back,
//! and the bystander's memory must stay intact throughout.
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 Measure,
//! 4 Endpoint "attack" (receive), 5 Endpoint "bystander" (call).
#![no_std]
#![no_main]

extern crate alloc;

use capos_abi::rights::Rights;
use capos_abi::ring::Cqe;
use capos_rt::clients::{Console, Endpoint, Measure, Spawner, Timer, ENDPOINT_RECEIVE};
use capos_rt::{ring, syscall, Ctx};
use capos_smokes::attacks::DYING_CALLER_MESSAGE;
use capos_smokes::memory::Memory;
use capos_smokes::{bystander, launch, Checks};

capos_rt::main!(run);

const TIMER: Timer = Timer(1);
const ATTACK_EP: Endpoint = Endpoint(4);
const ROUNDS: u32 = 5;
const CALL_GRANT: u32 = Rights::CALL.0;
const PASS_ON: u32 = Rights::CALL.0 | Rights::GRANT.0;

/// The completion `user_data` within `ns`, dropping any other completion
/// (this smoke has no other call in flight while it looks).
fn completion_within(user_data: u64, ns: u64) -> Option<Cqe> {
    let end = TIMER.now().unwrap_or(0) + ns;
    loop {
        if let Some(c) = ring::drain().into_iter().find(|c| c.user_data == user_data) {
            return Some(c);
        }
        if TIMER.now().unwrap_or(u64::MAX) >= end {
            return None;
        }
        syscall::cap_enter(1, 10_000_000);
    }
}

/// (a): reply to a caller that has exited.
fn reply_to_dead_caller(c: &mut Checks, mem: &Memory, sp: Spawner, round: u32) {
    let before = mem.baseline();
    // Receive first, so the call is handed straight to us (in flight)
    // rather than queued; the caller exits right after calling.
    let mut buf = alloc::vec![0u8; Endpoint::RECEIVE_RESULT_BYTES];
    let ud = ring::next_user_data();
    ring::submit(ring::call_sqe(ATTACK_EP.0, ENDPOINT_RECEIVE, &[], &mut buf, ud));
    syscall::cap_enter(0, 0);
    let caller = launch::run(sp, "attack-dead-caller", "", &[(ATTACK_EP.0, CALL_GRANT)]);
    c.check(
        caller == Ok((0, false)),
        &alloc::format!("(a) round {round}: the caller called and exited ({caller:?})"),
    );
    let Some(done) = completion_within(ud, 2_000_000_000) else {
        c.check(false, &alloc::format!("(a) round {round}: the call arrived"));
        return;
    };
    let call = if done.result < 0 {
        None
    } else {
        Endpoint::parse_receive(&buf[..done.result_bytes as usize]).ok()
    };
    let Some((id, data)) = call else {
        c.check(
            false,
            &alloc::format!(
                "(a) round {round}: the call arrived (receive completed with {})",
                done.result
            ),
        );
        return;
    };
    c.check(
        data == DYING_CALLER_MESSAGE,
        &alloc::format!("(a) round {round}: the call arrived with the caller's message"),
    );
    let reply = ATTACK_EP.reply(id, &[0x41; 16 * 1024]);
    let shown = reply.map_or_else(|e| e.name(), |()| "success");
    c.check(
        reply.is_err(),
        &alloc::format!(
            "(a) round {round}: a 16 KiB reply to the exited caller is refused (got {shown})"
        ),
    );
    mem.check_returned(c, &alloc::format!("(a) round {round}"), before, 1);
}

/// (b): a wait result for a waiter that has exited.
fn wait_result_to_dead_waiter(c: &mut Checks, mem: &Memory, sp: Spawner, round: u32) {
    let before = mem.baseline();
    let waiter =
        launch::run(sp, "attack-dead-waiter", "", &[(sp.0, CALL_GRANT), (TIMER.0, PASS_ON)]);
    c.check(waiter == Ok((0, false)), &alloc::format!("(b) round {round}: the waiter started its grandchild, submitted the wait and exited ({waiter:?})"));
    // The grandchild lingers 200 ms, then exits and is reported to nobody.
    let _ = TIMER.sleep(400_000_000);
    mem.check_returned(c, &alloc::format!("(b) round {round}"), before, 1);
}

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-dead-completion", Console(0));
    let mut mem = Memory::new(Measure(3), TIMER);
    let sp = Spawner(2);
    bystander::wait_ready(&mut c, Endpoint(5));
    mem.calibrate(&mut c, sp);
    // Small leaks hide under one round's allowance but add up.
    let all_before = mem.baseline();
    for round in 0..ROUNDS {
        reply_to_dead_caller(&mut c, &mem, sp, round);
    }
    mem.check_returned(
        &mut c,
        &alloc::format!("(a) all {ROUNDS} rounds together"),
        all_before,
        ROUNDS as u64,
    );
    let all_before = mem.baseline();
    for round in 0..ROUNDS {
        wait_result_to_dead_waiter(&mut c, &mem, sp, round);
    }
    mem.check_returned(
        &mut c,
        &alloc::format!("(b) all {ROUNDS} rounds together"),
        all_before,
        ROUNDS as u64,
    );
    c.check(TIMER.now().is_ok(), "the kernel still answers after all of that");
    bystander::stop(&mut c, Endpoint(5));
    c.finish()
}
