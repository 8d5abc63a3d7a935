//! Typed clients for the capability interfaces (schema/capos.capnp).

use crate::ring;
use alloc::vec;
use alloc::vec::Vec;
use capnp::message::{Builder, HeapAllocator, ReaderOptions};
use capnp::serialize;
use capos_abi::error::Error;
use capos_schema::capos_capnp as s;
use capos_schema::methods as m;

// Method numbers for submitting calls through the ring without waiting.
pub use m::{ENDPOINT_CALL, ENDPOINT_RECEIVE, PARK_PARK, PROCESS_WAIT, TIMER_NOW, TIMER_SLEEP};

fn words(b: &Builder<HeapAllocator>) -> Vec<u8> {
    serialize::write_message_to_words(b)
}

/// Calls and returns the result message bytes.
fn call_msg(
    cap: u32,
    method: u16,
    params: &[u8],
    result_cap: usize,
) -> Result<(i64, Vec<u8>), Error> {
    let mut buf = vec![0u8; result_cap];
    let (r, n) = ring::call(cap, method, params, &mut buf)?;
    buf.truncate(n);
    Ok((r, buf))
}

fn read(bytes: &[u8]) -> Result<capnp::message::Reader<serialize::OwnedSegments>, Error> {
    serialize::read_message(&mut &bytes[..], ReaderOptions::new()).map_err(|_| Error::BadParams)
}

macro_rules! get_root {
    ($bytes:expr, $t:ty) => {
        read(&$bytes)?.get_root::<$t>().map_err(|_| Error::BadParams)
    };
}

#[derive(Clone, Copy, Debug)]
pub struct Console(pub u32);

