//! The interesting values the fuzzer feeds the kernel: addresses (null,
//! kernel half, non-canonical, unmapped, straddling a page whose successor
//! is unmapped, misaligned, read-only), lengths, slots, methods, timeouts.
//! Every choice is drawn from the op's own `Rng`, so it replays by seed.

use super::arena::Arena;
use super::ring::RawRing;
use super::shared::{self, PARK_WORDS};
use alloc::string::String;
use capos_abi::layout::{
    USER_HEAP_BASE, USER_IMAGE_BASE, USER_MMAP_BASE, USER_STACK_TOP, USER_TOP,
};
use capos_fuzzplan::rng::Rng;

/// First address of the kernel half.
pub const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;
/// Where x86-64 kernels (this one included) link their image.
pub const KERNEL_IMAGE: u64 = 0xffff_ffff_8000_0000;
/// A user address nothing maps (below the image, above the null page).
pub const UNMAPPED: u64 = 0xdead_0000;

/// An address no user buffer may use. For a result buffer use
/// [`bad_write_addr`]: this one may land in the window where the kernel
/// puts rings and stacks, which a read may touch but a write must not.
pub fn bad_addr(r: &mut Rng) -> u64 {
    match r.below(12) {
        0 => 0,
        1 => KERNEL_HALF,
        2 => KERNEL_IMAGE,
        3 => KERNEL_HALF | r.next_u64(),
        4 => USER_TOP, // first non-canonical
        5 => 0x8000_0000_0000_0000 | r.below(1 << 40),
        6 => USER_TOP - r.range(1, 64), // straddles the top of user space
        7 => UNMAPPED + r.below(0x1000),
        8 => r.range(1, 0x3f_ffff), // below the image: unmapped
        9 => u64::MAX - r.below(64),
        10 => r.next_u64(),
        _ => 0x0000_1000_0000_0000 + r.below(1 << 32), // the thread-stack / ring window
    }
}

/// A bad address for the kernel to write a result to: never into this
/// process's own rings and stacks (a late completion would corrupt a live
/// thread, which is our doing, not the kernel's).
pub fn bad_write_addr(r: &mut Rng) -> u64 {
    match bad_addr(r) {
        a if (USER_MMAP_BASE..USER_HEAP_BASE).contains(&a) => KERNEL_HALF,
        a => a,
    }
}

/// A parameter length: mostly around `exact`, sometimes absurd.
pub fn length(r: &mut Rng, exact: usize) -> u32 {
    let exact = exact.min(u32::MAX as usize) as u32;
    match r.below(14) {
        0 => 0,
        1 => r.range(1, 8) as u32,
        2 => exact.saturating_sub(1),
        3 => exact.saturating_add(1),
        4 => exact.saturating_sub(r.range(1, 64) as u32),
        5 => 4095,
        6 => 4096,
        7 => 4097,
        8 => 64 * 1024,
        9 => 64 * 1024 + 1,
        10 => 1 << 20,
        11 => u32::MAX,
        12 => r.next_u32(),
        _ => r.below(8192) as u32,
    }
}

/// Where a parameter message goes and what length the SQE claims.
pub fn place_params(r: &mut Rng, arena: &Arena, ring: &RawRing, bytes: &[u8]) -> (u64, u32) {
    let exact = bytes.len().min(arena.params_end());
    let bytes = &bytes[..exact];
    let exact32 = exact as u32;
    match r.below(20) {
        0..=9 => (arena.put(arena.alloc_params(exact), bytes), exact32),
        10 | 11 => {
            (arena.put(arena.alloc_params(exact + 8) + r.range(1, 7) as usize, bytes), exact32)
        }
        12 => {
            // Straddle a page boundary inside the arena (both pages mapped).
            let off = arena.alloc_params(exact + 4096);
            let boundary = (arena.addr(off) + 4096) & !4095;
            let start = (boundary - r.range(1, exact.max(1) as u64)).max(arena.addr(off));
            (arena.put((start - arena.base()) as usize, bytes), exact32)
        }
        13 => {
            // Ends at the ring page's end; a longer length runs into its guard page.
            let addr = ring.put_at_page_end(bytes);
            let len = if r.chance(1, 2) {
                exact32
            } else {
                exact32.saturating_add(r.range(1, 4096) as u32)
            };
            (addr, len)
        }
        14..=16 => (arena.put(arena.alloc_params(exact), bytes), length(r, exact)),
        17 => (USER_IMAGE_BASE + r.below(0x1000), exact32), // code: readable garbage
        18 => (USER_STACK_TOP - r.range(1, 256), exact32),  // runs off the main stack's top
        _ => (bad_addr(r), if r.chance(1, 2) { exact32 } else { length(r, exact) }),
    }
}

