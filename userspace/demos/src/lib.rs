//! Shared pieces of the capOS scaling demos (`thread-scale`,
//! `smp-process-scale`, `process-scale-worker`, `ipc-scale` and its
//! clients and servers): argument parsing, the
//! cycle counter, result printing, and the worker-to-coordinator messages.
//!
//! The demos time with the TSC inside the guest. QEMU (TCG and KVM with an
//! invariant TSC) gives every vCPU the same TSC, so a stamp taken on one CPU
//! can be subtracted from one taken on another, exactly as the Linux
//! baselines do.
#![no_std]

extern crate alloc;

use alloc::string::String;
use capos_rt::clients::Console;

pub mod coord;

/// The guest's time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects and is allowed in user mode (the
    // kernel does not set CR4.TSD).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// `key=value` words of a manifest `args` string.
pub struct Args<'a>(pub &'a str);

impl<'a> Args<'a> {
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    /// `key` as a number, `default` when absent; `Err` names a malformed value.
    pub fn num<T: core::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| alloc::format!("bad argument {key}={v}")),
        }
    }
}

/// Prints `text` and a newline on `console`, ignoring errors (the harness
/// fails closed on a missing result line anyway).
pub fn print(console: Console, text: &str) {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    let _ = console.write(&s);
}

/// Messages from a `process-scale-worker` or an `ipc-scale-client` to its
/// coordinator, as the data of
/// an `Endpoint.call`: little-endian u64 words behind a one-word tag.
pub mod report {
    use alloc::vec::Vec;

    /// "I am spawned and set up; release me" (the reply is the start signal).
    pub const READY: u64 = 0x52_4541_4459; // "READY"
    /// "My range is done": index, lo, hi, primes, checksum, end TSC.
    pub const RESULT: u64 = 0x5245_5355_4c54; // "RESULT"
    /// An ipc-scale client's "my calls are done": index, calls, checksum, end TSC.
    pub const DONE: u64 = 0x444f_4e45; // "DONE"

    /// A decoded message.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Msg {
        Ready { index: u32 },
        Result { index: u32, lo: u32, hi: u32, primes: u64, checksum: u64, end_tsc: u64 },
        Done { index: u32, calls: u32, checksum: u64, end_tsc: u64 },
    }

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    impl Msg {
        pub fn encode(&self) -> Vec<u8> {
            match *self {
                Msg::Ready { index } => words(&[READY, u64::from(index)]),
                Msg::Result { index, lo, hi, primes, checksum, end_tsc } => words(&[
                    RESULT,
                    u64::from(index),
                    u64::from(lo),
                    u64::from(hi),
                    primes,
                    checksum,
                    end_tsc,
                ]),
                Msg::Done { index, calls, checksum, end_tsc } => {
                    words(&[DONE, u64::from(index), u64::from(calls), checksum, end_tsc])
                }
            }
        }

        /// `None` for anything that is not exactly one well-formed message.
        pub fn decode(bytes: &[u8]) -> Option<Msg> {
            if !bytes.len().is_multiple_of(8) {
                return None;
            }
            let w: Vec<u64> = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            let small = |v: u64| u32::try_from(v).ok();
            match w.as_slice() {
                [READY, i] => Some(Msg::Ready { index: small(*i)? }),
                [RESULT, i, lo, hi, primes, checksum, end] => Some(Msg::Result {
                    index: small(*i)?,
                    lo: small(*lo)?,
                    hi: small(*hi)?,
                    primes: *primes,
                    checksum: *checksum,
                    end_tsc: *end,
                }),
                [DONE, i, calls, checksum, end] => Some(Msg::Done {
                    index: small(*i)?,
                    calls: small(*calls)?,
                    checksum: *checksum,
                    end_tsc: *end,
                }),
                _ => None,
            }
        }
    }
}
