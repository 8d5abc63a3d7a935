//! Pipes and whole-buffer reads and writes on raw descriptors, for the
//! forked baselines (no allocation, so children may use them after fork).

/// An owned descriptor, closed on drop.
pub struct Fd(pub libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // SAFETY: the descriptor is owned by this wrapper and closed once.
            unsafe { libc::close(self.0) };
        }
    }
}

/// A pipe: (read end, write end).
pub fn pipe() -> Result<(Fd, Fd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// Reads exactly `buf.len()` bytes from `fd`; false on EOF or error.
pub fn read_full(fd: libc::c_int, buf: &mut [u8]) -> bool {
    let mut at = 0;
    while at < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[at..].as_mut_ptr().cast(), buf.len() - at) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return false;
        }
        at += n as usize;
    }
    true
}

/// Writes all of `buf` to `fd`; false on error.
pub fn write_full(fd: libc::c_int, buf: &[u8]) -> bool {
    let mut at = 0;
    while at < buf.len() {
        // SAFETY: the pointer and length describe the unwritten tail of `buf`.
        let n = unsafe { libc::write(fd, buf[at..].as_ptr().cast(), buf.len() - at) };
        if n <= 0 {
            return false;
        }
        at += n as usize;
    }
    true
}

/// Closes a descriptor the caller does not own through an [`Fd`] (a
/// child's inherited copy).
pub fn close(fd: libc::c_int) {
    // SAFETY: closing a descriptor number has no memory effects; the caller
    // no longer uses it.
    unsafe { libc::close(fd) };
}
