//! Starting the boot manifest's processes.
//!
//! The manifest is the boot module whose command line is `manifest`: a
//! `Manifest` Cap'n Proto message (schema/manifest.capnp). Each process gets
//! exactly the capabilities its spec lists, in order (slot i = caps[i]);
//! endpoints named alike are shared. The kernel then waits until every
//! manifest process has exited.

use super::{Process, EXIT_WATCHER};
use crate::cap::objects::endpoint::Endpoint;
use crate::cap::{CapTable, Object, Slot};
use crate::sched;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use capnp::message::ReaderOptions;
use capos_abi::rights::Rights;
use capos_schema::manifest_capnp::{manifest, CapKind};

#[derive(Debug)]
#[allow(dead_code)] // read through Debug in the boot report
pub enum ManifestError {
    Malformed(String),
    Spawn { process: String, error: super::SpawnError },
}

fn malformed<E: core::fmt::Debug>(e: E) -> ManifestError {
    ManifestError::Malformed(alloc::format!("{e:?}"))
}

/// Starts every process of the manifest; returns them.
pub fn start(bytes: &[u8]) -> Result<Vec<Arc<Process>>, ManifestError> {
    let opts = *ReaderOptions::new().traversal_limit_in_words(Some(1 << 20)).nesting_limit(16);
    let msg = capnp::serialize::read_message(&mut &bytes[..], opts).map_err(malformed)?;
    let m = msg.get_root::<manifest::Reader>().map_err(malformed)?;
    let mut endpoints: Vec<Arc<Endpoint>> = Vec::new();
    let mut started = Vec::new();
    for spec in m.get_processes().map_err(malformed)?.iter() {
        let name = String::from(spec.get_name().map_err(malformed)?.to_str().map_err(malformed)?);
        let binary = spec.get_binary().map_err(malformed)?.to_str().map_err(malformed)?;
        let args = if spec.has_args() {
            spec.get_args().map_err(malformed)?.to_str().map_err(malformed)?
        } else {
            ""
        };
        let mut table = CapTable::new();
        let mut serves = Vec::new();
        for c in spec.get_caps().map_err(malformed)?.iter() {
            let base = Rights::CALL.union(Rights::GRANT);
            let (object, rights) = match c.get_kind().map_err(malformed)? {
                CapKind::Console => (Object::Console, base),
                CapKind::Timer => (Object::Timer, base),
                CapKind::ProcessSpawner => (Object::ProcessSpawner, base),
                CapKind::ThreadSpawner => (Object::ThreadSpawner, base),
                CapKind::ParkSpace => (Object::ParkSpace, base),
                CapKind::Measure => (Object::Measure, base),
                CapKind::Endpoint => {
                    let ep_name =
                        c.get_endpoint().map_err(malformed)?.to_str().map_err(malformed)?;
                    let ep = match endpoints.iter().find(|e| e.name == ep_name) {
                        Some(e) => e.clone(),
                        None => {
                            let e = Endpoint::new(ep_name);
                            endpoints.push(e.clone());
                            e
                        }
                    };
                    let rights = if c.get_receive() {
                        serves.push(ep.clone());
                        base.union(Rights::RECEIVE)
                    } else {
                        base
                    };
                    (Object::Endpoint(ep), rights)
                }
            };
            table.push(Slot { object, rights }).map_err(malformed)?;
        }
        let p = Process::spawn(binary, args, table)
            .map_err(|error| ManifestError::Spawn { process: name.clone(), error })?;
        for e in serves {
            e.add_server(p.pid);
        }
        crate::switch_log!("kernel: started process {} ({}) from {}", p.pid, name, binary);
        started.push(p);
    }
    Ok(started)
}

/// Blocks until every process in `procs` has exited; returns whether all
/// exited with code 0 and none was killed.
pub fn wait_all(procs: &[Arc<Process>]) -> bool {
    *EXIT_WATCHER.lock() = Some(sched::current());
    while procs.iter().any(|p| p.status().is_none()) {
        #[cfg(feature = "measure")]
        crate::measure::block_reason(&sched::current(), crate::measure::BlockReason::ExitWait);
        sched::block_current();
    }
    *EXIT_WATCHER.lock() = None;
    procs.iter().all(|p| p.status().is_some_and(|s| s.code == 0 && !s.killed))
}
