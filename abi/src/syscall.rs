//! System call numbers and register convention.
//!
//! `syscall` with RAX = number, arguments in RDI, RSI, RDX, R10, R8, R9;
//! the result comes back in RAX: `>= 0` success, negative = `-Error`.
//! Everything a capability does goes through the thread's ring and
//! `CAP_ENTER`; the other calls manage the calling thread itself.

/// `cap_enter(min_complete, timeout_ns)`: submit the thread's pending SQEs,
/// then wait until at least `min_complete` CQEs are available or the
/// timeout (ns; `u64::MAX` = none) passes. Returns the number of CQEs ready.
pub const CAP_ENTER: u64 = 0;
/// `exit_thread(code)`: ends the calling thread (the process ends with its last thread).
pub const EXIT_THREAD: u64 = 1;
/// `exit_process(code)`: ends every thread of the calling process.
pub const EXIT_PROCESS: u64 = 2;
/// `set_fs_base(addr)`: the calling thread's TLS pointer.
pub const SET_FS_BASE: u64 = 3;
/// `ring_info() -> user address of the calling thread's ring page`.
pub const RING_INFO: u64 = 4;
/// `yield()`.
pub const YIELD: u64 = 5;
/// `grow_heap(bytes) -> old end`: extends the process's heap region (which
/// starts at `layout::USER_HEAP_BASE`) by `bytes` of zeroed read/write
/// memory, rounded up to pages. Fails with `OutOfResources` past the quota.
pub const GROW_HEAP: u64 = 6;
/// `thread_stat(which) -> count`: the calling thread's own operation
/// counts since it started (`which`: [`thread_stat::SYSCALLS`] or
/// [`thread_stat::RING_SQES`]). This call is the one system call that does
/// not count itself, so two reads around a section give that section's
/// counts exactly.
pub const THREAD_STAT: u64 = 7;

/// `set_thread_name(ptr, len)`: names the calling thread for measurement
/// views (flamegraphs, timeline, who-ran-where). The name is `len` bytes of
/// UTF-8 at `ptr`, 1 to [`THREAD_NAME_MAX`] bytes, with no control
/// characters, whitespace, `=` or `,` (so it prints as one token); a later
/// call replaces it. `BadParams` for a bad name, `BadAddress` for a bad
/// pointer. The measure kernel reports the last name each thread set; the
/// normal kernel checks the name and keeps nothing.
pub const SET_THREAD_NAME: u64 = 8;

/// Highest syscall number + 1.
pub const COUNT: u64 = 9;

/// Longest thread name, in bytes.
pub const THREAD_NAME_MAX: usize = 32;

/// Whether `name` is a valid thread name (see [`SET_THREAD_NAME`]).
pub fn valid_thread_name(name: &[u8]) -> bool {
    let Ok(text) = core::str::from_utf8(name) else { return false };
    (1..=THREAD_NAME_MAX).contains(&name.len())
        && text.chars().all(|c| !c.is_control() && !c.is_whitespace() && c != '=' && c != ',')
}

/// What `THREAD_STAT` reads.
pub mod thread_stat {
    /// System calls made (every number but `THREAD_STAT`).
    pub const SYSCALLS: u64 = 0;
    /// Ring submission entries the kernel consumed for the thread.
    pub const RING_SQES: u64 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_are_one_printable_token() {
        assert!(valid_thread_name(b"worker-1"));
        assert!(valid_thread_name("n\u{e4}me".as_bytes()));
        assert!(valid_thread_name(&[b'x'; THREAD_NAME_MAX]));
        let bad: [&[u8]; 8] =
            [b"", b"two words", b"a=b", b"a,b", b"tab\t", b"nl\n", &[0xff, 0xfe], &[b'x'; 33]];
        for name in bad {
            assert!(!valid_thread_name(name), "{name:?}");
        }
    }
}
