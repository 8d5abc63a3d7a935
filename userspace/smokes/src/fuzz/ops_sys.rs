//! Raw system calls with odd numbers and arguments, heap growth and FS
//! base abuse, and the lethal ops that kill the process while its other
//! threads are busy in the kernel.

use super::msg;
use super::shared::slot;
use super::values::{self, KERNEL_HALF, KERNEL_IMAGE, UNMAPPED};
use super::worker::{tag, Worker};
use capos_abi::layout::{USER_HEAP_MAX, USER_IMAGE_BASE, USER_TOP};
use capos_abi::ring::{op, Sqe};
use capos_abi::syscall as nr;
use capos_fuzzplan::outcome::LETHAL_CODES;
use capos_fuzzplan::rng::Rng;
use capos_rt::syscall;
use capos_schema::methods as m;

/// Heap one thread may add behind the allocator's back (the process quota
/// is 64 MiB; the allocator still needs room).
const MAX_EXTRA_HEAP: u64 = 1 << 20;

fn junk(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 => 0,
        1 => values::bad_addr(r),
        2 => r.below(4096),
        _ => r.next_u64(),
    }
}

pub fn syscall(w: &mut Worker, r: &mut Rng) {
    match r.below(10) {
        0..=3 => {
            // Never 0..=2 here: cap_enter is below, and the exits end the thread.
            let n = pick!(
                r,
                nr::COUNT,
                nr::COUNT + 1,
                63,
                64,
                255,
                256,
                0x1000,
                1 << 32,
                u64::MAX,
                1 << 63,
                r.range(nr::COUNT, u64::MAX)
            );
            syscall::raw(n, junk(r), junk(r));
        }
        4 => {
            // cap_enter with odd arguments, but never an unbounded wait.
            let (min, timeout) = match r.below(3) {
                0 => (0, pick!(r, 0, 1, u64::MAX - 1, u64::MAX, r.next_u64())),
                1 => (r.range(1, u64::MAX), r.range(0, 2_000_000)),
                _ => (u64::MAX, 0),
            };
            w.enter(min, timeout);
        }
        5 => {
            syscall::raw(nr::RING_INFO, junk(r), junk(r));
        }
        6 => {
            let n = pick!(r, nr::YIELD, nr::THREAD_STAT, nr::SET_THREAD_NAME);
            syscall::raw(n, junk(r), junk(r));
        }
        7 | 8 => fs_base(r),
        _ => grow_heap(w, r),
    }
}

/// FS base: kernel and non-canonical values must be refused; any user
/// value is allowed (fuzz threads never read FS).
fn fs_base(r: &mut Rng) {
    let v = pick!(
        r,
        KERNEL_HALF,
        KERNEL_IMAGE,
        USER_TOP,
        USER_TOP - 1,
        u64::MAX,
        0,
        1 << 63,
        r.below(USER_TOP),
        r.next_u64()
    );
    syscall::set_fs_base(v);
}

/// grow_heap near 2^64 (rounding must not wrap), past the quota, or a
/// little for real.
fn grow_heap(w: &mut Worker, r: &mut Rng) {
    let small = r.range(1, 64 * 1024);
    let v = match r.below(14) {
        0 => u64::MAX,
        1 => u64::MAX - 4095,
        2 => u64::MAX - 4096 * r.range(1, 1 << 20),
        3 => 1 << 63,
        4 => 1 << 62,
        5 => 1 << 47,
        6 => 1 << 40,
        7 => USER_HEAP_MAX + 1,
        8 => USER_HEAP_MAX * 2,
        9 => 0u64.wrapping_sub(USER_HEAP_MAX),
        10 => 0,
        _ if w.grown + small <= MAX_EXTRA_HEAP => {
            w.grown += small;
            small
        }
        _ => u64::MAX - r.below(1 << 12),
    };
    syscall::grow_heap(v);
}

pub fn heap_fs(w: &mut Worker, r: &mut Rng) {
    for _ in 0..r.range(1, 4) {
        if r.chance(1, 2) {
            grow_heap(w, r);
        } else {
            fs_base(r);
        }
    }
}

