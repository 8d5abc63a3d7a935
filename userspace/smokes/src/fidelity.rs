//! Shared parts of the fidelity workloads (the `fid-*` programs that plant
//! known quantities for the harness's `fidelity` suite to find in the
//! measure reports): their capability slots, the TSC, a rate from the
//! kernel clock, and the one line that says what was planted.
//!
//! Every fidelity manifest (written by `harness/src/fidelity/`) gives its
//! process the same slots: 0 Console, 1 Timer, 2 ThreadSpawner, 3 ParkSpace,
//! 4 Measure, 5 Endpoint "fidelity" (receive), 6 the same Endpoint (call).
//! Every process of a boot serves that endpoint, so the first to exit
//! revokes it.

use alloc::string::String;
use capos_rt::clients::{Console, Endpoint, Measure, ParkSpace, ThreadSpawner, Timer};
use capos_rt::Error;

pub const CONSOLE: Console = Console(0);
pub const TIMER: Timer = Timer(1);
pub const THREADS: ThreadSpawner = ThreadSpawner(2);
pub const PARK: ParkSpace = ParkSpace(3);
pub const MEASURE: Measure = Measure(4);
/// The fidelity endpoint, server side (receive and reply).
pub const ENDPOINT_SERVE: Endpoint = Endpoint(5);
/// The fidelity endpoint, client side (call).
pub const ENDPOINT_CALL: Endpoint = Endpoint(6);

/// The guest's time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects and is allowed in user mode (the
    // kernel does not set CR4.TSD).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// TSC cycles per millisecond, measured against the kernel clock
/// (`Timer.now`) across a sleep of `ms` milliseconds.
pub fn tsc_per_ms(ms: u64) -> Result<u64, Error> {
    let (n0, c0) = (TIMER.now()?, rdtsc());
    TIMER.sleep(ms * 1_000_000)?;
    let (n1, c1) = (TIMER.now()?, rdtsc());
    let ns = n1.saturating_sub(n0).max(1);
    Ok(((c1 - c0) as u128 * 1_000_000 / ns as u128) as u64)
}

/// Prints `[<name>] planted k=v k=v ...`: the quantities the harness
/// compares with the report (the one format `fidelity::planted` parses).
pub fn print_planted(name: &str, values: &[(&str, u64)]) {
    let mut line = alloc::format!("[{name}] planted");
    for (k, v) in values {
        line.push_str(&alloc::format!(" {k}={v}"));
    }
    capos_rt::println!(CONSOLE, "{}", line);
}

/// A small deterministic generator (xorshift64*), for jitter that keeps a
/// periodic workload from beating against the periodic sampling tick.
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter(seed | 1)
    }

    /// Uniform in `[0, bound)` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

/// The three phase marks around a work phase, as one error string.
pub fn mark(phase: &str) -> Result<u64, String> {
    MEASURE.mark(phase).map_err(|e| alloc::format!("mark {phase}: {e:?}"))
}

/// The body of the timer-hammering workloads (`fid-lock`, `fid-overflow`):
/// `calls` (argument, default `default_calls`) `Timer.now` calls as fast as
/// the process can. The driver marks the four phases around its calls and
/// prints `[<name>] planted calls=<n>`; a peer (`peer=1`) only calls. Both
/// print the `Checks` PASS line; returns the exit code.
pub fn timer_hammer(args: &str, name: &'static str, default_calls: u64) -> i64 {
    let hammer = |calls: u64| (0..calls).filter(|_| TIMER.now().is_ok()).count() as u64;
    let mut c = crate::Checks::new(name, CONSOLE);
    let calls = crate::args::number(args, "calls").unwrap_or(default_calls);
    let peer = crate::args::number(args, "peer") == Some(1);
    // One name per process: with `measure_capacity=1` (fid-overflow) the
    // name table keeps one and refuses the other.
    let _ = capos_rt::syscall::set_thread_name(if peer { "hammer-peer" } else { "hammer" });
    if peer {
        c.check(hammer(calls) == calls, "every call completed (peer)");
        return c.finish();
    }
    // `naps=1`: one 1 ms timer sleep at the end of `work` and one in
    // `shutdown`: the same blocked stack in two phases, two off-CPU keys
    // (fid-overflow: the one-entry table keeps one and refuses the other).
    let naps = crate::args::number(args, "naps") == Some(1);
    let nap = || -> Result<(), String> {
        if naps {
            TIMER.sleep(1_000_000).map_err(|e| alloc::format!("sleep: {e:?}"))?;
        }
        Ok(())
    };
    let work = || -> Result<u64, String> {
        mark("spawn_ready")?;
        mark("work")?;
        let done = hammer(calls);
        nap()?;
        mark("shutdown")?;
        nap()?;
        print_planted(name, &[("calls", calls)]);
        mark("final_total")?;
        Ok(done)
    };
    match work() {
        Ok(done) => c.check(done == calls, "every call completed"),
        Err(e) => c.check(false, &e),
    }
    c.finish()
}
