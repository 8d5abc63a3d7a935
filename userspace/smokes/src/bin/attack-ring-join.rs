//! Attack child of smoke-ring-join: reads the ring page of a thread it has
//! already joined. A joined thread is gone, so a correct kernel has
//! unmapped its ring: the read faults and the kernel kills this process.
//! If the read succeeds, this prints what the page held (and whether any
//! word looks like a kernel pointer) and exits with code 66.
//!
//! Args: `waves=1` (64 threads, joined, then the read) or `waves=2` (a
//! second 64 after the first are joined; the read targets the first wave,
//! whose addresses the kernel may have handed to the second wave, which is
//! joined too by then). Caps: slot 0 Console, slot 1 ThreadSpawner.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use capos_rt::clients::{Console, ThreadSpawner};
use capos_rt::thread::{self, JoinHandle};
use capos_rt::{syscall, Ctx, Error};
use capos_smokes::attacks::RING_STILL_MAPPED;
use core::sync::atomic::{AtomicU64, Ordering};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const SPAWNER: ThreadSpawner = ThreadSpawner(1);
const THREADS: usize = 64;

fn code_of(i: usize) -> i64 {
    1000 + i as i64
}

/// Starts thread `i` of a wave: it records its ring address and exits.
/// The kernel allows 64 live threads per process (main included), so a
/// refusal while earlier threads are still exiting is retried.
fn start(rings: &Arc<Vec<AtomicU64>>, i: usize) -> Result<JoinHandle, Error> {
    for _ in 0..10_000 {
        let r = rings.clone();
        match thread::spawn(SPAWNER, move || {
            r[i].store(syscall::ring_info() as u64, Ordering::Release);
            code_of(i)
        }) {
            Err(Error::OutOfResources) => syscall::yield_now(),
            other => return other,
        }
    }
    Err(Error::OutOfResources)
}

/// Runs one wave: 64 threads, all joined. Returns their ring addresses.
fn wave() -> Result<Vec<u64>, alloc::string::String> {
    let rings: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let mut handles = Vec::with_capacity(THREADS);
    for i in 0..THREADS {
        handles.push(
            start(&rings, i).map_err(|e| alloc::format!("spawning thread {i}: {}", e.name()))?,
        );
    }
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(code) if code == code_of(i) => {}
            other => {
                return Err(alloc::format!(
                    "thread {i} joined with {other:?}, want Ok({})",
                    code_of(i)
                ))
            }
        }
    }
    Ok(rings.iter().map(|r| r.load(Ordering::Acquire)).collect())
}

/// Whether `w` looks like a kernel-half pointer (HHDM or kernel image).
fn kernel_looking(w: u64) -> bool {
    w >= 0xffff_8000_0000_0000
}

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    let waves = if ctx.args.contains("waves=2") { 2 } else { 1 };
    let own = syscall::ring_info() as u64;
    let mut all = Vec::new();
    for _ in 0..waves {
        match wave() {
            Ok(r) => all.push(r),
            Err(e) => {
                capos_rt::println!(CONSOLE, "[attack-ring-join] FAILED: {e}");
                return 2;
            }
        }
    }
    let first = &all[0];
    if first.iter().any(|&r| r == 0 || r == own) {
        capos_rt::println!(
            CONSOLE,
            "[attack-ring-join] FAILED: a thread recorded no ring of its own"
        );
        return 3;
    }
    if let Some(second) = all.get(1) {
        let reused = second.iter().filter(|r| first.contains(r)).count();
        capos_rt::println!(
            CONSOLE,
            "[attack-ring-join] second wave reused {reused} of the first wave's ring addresses"
        );
    }
    let target = first[0];
    capos_rt::println!(CONSOLE, "[attack-ring-join] {waves} wave(s) of {THREADS} threads joined with the right codes; reading the ring of joined thread 0 at {target:#x} (must fault)");
    // SAFETY: not sound on purpose: the page belonged to a thread that has
    // exited; a correct kernel has unmapped it and kills us right here.
    let page: Vec<u64> = (0..512)
        .map(|i| unsafe { core::ptr::read_volatile((target as *const u64).add(i)) })
        .collect();
    let kernelish: Vec<u64> = page.iter().copied().filter(|&w| kernel_looking(w)).collect();
    let nonzero = page.iter().filter(|&&w| w != 0).count();
    capos_rt::println!(
        CONSOLE,
        "[attack-ring-join] the read succeeded: header {:#018x} {:#018x} {:#018x}, {nonzero} non-zero words, {} look like kernel pointers{}",
        page[0],
        page[1],
        page[2],
        kernelish.len(),
        kernelish.first().map(|w| alloc::format!(" (first {w:#018x})")).unwrap_or_default()
    );
    RING_STILL_MAPPED
}
