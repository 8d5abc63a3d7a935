//! Time sources and CPU count.

/// The time-stamp counter (invariant TSC on the hosts and guests we use).
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no memory
    // effects; user-mode RDTSC is allowed unless CR4.TSD is set, which Linux
    // does not do by default.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall on the usual clocksources).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// CPUs this process may run on (its affinity mask: `taskset` narrows it).
pub fn online_cpus() -> u32 {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `set` is writable and its size is passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    }
    // SAFETY: `set` was filled in by sched_getaffinity above.
    unsafe { libc::CPU_COUNT(&set) as u32 }
}
