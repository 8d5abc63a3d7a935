//! The coordinator side shared by `smp-process-scale` and `ipc-scale`: a
//! `ProcessHandle.wait` in flight for every spawned process, one
//! `Endpoint.receive` on the coordinator's results endpoint, and replies to
//! the held calls.
//!
//! A process that exits non-zero (or is killed) before every result is in
//! ends the run at once with an error instead of a hang.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use capnp::message::{Builder, ReaderOptions};
use capnp::serialize;
use capos_abi::ring::Cqe;
use capos_rt::clients::ProcessHandle;
use capos_rt::{ring, syscall};
use capos_schema::capos_capnp as s;
use capos_schema::methods as m;

use crate::report::Msg;

/// A call received on the results endpoint.
pub struct Call {
    pub id: u64,
    pub msg: Msg,
}

/// Asynchronous requests in flight on this thread's ring.
pub struct Pending {
    /// Slot of the results endpoint (receive).
    endpoint: u32,
    /// Name of each watched process in errors (`worker 3`).
    names: Vec<String>,
    /// user_data of each process's `ProcessHandle.wait`, and its result buffer.
    waits: Vec<(u64, Vec<u8>)>,
    /// Exit (code, killed) of each watched process once known.
    pub exits: Vec<Option<(i64, bool)>>,
    /// The outstanding `Endpoint.receive`, if any.
    receive: Option<(u64, Vec<u8>)>,
}

impl Pending {
    pub fn new(endpoint: u32) -> Pending {
        Pending { endpoint, names: Vec::new(), waits: Vec::new(), exits: Vec::new(), receive: None }
    }

    /// Starts watching `h` (named `name` in errors).
    pub fn watch(&mut self, h: ProcessHandle, name: String) {
        let ud = ring::next_user_data();
        let mut buf = vec![0u8; 64];
        ring::submit(ring::call_sqe(h.0, m::PROCESS_WAIT, &[], &mut buf, ud));
        self.waits.push((ud, buf));
        self.names.push(name);
        self.exits.push(None);
    }

    fn submit_receive(&mut self) {
        let ud = ring::next_user_data();
        let mut buf = vec![0u8; 1024];
        ring::submit(ring::call_sqe(self.endpoint, m::ENDPOINT_RECEIVE, &[], &mut buf, ud));
        self.receive = Some((ud, buf));
    }

    /// Waits for the next call on the results endpoint. Exits seen first are
    /// recorded; a bad one while `all_in` is false is an error.
    pub fn next_call(&mut self, all_in: bool) -> Result<Call, String> {
        if self.receive.is_none() {
            self.submit_receive();
        }
        loop {
            let mut call = None;
            for c in ring::drain() {
                if let Some(e) = self.on_cqe(c, all_in)? {
                    call = Some(e);
                }
            }
            if let Some(e) = call {
                return Ok(e);
            }
            syscall::cap_enter(1, ring::FOREVER);
        }
    }

    /// Waits until every watched process has exited.
    pub fn wait_exits(&mut self) -> Result<(), String> {
        while self.exits.iter().any(Option::is_none) {
            for c in ring::drain() {
                self.on_cqe(c, true)?;
            }
            if self.exits.iter().any(Option::is_none) {
                syscall::cap_enter(1, ring::FOREVER);
            }
        }
        Ok(())
    }

    /// The names and exits of processes that did not exit 0.
    pub fn bad_exits(&self) -> Vec<String> {
        self.exits
            .iter()
            .zip(&self.names)
            .filter(|(e, _)| **e != Some((0, false)))
            .map(|(e, n)| format!("{n} exit {e:?}"))
            .collect()
    }

    fn on_cqe(&mut self, c: Cqe, all_in: bool) -> Result<Option<Call>, String> {
        if let Some(i) = self.waits.iter().position(|(ud, _)| *ud == c.user_data) {
            let (_, buf) = &self.waits[i];
            let exit = if c.result < 0 {
                Err(c.result)
            } else {
                wait_result(&buf[..c.result_bytes as usize])
            };
            let name = &self.names[i];
            let exit = exit.map_err(|e| format!("wait for {name} failed ({e})"))?;
            self.exits[i] = Some(exit);
            if !all_in && exit != (0, false) {
                return Err(format!(
                    "{name} ended (exit code {}, killed={}) before all results were in",
                    exit.0, exit.1
                ));
            }
            return Ok(None);
        }
        match &self.receive {
            Some((ud, buf)) if *ud == c.user_data => {
                if c.result < 0 {
                    return Err(format!("Endpoint.receive failed ({})", c.result));
                }
                let (id, data) = receive_result(&buf[..c.result_bytes as usize])?;
                self.receive = None;
                let msg = Msg::decode(&data)
                    .ok_or_else(|| format!("malformed message of {} bytes", data.len()))?;
                Ok(Some(Call { id, msg }))
            }
            // A stray completion (another client call's) is not ours to judge.
            _ => Ok(None),
        }
    }
}

fn wait_result(bytes: &[u8]) -> Result<(i64, bool), i64> {
    let msg = serialize::read_message(&mut &bytes[..], ReaderOptions::new()).map_err(|_| -1)?;
    let r = msg.get_root::<s::process_handle::wait_results::Reader>().map_err(|_| -1)?;
    Ok((r.get_exit_code(), r.get_killed()))
}

fn receive_result(bytes: &[u8]) -> Result<(u64, Vec<u8>), String> {
    let bad = |_| String::from("malformed Endpoint.receive result");
    let msg = serialize::read_message(&mut &bytes[..], ReaderOptions::new()).map_err(bad)?;
    let r = msg.get_root::<s::endpoint::receive_results::Reader>().map_err(bad)?;
    Ok((r.get_call_id(), Vec::from(r.get_data().map_err(bad)?)))
}

/// `Endpoint.reply`'s parameter message.
pub fn reply_params(call_id: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new_default();
    {
        let mut r = b.init_root::<s::endpoint::reply_params::Builder>();
        r.set_call_id(call_id);
        r.set_data(data);
    }
    serialize::write_message_to_words(&b)
}

/// Answers every held call on `endpoint` in one kernel entry.
pub fn reply_all(endpoint: u32, ids: &[u64]) -> Result<(), String> {
    let params: Vec<Vec<u8>> = ids.iter().map(|&id| reply_params(id, b"go")).collect();
    let mut uds = Vec::with_capacity(ids.len());
    for p in &params {
        let ud = ring::next_user_data();
        ring::submit(ring::call_sqe(endpoint, m::ENDPOINT_REPLY, p, &mut [], ud));
        uds.push(ud);
    }
    for ud in uds {
        let c = ring::wait_for(ud);
        if c.result < 0 {
            return Err(format!("Endpoint.reply failed ({})", c.result));
        }
    }
    Ok(())
}