/// Entry of a thread started on an unmapped stack: its first push faults.
extern "C" fn push_entry(_arg: u64, _ring: u64) -> ! {
    // SAFETY: not sound on purpose: the stack is unmapped, the push
    // faults, and the kernel kills the process.
    unsafe { core::arch::asm!("push rax", "ud2", options(noreturn)) }
}

/// Starts a thread the kernel accepts but that faults at once.
fn doomed_thread(w: &mut Worker, r: &mut Rng) {
    let (entry, stack) = if r.chance(1, 2) {
        (UNMAPPED, 0)
    } else {
        (push_entry as extern "C" fn(u64, u64) -> ! as usize as u64, UNMAPPED & !15)
    };
    w.enter(0, 0);
    super::threads::neutralize(&w.ring);
    let (params, params_len) = w.arena.put_spawn(&msg::thread_spawn(entry, 0, stack, 0));
    let sqe = Sqe {
        opcode: op::CALL,
        method: m::THREAD_SPAWN,
        cap: slot::THREAD_SPAWNER,
        user_data: tag::make(tag::JUNK, 0),
        params,
        params_len,
        ..Sqe::default()
    };
    w.push(&sqe);
    w.enter(0, 0);
    super::threads::defuse(&w.arena);
}

/// Writes into the ring page of a thread of ours that has exited: the
/// kernel must have unmapped it (the write faults) or still hold it for
/// that thread; it must never be memory handed to someone else.
fn dead_ring(r: &mut Rng) {
    let Some((addr, true)) = super::shared::pick_ring(r, true) else {
        // No thread has exited yet: fault the plain way.
        // SAFETY: not sound on purpose: the write faults, the kernel kills us.
        unsafe { (UNMAPPED as *mut u64).write_volatile(1) };
        return;
    };
    // SAFETY: not sound on purpose: the page belonged to an exited thread
    // (see above); no Rust object of ours lives in a ring page.
    let ring = unsafe { super::ring::RawRing::new(addr) };
    super::ops_ring::scribble_on(&ring, r);
}

/// Ends the process: a fault of some kind, `exit_process`, or a thread
/// that faults. Returns only if the kernel did not kill us (which for the
/// asynchronous kinds is normal until the kill lands).
pub fn lethal(w: &mut Worker, r: &mut Rng) {
    match r.below(12) {
        // SAFETY: not sound on purpose: the write faults, the kernel kills us.
        0 => unsafe { (UNMAPPED as *mut u64).write_volatile(1) },
        // SAFETY: not sound on purpose: a kernel-half read from ring 3 faults.
        1 => drop(unsafe { core::ptr::read_volatile(KERNEL_HALF as *const u64) }),
        // SAFETY: not sound on purpose: a non-canonical address is a #GP.
        2 => drop(unsafe { core::ptr::read_volatile(0x8000_0000_0000_0000u64 as *const u64) }),
        // SAFETY: an invalid-opcode exception on purpose.
        3 => unsafe { core::arch::asm!("ud2") },
        // SAFETY: a breakpoint exception on purpose (nobody debugs us).
        4 => unsafe { core::arch::asm!("int3") },
        // SAFETY: a divide error on purpose; only eax/edx are clobbered.
        5 => unsafe {
            core::arch::asm!("xor edx, edx", "xor eax, eax", "div ecx", in("ecx") 0u32, out("eax") _, out("edx") _)
        },
        // SAFETY: a privileged instruction at CPL 3 is a #GP on purpose.
        6 => unsafe { core::arch::asm!("cli") },
        // SAFETY: not sound on purpose: the image's code is read-only.
        7 => unsafe { (USER_IMAGE_BASE as *mut u64).write_volatile(0) },
        // SAFETY: not sound on purpose: nothing is mapped there to execute.
        8 => unsafe { core::arch::asm!("jmp {}", in(reg) UNMAPPED, options(noreturn)) },
        9 => doomed_thread(w, r),
        10 => dead_ring(r),
        _ => syscall::exit_process(r.pick(&LETHAL_CODES)),
    }
}
