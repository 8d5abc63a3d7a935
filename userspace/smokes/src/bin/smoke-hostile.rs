//! Hostile: bad input of every kind; each must come back as an error
//! completion (or error return) and the kernel must stay up. Another
//! process (smoke-manifest) runs beside this one and must still pass.
//! Manifest: slot 0 Console, 1 Timer, 2 ProcessSpawner, 3 ThreadSpawner,
//! 4 ParkSpace, 5 Measure.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::ring::{op, Sqe};
use capos_rt::clients::{Console, Measure, ParkSpace, Spawner, ThreadSpawner, Timer};
use capos_rt::ring::{self, Ring};
use capos_rt::{syscall, Ctx};
use capos_smokes::Checks;
use core::sync::atomic::AtomicU32;

capos_rt::main!(run);

/// Submits `sqe` and returns its completion's error.
fn raw(mut sqe: Sqe) -> Option<Error> {
    let ud = ring::next_user_data();
    sqe.user_data = ud;
    ring::submit(sqe);
    let c = ring::wait_for(ud);
    Error::from_result(c.result)
}

fn expect(c: &mut Checks, what: &str, got: Option<Error>, want: Error) {
    let shown = got.map_or("success", Error::name);
    c.check(got == Some(want), &alloc::format!("{what}: got {shown}, want {}", want.name()));
}

fn res<T>(r: Result<T, Error>) -> Option<Error> {
    r.err()
}

