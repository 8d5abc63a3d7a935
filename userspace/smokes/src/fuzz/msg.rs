//! Well-formed parameter messages of every method, with fuzzed field
//! values, built with the generated schema code (so the layout is exactly
//! what the kernel expects and only the values are hostile).

use alloc::vec::Vec;
use capnp::message::{Builder, HeapAllocator, ReaderOptions};
use capnp::serialize;
use capos_schema::capos_capnp as s;

fn words(b: &Builder<HeapAllocator>) -> Vec<u8> {
    serialize::write_message_to_words(b)
}

/// One Text field: the shape of `Console.write` and `Measure.mark`.
pub fn text(t: &str) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::console::write_params::Builder>().set_text(t);
    words(&b)
}

pub fn timer_sleep(ns: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::timer::sleep_params::Builder>().set_ns(ns);
    words(&b)
}

/// `ProcessSpawner.spawn` with raw bytes for the names (not necessarily UTF-8).
pub fn spawn(binary: &[u8], args: &[u8], grants: &[(u32, u32)]) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::process_spawner::spawn_params::Builder>();
        r.reborrow().init_binary(binary.len() as u32).as_bytes_mut().copy_from_slice(binary);
        r.reborrow().init_args(args.len() as u32).as_bytes_mut().copy_from_slice(args);
        let mut g = r.init_grants(grants.len() as u32);
        for (i, &(slot, rights)) in grants.iter().enumerate() {
            let mut e = g.reborrow().get(i as u32);
            e.set_slot(slot);
            e.set_rights(rights);
        }
    }
    words(&b)
}

pub fn thread_spawn(entry: u64, arg: u64, stack_top: u64, tls: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::thread_spawner::spawn_params::Builder>();
        r.set_entry(entry);
        r.set_arg(arg);
        r.set_stack_top(stack_top);
        r.set_tls(tls);
    }
    words(&b)
}

pub fn park(addr: u64, expected: u32, timeout_ns: u64) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::park_space::park_params::Builder>();
        r.set_addr(addr);
        r.set_expected(expected);
        r.set_timeout_ns(timeout_ns);
    }
    words(&b)
}

pub fn unpark(addr: u64, count: u32) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::park_space::unpark_params::Builder>();
        r.set_addr(addr);
        r.set_count(count);
    }
    words(&b)
}

pub fn ep_call(data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    b.init_root::<s::endpoint::call_params::Builder>().set_data(data);
    words(&b)
}

pub fn ep_reply(call_id: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::endpoint::reply_params::Builder>();
        r.set_call_id(call_id);
        r.set_data(data);
    }
    words(&b)
}

/// The call id in an `Endpoint.receive` result, if the bytes still hold one.
pub fn receive_call_id(bytes: &[u8]) -> Option<u64> {
    let msg = serialize::read_message(&mut &bytes[..], ReaderOptions::new()).ok()?;
    let r = msg.get_root::<s::endpoint::receive_results::Reader>().ok()?;
    Some(r.get_call_id())
}