impl Console {
    pub fn write(&self, text: &str) -> Result<(), Error> {
        let mut b = Builder::new_default();
        b.init_root::<s::console::write_params::Builder>().set_text(text);
        ring::call(self.0, m::CONSOLE_WRITE, &words(&b), &mut [])?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Timer(pub u32);

impl Timer {
    pub fn now(&self) -> Result<u64, Error> {
        let (_, msg) = call_msg(self.0, m::TIMER_NOW, &[], 64)?;
        Ok(get_root!(msg, s::timer::now_results::Reader)?.get_ns())
    }

    pub fn sleep(&self, ns: u64) -> Result<(), Error> {
        ring::call(self.0, m::TIMER_SLEEP, &Self::sleep_params(ns), &mut [])?;
        Ok(())
    }

    pub fn sleep_params(ns: u64) -> Vec<u8> {
        let mut b = Builder::new_default();
        b.init_root::<s::timer::sleep_params::Builder>().set_ns(ns);
        words(&b)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Spawner(pub u32);

impl Spawner {
    /// Starts boot module `binary`; `grants` are (my slot, rights) pairs.
    pub fn spawn(
        &self,
        binary: &str,
        args: &str,
        grants: &[(u32, u32)],
    ) -> Result<ProcessHandle, Error> {
        let mut b = Builder::new_default();
        {
            let mut r = b.init_root::<s::process_spawner::spawn_params::Builder>();
            r.set_binary(binary);
            r.set_args(args);
            let mut g = r.init_grants(grants.len() as u32);
            for (i, (slot, rights)) in grants.iter().enumerate() {
                let mut e = g.reborrow().get(i as u32);
                e.set_slot(*slot);
                e.set_rights(*rights);
            }
        }
        let (slot, _) = call_msg(self.0, m::SPAWNER_SPAWN, &words(&b), 64)?;
        Ok(ProcessHandle(slot as u32))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ProcessHandle(pub u32);

impl ProcessHandle {
    /// Waits for the process: (exit code, killed by a fault).
    pub fn wait(&self) -> Result<(i64, bool), Error> {
        let (_, msg) = call_msg(self.0, m::PROCESS_WAIT, &[], 64)?;
        let reader = read(&msg)?;
        let r = reader
            .get_root::<s::process_handle::wait_results::Reader>()
            .map_err(|_| Error::BadParams)?;
        Ok((r.get_exit_code(), r.get_killed()))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ThreadSpawner(pub u32);

impl ThreadSpawner {
    pub fn spawn_raw(
        &self,
        entry: u64,
        arg: u64,
        stack_top: u64,
        tls: u64,
    ) -> Result<ThreadHandle, Error> {
        let mut b = Builder::new_default();
        {
            let mut r = b.init_root::<s::thread_spawner::spawn_params::Builder>();
            r.set_entry(entry);
            r.set_arg(arg);
            r.set_stack_top(stack_top);
            r.set_tls(tls);
        }
        let (slot, _) = call_msg(self.0, m::THREAD_SPAWN, &words(&b), 64)?;
        Ok(ThreadHandle(slot as u32))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ThreadHandle(pub u32);

impl ThreadHandle {
    pub fn join(&self) -> Result<i64, Error> {
        let (_, msg) = call_msg(self.0, m::THREAD_JOIN, &[], 64)?;
        Ok(get_root!(msg, s::thread_handle::join_results::Reader)?.get_exit_code())
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ParkSpace(pub u32);

impl ParkSpace {
    /// Blocks while `*word == expected`: Ok(true) if unparked, Ok(false) if
    /// the value differed, Err(Timeout) on timeout.
    pub fn park(
        &self,
        word: &core::sync::atomic::AtomicU32,
        expected: u32,
        timeout_ns: u64,
    ) -> Result<bool, Error> {
        let (_, msg) =
            call_msg(self.0, m::PARK_PARK, &Self::park_params(word, expected, timeout_ns), 64)?;
        Ok(get_root!(msg, s::park_space::park_results::Reader)?.get_woken())
    }

    /// The parameter message of `park`, for submitting it without waiting.
    pub fn park_params(
        word: &core::sync::atomic::AtomicU32,
        expected: u32,
        timeout_ns: u64,
    ) -> Vec<u8> {
        let mut b = Builder::new_default();
        {
            let mut r = b.init_root::<s::park_space::park_params::Builder>();
            r.set_addr(word as *const _ as u64);
            r.set_expected(expected);
            r.set_timeout_ns(timeout_ns);
        }
        words(&b)
    }

    pub fn unpark(&self, word: &core::sync::atomic::AtomicU32, count: u32) -> Result<u32, Error> {
        let mut b = Builder::new_default();
        {
            let mut r = b.init_root::<s::park_space::unpark_params::Builder>();
            r.set_addr(word as *const _ as u64);
            r.set_count(count);
        }
        let (n, _) = call_msg(self.0, m::PARK_UNPARK, &words(&b), 64)?;
        Ok(n as u32)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Endpoint(pub u32);

impl Endpoint {
    pub fn call(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let (_, msg) =
            call_msg(self.0, m::ENDPOINT_CALL, &Self::call_params(data), data.len() + 256)?;
        Ok(Vec::from(
            get_root!(msg, s::endpoint::call_results::Reader)?
                .get_reply()
                .map_err(|_| Error::BadParams)?,
        ))
    }

    /// The parameter message of `call`, for submitting it without waiting.
    pub fn call_params(data: &[u8]) -> Vec<u8> {
        let mut b = Builder::new_default();
        b.init_root::<s::endpoint::call_params::Builder>().set_data(data);
        words(&b)
    }

    pub fn receive(&self) -> Result<(u64, Vec<u8>), Error> {
        let (_, msg) = call_msg(self.0, m::ENDPOINT_RECEIVE, &[], Self::RECEIVE_RESULT_BYTES)?;
        Self::parse_receive(&msg)
    }

    /// Result buffer size that holds any `receive` result.
    pub const RECEIVE_RESULT_BYTES: usize = 17 * 1024;

    /// Decodes a `receive` result message: (call id, data).
    pub fn parse_receive(msg: &[u8]) -> Result<(u64, Vec<u8>), Error> {
        let reader = read(msg)?;
        let r = reader
            .get_root::<s::endpoint::receive_results::Reader>()
            .map_err(|_| Error::BadParams)?;
        Ok((r.get_call_id(), Vec::from(r.get_data().map_err(|_| Error::BadParams)?)))
    }

    pub fn reply(&self, call_id: u64, data: &[u8]) -> Result<(), Error> {
        let mut b = Builder::new_default();
        {
            let mut r = b.init_root::<s::endpoint::reply_params::Builder>();
            r.set_call_id(call_id);
            r.set_data(data);
        }
        ring::call(self.0, m::ENDPOINT_REPLY, &words(&b), &mut [])?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Measure(pub u32);

impl Measure {
    /// Marks the start of `phase`; returns the kernel's TSC at the mark.
    pub fn mark(&self, phase: &str) -> Result<u64, Error> {
        let mut b = Builder::new_default();
        b.init_root::<s::measure::mark_params::Builder>().set_phase(phase);
        let (_, msg) = call_msg(self.0, m::MEASURE_MARK, &words(&b), 64)?;
        Ok(get_root!(msg, s::measure::mark_results::Reader)?.get_tsc())
    }

    /// The kernel's memory use and high-water marks.
    pub fn memory(&self) -> Result<KernelMemory, Error> {
        let (_, msg) = call_msg(self.0, m::MEASURE_MEMORY, &[], 128)?;
        // The reader borrows the message: keep it in a binding of its own.
        let reader = read(&msg)?;
        let r = reader
            .get_root::<s::measure::memory_results::Reader>()
            .map_err(|_| Error::BadParams)?;
        Ok(KernelMemory {
            heap_used: r.get_heap_used(),
            heap_peak: r.get_heap_peak(),
            frames_used: r.get_frames_used(),
            frames_peak: r.get_frames_peak(),
        })
    }
}

/// What `Measure::memory` reports: kernel heap bytes and 4 KiB frames in use
/// now, and the most ever in use since boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelMemory {
    pub heap_used: u64,
    pub heap_peak: u64,
    pub frames_used: u64,
    pub frames_peak: u64,
}

/// Formats into a String and writes it to `console` (errors ignored).
#[macro_export]
macro_rules! println {
    ($console:expr, $($arg:tt)*) => {{
        let s = alloc::format!("{}\n", format_args!($($arg)*));
        let _ = $console.write(&s);
    }};
}
