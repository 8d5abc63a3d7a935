//! Cap'n Proto parameter and result messages of every method.
//!
//! Parameters are copied out of user memory (at most `MAX_PARAMS` bytes)
//! and read with tight limits; anything malformed is `BadParams`.

use crate::cap::ring::MAX_PARAMS;
use crate::mm::address_space::AddressSpace;
use crate::proc::usermem::UserSlice;
use alloc::string::String;
use alloc::vec::Vec;
use capnp::message::{Builder, HeapAllocator, Reader, ReaderOptions};
use capnp::serialize::{self, OwnedSegments};
use capos_abi::error::Error;
use capos_abi::ring::Sqe;
use capos_schema::capos_capnp as s;

/// `ProcessSpawner.spawn`'s parameters: binary, args, grants (slot, rights).
pub type SpawnParams = (String, String, Vec<(u32, u32)>);

pub struct Params {
    msg: Option<Reader<OwnedSegments>>,
}

fn bad<E>(_: E) -> Error {
    Error::BadParams
}

impl Params {
    pub fn read(space: &AddressSpace, sqe: &Sqe) -> Result<Params, Error> {
        if sqe.params_len == 0 {
            return Ok(Params { msg: None });
        }
        let bytes =
            UserSlice::new(sqe.params, sqe.params_len as usize)?.read_vec(space, MAX_PARAMS)?;
        let opts =
            *ReaderOptions::new().traversal_limit_in_words(Some(16 * 1024)).nesting_limit(16);
        let msg = serialize::read_message(&mut &bytes[..], opts).map_err(bad)?;
        Ok(Params { msg: Some(msg) })
    }

    fn root<'a, T: capnp::traits::Owned>(&'a self) -> Result<T::Reader<'a>, Error> {
        self.msg.as_ref().ok_or(Error::BadParams)?.get_root::<T::Reader<'a>>().map_err(bad)
    }

    pub fn console_write(&self) -> Result<String, Error> {
        let r = self.root::<s::console::write_params::Owned>()?;
        Ok(String::from(r.get_text().map_err(bad)?.to_str().map_err(bad)?))
    }

    pub fn timer_sleep(&self) -> Result<u64, Error> {
        Ok(self.root::<s::timer::sleep_params::Owned>()?.get_ns())
    }

    /// (binary, args, [(slot, rights)])
    pub fn spawn(&self) -> Result<SpawnParams, Error> {
        let r = self.root::<s::process_spawner::spawn_params::Owned>()?;
        let binary = String::from(r.get_binary().map_err(bad)?.to_str().map_err(bad)?);
        let args = if r.has_args() {
            String::from(r.get_args().map_err(bad)?.to_str().map_err(bad)?)
        } else {
            String::new()
        };
        let grants = if r.has_grants() {
            r.get_grants().map_err(bad)?.iter().map(|g| (g.get_slot(), g.get_rights())).collect()
        } else {
            Vec::new()
        };
        Ok((binary, args, grants))
    }

    /// (entry, arg, stack_top, tls)
    pub fn thread_spawn(&self) -> Result<(u64, u64, u64, u64), Error> {
        let r = self.root::<s::thread_spawner::spawn_params::Owned>()?;
        Ok((r.get_entry(), r.get_arg(), r.get_stack_top(), r.get_tls()))
    }

    /// (addr, expected, timeout_ns)
    pub fn park(&self) -> Result<(u64, u32, u64), Error> {
        let r = self.root::<s::park_space::park_params::Owned>()?;
        Ok((r.get_addr(), r.get_expected(), r.get_timeout_ns()))
    }

    /// (addr, count)
    pub fn unpark(&self) -> Result<(u64, u32), Error> {
        let r = self.root::<s::park_space::unpark_params::Owned>()?;
        Ok((r.get_addr(), r.get_count()))
    }

    pub fn endpoint_call(&self) -> Result<Vec<u8>, Error> {
        let r = self.root::<s::endpoint::call_params::Owned>()?;
        Ok(if r.has_data() { Vec::from(r.get_data().map_err(bad)?) } else { Vec::new() })
    }

    pub fn endpoint_reply(&self) -> Result<(u64, Vec<u8>), Error> {
        let r = self.root::<s::endpoint::reply_params::Owned>()?;
        let data = if r.has_data() { Vec::from(r.get_data().map_err(bad)?) } else { Vec::new() };
        Ok((r.get_call_id(), data))
    }

    pub fn measure_mark(&self) -> Result<String, Error> {
        let r = self.root::<s::measure::mark_params::Owned>()?;
        let phase = r.get_phase().map_err(bad)?.to_str().map_err(bad)?;
        if phase.is_empty()
            || phase.len() > 32
            || !phase.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::BadParams);
        }
        Ok(String::from(phase))
    }
}

fn finish(b: &Builder<HeapAllocator>) -> Vec<u8> {
    serialize::write_message_to_words(b)
}

pub fn timer_now(ns: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::timer::now_results::Builder>().set_ns(ns);
    finish(&b)
}

pub fn handle_slot(slot: u32) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::process_spawner::spawn_results::Builder>().set_handle_slot(slot);
    finish(&b)
}

pub fn wait_result(code: i64, killed: bool) -> Vec<u8> {
    let mut b = Builder::new_default();
    let mut r = b.init_root::<s::process_handle::wait_results::Builder>();
    r.set_exit_code(code);
    r.set_killed(killed);
    finish(&b)
}

pub fn join_result(code: i64) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::thread_handle::join_results::Builder>().set_exit_code(code);
    finish(&b)
}

pub fn park_result(woken: bool) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::park_space::park_results::Builder>().set_woken(woken);
    finish(&b)
}

pub fn unpark_result(woken: u32) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::park_space::unpark_results::Builder>().set_woken(woken);
    finish(&b)
}

pub fn call_result(reply: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::endpoint::call_results::Builder>().set_reply(reply);
    finish(&b)
}

pub fn receive_result(call_id: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    let mut r = b.init_root::<s::endpoint::receive_results::Builder>();
    r.set_call_id(call_id);
    r.set_data(data);
    finish(&b)
}

pub fn measure_mark(tsc: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::measure::mark_results::Builder>().set_tsc(tsc);
    finish(&b)
}

pub fn memory(heap_used: u64, heap_peak: u64, frames_used: u64, frames_peak: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    let mut r = b.init_root::<s::measure::memory_results::Builder>();
    r.set_heap_used(heap_used);
    r.set_heap_peak(heap_peak);
    r.set_frames_used(frames_used);
    r.set_frames_peak(frames_peak);
    finish(&b)
}