fn run(_ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-hostile", Console(0));
    let call = |cap: u32, method: u16, params: u64, len: u32, result: u64, rlen: u32| Sqe {
        opcode: op::CALL,
        cap,
        method,
        params,
        params_len: len,
        result,
        result_len: rlen,
        ..Sqe::default()
    };
    expect(
        &mut c,
        "params at an unmapped address",
        raw(call(0, 0, 0xdead_0000, 64, 0, 0)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "params in the kernel half",
        raw(call(0, 0, 0xffff_8000_0000_0000, 64, 0, 0)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "params crossing the top of user space",
        raw(call(0, 0, 0x0000_7fff_ffff_fff0, 64, 0, 0)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "a 1 GiB parameter length",
        raw(call(0, 0, 0x40_0000, 1 << 30, 0, 0)),
        Error::BadParams,
    );
    let garbage: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    expect(
        &mut c,
        "malformed capnp parameters",
        raw(call(0, 0, garbage.as_ptr() as u64, 64, 0, 0)),
        Error::BadParams,
    );
    let empty_segment = [0u8; 8];
    expect(
        &mut c,
        "an empty capnp message",
        raw(call(0, 0, empty_segment.as_ptr() as u64, 8, 0, 0)),
        Error::BadParams,
    );
    expect(
        &mut c,
        "a result buffer at an unmapped address",
        raw(call(1, 0, 0, 0, 0xdead_0000, 64)),
        Error::BadAddress,
    );
    let mut small = [0u8; 4];
    expect(
        &mut c,
        "a 4-byte result buffer",
        raw(call(1, 0, 0, 0, small.as_mut_ptr() as u64, 4)),
        Error::ResultTooLarge,
    );
    expect(&mut c, "cap slot 999", raw(call(999, 0, 0, 0, 0, 0)), Error::BadSlot);
    expect(&mut c, "opcode 77", raw(Sqe { opcode: 77, ..Sqe::default() }), Error::BadOpcode);
    expect(&mut c, "method 55 on a Timer", raw(call(1, 55, 0, 0, 0, 0)), Error::BadMethod);
    expect(&mut c, "a sleep of u64::MAX ns", res(Timer(1).sleep(u64::MAX)), Error::BadParams);
    expect(
        &mut c,
        "a phase name with a space",
        res(Measure(5).mark("bad phase")),
        Error::BadParams,
    );

    let r = Ring::current();
    let head = r.sq_head();
    r.force_sq_tail(head.wrapping_add(1000));
    let overflow = Error::from_result(syscall::cap_enter(0, 0));
    r.force_sq_tail(head); // printing needs a sane ring again
    expect(&mut c, "an SQ tail 1000 entries ahead", overflow, Error::RingOverflow);
    c.check(Timer(1).now().is_ok(), "the ring works again after the overflow attempt");

    expect(&mut c, "syscall 999", Error::from_result(syscall::raw(999, 0, 0)), Error::BadSyscall);
    expect(
        &mut c,
        "FS base in the kernel half",
        Error::from_result(syscall::set_fs_base(0xffff_8000_0000_0000)),
        Error::BadAddress,
    );
    let word = AtomicU32::new(0);
    let unaligned = unsafe_unaligned(&word);
    expect(
        &mut c,
        "park on an unaligned word",
        res(ParkSpace(4).park(unaligned, 0, 1000)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "park on an unmapped word",
        res(ParkSpace(4).park(at(0xdead_0000), 0, 1000)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "a thread entry in the kernel half",
        res(ThreadSpawner(3).spawn_raw(0xffff_8000_0000_0000, 0, 0, 0)),
        Error::BadAddress,
    );
    expect(
        &mut c,
        "a misaligned thread stack",
        res(ThreadSpawner(3).spawn_raw(0x40_1000, 0, 0x7000_0008, 0)),
        Error::BadAddress,
    );
    let sp = Spawner(2);
    expect(
        &mut c,
        "spawning a binary that does not exist",
        res(sp.spawn("no-such-binary", "", &[])),
        Error::NotFound,
    );
    expect(
        &mut c,
        "spawning a module that is not an ELF",
        res(sp.spawn("manifest", "", &[])),
        Error::BadParams,
    );
    expect(
        &mut c,
        "granting a slot we do not hold",
        res(sp.spawn("exit-child", "code=0", &[(77, 1)])),
        Error::BadSlot,
    );

    // Exhaustion: spawn until refused, then wait for all of them.
    let mut kids = Vec::new();
    let refused = loop {
        match sp.spawn("exit-child", "linger", &[(1, 1)]) {
            Ok(h) => kids.push(h),
            Err(e) => break Some(e),
        }
        if kids.len() > 200 {
            break None;
        }
    };
    expect(
        &mut c,
        &alloc::format!("spawning until refused (after {} children)", kids.len()),
        refused,
        Error::OutOfResources,
    );
    let waited = kids.iter().filter(|h| h.wait() == Ok((0, false))).count();
    c.check(waited == kids.len(), "every child spawned before the refusal ran and exited normally");
    let mut grown = 0u64;
    let heap_err = loop {
        let r = syscall::grow_heap(4 << 20);
        if r < 0 {
            break Error::from_result(r);
        }
        grown += 4;
        if grown > 1024 {
            break None;
        }
    };
    expect(
        &mut c,
        &alloc::format!("growing the heap until refused (after {grown} MiB)"),
        heap_err,
        Error::OutOfResources,
    );
    thread_names(&mut c);
    c.check(
        sp.spawn("exit-child", "code=5", &[]).and_then(|h| h.wait()) == Ok((5, false)),
        "the kernel still spawns and waits after all of that",
    );
    c.finish()
}

/// `SET_THREAD_NAME` with bad pointers and bad names: each refused with
/// its error, and a good name still accepted after them.
fn thread_names(c: &mut Checks) {
    use capos_abi::layout::USER_TOP;
    use capos_abi::syscall as nr;
    let name = |ptr: u64, len: u64| Error::from_result(syscall::raw(nr::SET_THREAD_NAME, ptr, len));
    let good = b"hostile";
    let at_good = good.as_ptr() as u64;
    expect(c, "thread name at an unmapped address", name(0xdead_0000, 8), Error::BadAddress);
    expect(c, "thread name in the kernel half", name(0xffff_8000_0000_0000, 8), Error::BadAddress);
    expect(c, "thread name across the user top", name(USER_TOP - 4, 8), Error::BadAddress);
    expect(c, "thread name of length 0", name(at_good, 0), Error::BadParams);
    expect(c, "thread name of 33 bytes", name(at_good, 33), Error::BadParams);
    expect(c, "thread name of length 2^64-1", name(at_good, u64::MAX), Error::BadParams);
    for bad in [&b"two words"[..], b"a=b", b"a,b", b"nl\n", &[0xc3, 0x28]] {
        let got = name(bad.as_ptr() as u64, bad.len() as u64);
        expect(c, &alloc::format!("thread name {bad:?}"), got, Error::BadParams);
    }
    c.check(syscall::set_thread_name("hostile-main").is_ok(), "a good thread name is accepted");
}

fn at(addr: u64) -> &'static AtomicU32 {
    // SAFETY: not sound on purpose: the reference is only passed to the
    // kernel as an address, never dereferenced here.
    unsafe { &*(addr as *const AtomicU32) }
}

fn unsafe_unaligned(w: &AtomicU32) -> &'static AtomicU32 {
    at(w as *const AtomicU32 as u64 + 1)
}
