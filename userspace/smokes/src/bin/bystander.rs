//! Bystander: runs beside an attack and watches its own memory. It fills
//! ~1 MiB of its heap with a pattern derived from its arguments and start
//! time, then every round verifies all of it, rewrites a few pages (a new
//! generation of the pattern) and waits ~5 ms. A kernel that writes into a
//! frame it no longer owns, or hands one frame out twice, shows up as a
//! mismatch here.
//!
//! Args: `ms=N` (longest run) and optionally `stop=SLOT`: an Endpoint this
//! process serves: a `ping` call is answered `ready`, a `stop` call ends
//! the run early and gets the verdict as its reply (see
//! capos_smokes::bystander).
//! Caps: slot 0 Console, slot 1 Timer, [slot SLOT Endpoint (receive)].
//! Prints `[bystander] ok: memory intact after N rounds` and exits 0, or
//! `[bystander] FAILED: ...` and exits 1.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use capos_rt::clients::{Console, Endpoint, Timer, ENDPOINT_RECEIVE};
use capos_rt::ring;
use capos_rt::{syscall, Ctx};
use capos_smokes::args;
use capos_smokes::bystander::{INTACT, PING, READY};

capos_rt::main!(run);

const CONSOLE: Console = Console(0);
const TIMER: Timer = Timer(1);
/// 1 MiB of u64 words.
const WORDS: usize = 1 << 17;
const PAGE_WORDS: usize = 512;
const PAGES: usize = WORDS / PAGE_WORDS;
/// Pages rewritten with a new generation every round.
const TOUCH_PER_ROUND: usize = 4;
const ROUND_PAUSE_NS: u64 = 5_000_000;

fn mix(mut z: u64) -> u64 {
    // splitmix64: every input bit reaches every output bit (for the seed).
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pattern: word `i` holds `expected(i)`, which depends on the seed
/// and on how often its page has been rewritten.
struct Pattern {
    seed: u64,
    words: Vec<u64>,
    generation: Vec<u64>,
}

/// A word that does not hold what the pattern says.
struct Mismatch {
    index: usize,
    addr: u64,
    got: u64,
    want: u64,
}

impl Pattern {
    fn new(seed: u64) -> Pattern {
        let mut p =
            Pattern { seed, words: alloc::vec![0; WORDS], generation: alloc::vec![0; PAGES] };
        for i in 0..WORDS {
            p.words[i] = p.expected(i);
        }
        p
    }

    /// Cheap on purpose (every word is checked every round, under
    /// emulation too): distinct per word, per generation and per process.
    fn expected(&self, i: usize) -> u64 {
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ self.seed
            ^ self.generation[i / PAGE_WORDS].rotate_left(40)
    }

    fn verify(&self) -> Result<(), Mismatch> {
        for (i, w) in self.words.iter().enumerate() {
            // Volatile: the point is to read what is in memory now.
            // SAFETY: `w` is a valid reference into our own vector.
            let got = unsafe { core::ptr::read_volatile(w) };
            let want = self.expected(i);
            if got != want {
                return Err(Mismatch { index: i, addr: w as *const u64 as u64, got, want });
            }
        }
        Ok(())
    }

    /// Rewrites a few pages (chosen by `round`) with their next generation.
    fn touch(&mut self, round: u64) {
        for k in 0..TOUCH_PER_ROUND as u64 {
            let page = (round.wrapping_mul(37).wrapping_add(k * 71) % PAGES as u64) as usize;
            self.generation[page] += 1;
            for i in page * PAGE_WORDS..(page + 1) * PAGE_WORDS {
                let v = self.expected(i);
                // SAFETY: `i` is in bounds of our own vector.
                unsafe { core::ptr::write_volatile(&mut self.words[i], v) };
            }
        }
    }
}

/// A receive submitted on the stop endpoint and not completed yet.
struct StopWatch {
    ep: Endpoint,
    user_data: u64,
    /// The kernel writes the receive result here: it must stay put.
    buf: Vec<u8>,
}

impl StopWatch {
    fn start(slot: u32) -> StopWatch {
        let mut w = StopWatch {
            ep: Endpoint(slot),
            user_data: ring::next_user_data(),
            buf: alloc::vec![0; Endpoint::RECEIVE_RESULT_BYTES],
        };
        ring::submit(ring::call_sqe(slot, ENDPOINT_RECEIVE, &[], &mut w.buf, w.user_data));
        syscall::cap_enter(0, 0);
        w
    }

    /// A call that has arrived: (call id, data); `Err` if the receive failed.
    fn poll(&self) -> Option<Result<(u64, Vec<u8>), capos_rt::Error>> {
        let done = ring::drain();
        let c = done.iter().find(|c| c.user_data == self.user_data)?;
        if c.result < 0 {
            return Some(Err(
                capos_rt::Error::from_result(c.result).unwrap_or(capos_rt::Error::InvalidState)
            ));
        }
        let msg = &self.buf[..(c.result_bytes as usize).min(self.buf.len())];
        Some(Endpoint::parse_receive(msg))
    }
}

fn run(ctx: &Ctx) -> i64 {
    capos_rt::set_panic_console(CONSOLE.0);
    let ms = args::number(ctx.args, "ms").unwrap_or(1500);
    let start = TIMER.now().unwrap_or(0);
    let deadline = start + ms * 1_000_000;
    let seed = mix(ctx.args.bytes().fold(start, |h, b| mix(h ^ b as u64)));
    let mut pattern = Pattern::new(seed);
    let mut watch = args::number(ctx.args, "stop").map(|s| StopWatch::start(s as u32));
    capos_rt::println!(
        CONSOLE,
        "[bystander] started: {} KiB pattern, up to {ms} ms{}",
        WORDS * 8 / 1024,
        if watch.is_some() { ", stops on request" } else { "" }
    );
    let mut round = 0u64;
    loop {
        if let Err(m) = pattern.verify() {
            capos_rt::println!(CONSOLE, "[bystander] FAILED: word {} at {:#x} holds {:#018x}, want {:#018x} (round {round})", m.index, m.addr, m.got, m.want);
            return 1;
        }
        round += 1;
        // Decide to stop only right after a full verify, so the verdict
        // covers every write made so far.
        if let Some(w) = &watch {
            match w.poll() {
                Some(Ok((id, data))) if data == PING => {
                    let _ = w.ep.reply(id, READY);
                    watch = Some(StopWatch::start(w.ep.0));
                }
                Some(Ok((id, _))) => {
                    let _ =
                        w.ep.reply(id, alloc::format!("{INTACT} after {round} rounds").as_bytes());
                    break;
                }
                Some(Err(e)) => {
                    capos_rt::println!(
                        CONSOLE,
                        "[bystander] the stop endpoint failed ({}); running until the time is up",
                        e.name()
                    );
                    watch = None;
                }
                None => {}
            }
        }
        if TIMER.now().unwrap_or(u64::MAX) >= deadline {
            break;
        }
        pattern.touch(round);
        if watch.is_some() {
            // Doubles as the wait for the stop call (Timeout is the normal case).
            let _ = syscall::cap_enter(1, ROUND_PAUSE_NS);
        } else {
            let _ = TIMER.sleep(ROUND_PAUSE_NS);
        }
    }
    capos_rt::println!(CONSOLE, "[bystander] ok: memory intact after {round} rounds");
    0
}
