//! ipc-scale on Linux: one forked client and one forked server process per
//! pair, ping-ponging 8-byte requests and replies over two pipes.
//!
//! This is the Linux counterpart of capOS's endpoint CALL/RECEIVE/REPLY: a
//! blocking write and a blocking read per message, and a sleep and a wakeup
//! on each side of every round trip. Each client announces itself with one
//! byte, blocks reading the shared "go" pipe and starts its calls when the
//! parent closes the write end. `work` runs from the parent's stamp just
//! before that close to the last client's end stamp; `spawn_ready` from the
//! first fork until every client is ready; `shutdown` from the last end
//! stamp until every child is reaped.

use capos_workloads::ipc_scale::{self as ipc, MESSAGE_BYTES};
use capos_workloads::line::IpcScaleLine;

use crate::clock::{mono_ns, rdtsc};
use crate::fdio::{close, pipe, read_full, write_full, Fd};
use crate::process_scale::Children;

/// What a client writes back: checksum, end cycles, end ns.
const REPORT_WORDS: usize = 3;

/// The server's whole life after fork: answer `calls` requests, exit.
fn server(req: libc::c_int, rep: libc::c_int, calls: u32) -> ! {
    let mut code = 0;
    for _ in 0..calls {
        let mut buf = [0u8; MESSAGE_BYTES];
        if !read_full(req, &mut buf) {
            code = 2;
            break;
        }
        if !write_full(rep, &ipc::reply(u64::from_le_bytes(buf)).to_le_bytes()) {
            code = 3;
            break;
        }
    }
    // SAFETY: _exit ends the child without running the parent's atexit
    // handlers or destructors, which the child must not run twice.
    unsafe { libc::_exit(code) }
}

/// The descriptors one client uses.
struct ClientFds {
    go: libc::c_int,
    report: libc::c_int,
    req: libc::c_int,
    rep: libc::c_int,
}

/// The client's whole life after fork: ready, wait for go, call, report.
fn client(fds: ClientFds, pair: u32, calls: u32) -> ! {
    let mut byte = [0u8; 1];
    let ok = write_full(fds.report, b"r");
    // SAFETY: `byte` is a writable one-byte buffer; EOF (0) is the start signal.
    let n = unsafe { libc::read(fds.go, byte.as_mut_ptr().cast(), 1) };
    let mut code = if ok && n == 0 { 0 } else { 2 };
    let mut checksum = ipc::CHECKSUM_START;
    for i in 0..calls {
        if code != 0 {
            break;
        }
        let mut buf = [0u8; MESSAGE_BYTES];
        if !write_full(fds.req, &ipc::request(pair, i).to_le_bytes())
            || !read_full(fds.rep, &mut buf)
        {
            code = 3;
        }
        checksum = ipc::fold(checksum, u64::from_le_bytes(buf));
    }
    if code == 0 {
        let words: [u64; REPORT_WORDS] = [checksum, rdtsc(), mono_ns()];
        let mut bytes = [0u8; REPORT_WORDS * 8];
        for (i, w) in words.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        if !write_full(fds.report, &bytes) {
            code = 4;
        }
    }
    // SAFETY: as in `server`.
    unsafe { libc::_exit(code) }
}

/// Forks one child that runs `body` (which ends in `_exit`) after closing
/// `close_in_child`.
fn fork_child(
    children: &mut Children,
    what: &str,
    close_in_child: &[libc::c_int],
    body: impl FnOnce(),
) -> Result<(), String> {
    // SAFETY: the child only closes descriptors and runs `server` or
    // `client`: read, write, clock_gettime and _exit, all
    // async-signal-safe, and no allocation or locks, so it is sound even
    // when other threads existed at the fork (as in tests).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork of {what}: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        for &fd in close_in_child {
            close(fd);
        }
        body();
        // SAFETY: not reached (`server` and `client` end in _exit); ends the
        // child without running the parent's destructors if it were.
        unsafe { libc::_exit(5) }
    }
    children.0.push(pid);
    Ok(())
}

pub fn run(cpus: u32, pairs: u32, calls: u32) -> Result<IpcScaleLine, String> {
    let first = rdtsc();
    let (go_r, go_w) = pipe()?;
    let mut reports: Vec<Fd> = Vec::new();
    let mut children = Children(Vec::new());
    for p in 0..pairs {
        let (req_r, req_w) = pipe()?;
        let (rep_r, rep_w) = pipe()?;
        let (report_r, report_w) = pipe()?;
        let client_side = [req_w.0, rep_r.0, report_w.0];
        let server_side = [req_r.0, rep_w.0];
        let srv = [&[go_w.0, go_r.0][..], &client_side[..]].concat();
        fork_child(&mut children, &format!("server {p}"), &srv, || {
            server(req_r.0, rep_w.0, calls)
        })?;
        let cli = [&[go_w.0][..], &server_side[..]].concat();
        let fds = ClientFds { go: go_r.0, report: report_w.0, req: req_w.0, rep: rep_r.0 };
        fork_child(&mut children, &format!("client {p}"), &cli, || client(fds, p, calls))?;
        reports.push(report_r);
    }
    for (i, r) in reports.iter().enumerate() {
        if !read_full(r.0, &mut [0u8; 1]) {
            return Err(format!("client {i} never became ready"));
        }
    }
    let go = rdtsc();
    let go_ns = mono_ns();
    drop(go_w);
    let (mut end, mut end_ns, mut sums) = (go, go_ns, Vec::new());
    for (i, r) in reports.iter().enumerate() {
        let mut bytes = [0u8; REPORT_WORDS * 8];
        if !read_full(r.0, &mut bytes) {
            return Err(format!("client {i} sent no result"));
        }
        let w = |k: usize| u64::from_ne_bytes(bytes[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
        sums.push(w(0));
        end = end.max(w(1));
        end_ns = end_ns.max(w(2));
    }
    children.wait_all()?;
    let exit = rdtsc();
    let checksum = ipc::combine(&sums);
    Ok(IpcScaleLine {
        cpus,
        pairs,
        calls,
        checksum,
        spawn_ready: go.saturating_sub(first),
        work: end.saturating_sub(go),
        shutdown: exit.saturating_sub(end),
        verified: checksum == ipc::reference(pairs, calls),
        work_ns: Some(end_ns.saturating_sub(go_ns)),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_run_verifies() {
        let _one_at_a_time = crate::fork_test_lock();
        let l = super::run(2, 3, 200).unwrap();
        assert!(l.verified, "{l}");
        assert_eq!((l.pairs, l.calls, l.total_calls()), (3, 200, 600));
        assert!(l.work > 0 && l.work_ns.is_some_and(|ns| ns > 0), "{l}");
    }
}
