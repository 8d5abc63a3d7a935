//! Process-scale on Linux: one forked worker process per range, results back
//! through one pipe per worker.
//!
//! Each child announces itself with one byte, blocks reading the shared
//! "go" pipe, and starts computing when the parent closes its write end (an
//! EOF every child sees at once). `elapsed` runs from the parent's stamp just
//! before that close to the last child's end stamp; the children make no
//! system call in between.

use capos_workloads::line::ProcessScaleLine;
use capos_workloads::process_scale::{self as ps, PrimeResult};

use crate::clock::{mono_ns, rdtsc};
use crate::fdio::{pipe, read_full, write_full};

/// What a child writes back: primes, checksum, end cycles, end ns.
const REPORT_WORDS: usize = 4;

/// The child's whole life after fork: no allocation, no unwinding.
fn child(go: libc::c_int, report: libc::c_int, range: core::ops::Range<u32>) -> ! {
    let mut byte = [0u8; 1];
    let ok = write_full(report, b"r");
    // SAFETY: `byte` is a writable one-byte buffer; EOF (0) is the start signal.
    let n = unsafe { libc::read(go, byte.as_mut_ptr().cast(), 1) };
    let code = if ok && n == 0 {
        let r = ps::count_primes(range);
        let end = rdtsc();
        let words: [u64; REPORT_WORDS] = [r.primes, r.checksum, end, mono_ns()];
        let mut bytes = [0u8; REPORT_WORDS * 8];
        for (i, w) in words.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        if write_full(report, &bytes) {
            0
        } else {
            3
        }
    } else {
        2
    };
    // SAFETY: _exit ends the child without running the parent's atexit
    // handlers or destructors, which the child must not run twice.
    unsafe { libc::_exit(code) }
}

/// Kills and reaps the children still listed.
pub(crate) struct Children(pub(crate) Vec<libc::pid_t>);

impl Children {
    /// Waits for every child; error unless all exited with status 0.
    pub(crate) fn wait_all(&mut self) -> Result<(), String> {
        let mut bad = Vec::new();
        for (i, pid) in self.0.drain(..).enumerate() {
            let mut status = 0;
            // SAFETY: `pid` is our own unreaped child; `status` is writable.
            let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
            if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                bad.push(format!("worker {i} (pid {pid}) status {status:#x}"));
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("workers failed: {}", bad.join(", ")))
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: `pid` is our own unreaped child, so it cannot be reused.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

pub fn run(cpus: u32, workers: u32, lo: u32, hi: u32) -> Result<ProcessScaleLine, String> {
    let (go_r, go_w) = pipe()?;
    let mut reports = Vec::new();
    let mut children = Children(Vec::new());
    for i in 0..workers {
        let (r, w) = pipe()?;
        let range = ps::worker_range(lo, hi, workers, i);
        // SAFETY: the child only runs `child`: read, write, clock_gettime and
        // _exit, all async-signal-safe, and no allocation or locks, so it is
        // sound even when other threads existed at the fork (as in tests).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork of worker {i}: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: closing the inherited go write end so the parent's close
            // is the one EOF that releases every child.
            unsafe { libc::close(go_w.0) };
            child(go_r.0, w.0, range);
        }
        children.0.push(pid);
        drop(w);
        reports.push(r);
    }
    for (i, r) in reports.iter().enumerate() {
        if !read_full(r.0, &mut [0u8; 1]) {
            return Err(format!("worker {i} never became ready"));
        }
    }
    let go = rdtsc();
    let go_ns = mono_ns();
    drop(go_w);
    let (mut end, mut end_ns, mut parts) = (go, go_ns, Vec::new());
    for (i, r) in reports.iter().enumerate() {
        let mut bytes = [0u8; REPORT_WORDS * 8];
        if !read_full(r.0, &mut bytes) {
            return Err(format!("worker {i} sent no result"));
        }
        let w = |k: usize| u64::from_ne_bytes(bytes[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
        parts.push(PrimeResult { primes: w(0), checksum: w(1) });
        end = end.max(w(2));
        end_ns = end_ns.max(w(3));
    }
    children.wait_all()?;
    let total = ps::combine(&parts);
    let verified = total == ps::reference(lo, hi);
    Ok(ProcessScaleLine {
        cpus,
        workers,
        lo: u64::from(lo),
        hi: u64::from(hi),
        primes: total.primes,
        checksum: total.checksum,
        elapsed: end.saturating_sub(go),
        verified,
        elapsed_ns: Some(end_ns.saturating_sub(go_ns)),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_run_verifies() {
        let _one_at_a_time = crate::fork_test_lock();
        let l = super::run(2, 3, 0, 20_000).unwrap();
        assert!(l.verified, "{l}");
        assert_eq!(l.primes, 2262);
    }
}