/// A result buffer (address, capacity). Arena buffers stay inside the
/// arena's result half whatever the capacity says, so a late completion
/// can never write over memory the program uses.
pub fn result_buf(r: &mut Rng, arena: &Arena) -> (u64, u32) {
    let (addr, len) = match r.below(20) {
        0..=8 => (
            arena.addr(arena.results() + r.below(64) as usize * 8),
            r.pick(&[64u32, 128, 256, 4096, 20 * 1024]),
        ),
        9 => (arena.addr(arena.results() + r.range(1, 63) as usize), 256),
        10 => (arena.addr(arena.results()), r.range(1, 16) as u32), // too small: ResultTooLarge
        11 => (arena.addr(arena.results()), 0),
        12 | 13 => (0, r.pick(&[0u32, 64, u32::MAX])),
        14 => (arena.addr(arena.results()), u32::MAX),
        15 => {
            // The spare tail of the child's main ring page (it lives as long
            // as the process, so a late completion still finds it), running
            // into its guard page.
            let k = r.range(1, 120) * 8;
            (shared::main_ring() + 4096 - k, (k + r.range(8, 4096)) as u32)
        }
        16 => (USER_IMAGE_BASE + r.below(0x1000), 64), // read-only
        _ => (bad_write_addr(r), r.pick(&[8u32, 64, 4096, u32::MAX])),
    };
    match arena.room_after(addr) {
        Some(room) => (addr, len.min(room.min(u64::from(u32::MAX)) as u32)),
        None => (addr, len),
    }
}

/// A result buffer that works for every method's result (bar a full
/// endpoint receive): the start of the arena's result half.
pub fn good_result(arena: &Arena) -> (u64, u32) {
    (arena.addr(arena.results()), 512)
}

/// Parameters and result buffer of an op aimed at a real method: mostly
/// well placed (so the method itself gets exercised), sometimes anything
/// `place_params` / `result_buf` come up with.
pub fn aimed(
    r: &mut Rng,
    arena: &Arena,
    ring: &RawRing,
    params: &[u8],
) -> ((u64, u32), (u64, u32)) {
    if r.chance(3, 4) {
        let p = if params.is_empty() {
            (0, 0)
        } else {
            (arena.put(arena.alloc_params(params.len()), params), params.len() as u32)
        };
        (p, good_result(arena))
    } else {
        let p = if params.is_empty() && r.chance(1, 2) {
            (0, 0)
        } else {
            place_params(r, arena, ring, params)
        };
        (p, result_buf(r, arena))
    }
}

/// A slot number: a granted one, one of `handles`, empty or out of range.
pub fn slot(r: &mut Rng, caps: u32, handles: &[u32]) -> u32 {
    match r.below(20) {
        0..=7 => r.below(u64::from(caps.max(1))) as u32,
        8..=10 if !handles.is_empty() => handles[r.below(handles.len() as u64) as usize],
        8..=12 => r.below(32) as u32,
        13 | 14 => r.range(100, 255) as u32,
        15 => r.pick(&[255u32, 256, 257]),
        16 => u32::MAX,
        _ => r.next_u32(),
    }
}

/// A method number: mostly real ones.
pub fn method(r: &mut Rng) -> u16 {
    match r.below(20) {
        0..=11 => r.below(3) as u16,
        12..=14 => r.below(16) as u16,
        15 => u16::MAX,
        16 => 0x8000,
        _ => r.next_u32() as u16,
    }
}

/// A timeout in ns for park and sleep: mostly short, sometimes endless or absurd.
pub fn timeout_ns(r: &mut Rng) -> u64 {
    match r.below(40) {
        0..=3 => 0,
        4..=6 => 1,
        7..=10 => r.range(2, 10_000),
        11..=20 => r.range(10_000, 2_000_000),
        21..=28 => r.range(2_000_000, 50_000_000),
        29..=31 => r.range(50_000_000, 500_000_000),
        32 => u64::MAX - 1,
        33 => u64::MAX,
        34 => u64::MAX / 2,
        35 => 1 << 63,
        36 => r.next_u64(),
        _ => r.range(1, 1_000_000),
    }
}

/// A u32 address for park/unpark: mostly a shared park word (`Some(i)`).
pub fn word_addr(r: &mut Rng, arena: &Arena, ring: &RawRing) -> (u64, Option<usize>) {
    let shared = |r: &mut Rng| {
        let i = r.below(PARK_WORDS.len() as u64) as usize;
        (&PARK_WORDS[i] as *const _ as u64, i)
    };
    match r.below(20) {
        0..=11 => {
            let (a, i) = shared(r);
            (a, Some(i))
        }
        12 => (arena.addr(arena.results() + r.below(16) as usize * 4), None),
        13 => (ring.base() + r.below(16) * 4, None), // the ring header: the kernel writes it
        14 => (shared(r).0 + r.range(1, 3), None),   // misaligned
        15 => (UNMAPPED, None),
        16 => (r.pick(&[KERNEL_HALF, KERNEL_IMAGE, 0]), None),
        17 => (USER_TOP - r.pick(&[2u64, 4, 8]), None),
        _ => (bad_addr(r), None),
    }
}

/// Phase names the Measure cap accepts: the fuzzer must never send them,
/// or the bystander's own `mark` would be refused as out of order.
const PHASES: [&str; 4] = ["spawn_ready", "work", "shutdown", "final_total"];

/// Random text (printable or not) that is never a measure phase name.
pub fn text(r: &mut Rng, max: usize) -> String {
    let len = r.below(max as u64 + 1) as usize;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        let c = if r.chance(7, 8) {
            (b' ' + r.below(95) as u8) as char
        } else {
            char::from_u32(r.range(0x80, 0x2fff) as u32).unwrap_or('?')
        };
        s.push(c);
    }
    if PHASES.contains(&s.as_str()) {
        s.push('#');
    }
    s
}
