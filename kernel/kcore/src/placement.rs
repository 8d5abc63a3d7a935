//! Where a thread that becomes runnable is queued.
//!
//! Inputs are a snapshot of each online CPU: whether it is idle (running its
//! idle thread) and how many threads wait in its run queue. The rule, in
//! order:
//! 1. the thread's previous CPU if it is idle with an empty queue (warm cache);
//! 2. another idle CPU with an empty queue, scanning from the CPU after the
//!    caller so concurrent wakers spread out;
//! 3. otherwise the CPU with the shortest queue, preferring the caller's own
//!    CPU, then the previous CPU, on ties.
//!
//! The caller claims an idle CPU atomically (so two wakers do not pick the
//! same one); if the claim fails it re-runs the choice.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuLoad {
    pub idle: bool,
    pub queued: usize,
}

/// Chooses the CPU for a runnable thread. `loads` is indexed by CPU; it must
/// not be empty. `caller` and `previous` are CPU indices (may be out of range).
pub fn choose(loads: &[CpuLoad], caller: usize, previous: Option<usize>) -> usize {
    let n = loads.len();
    let free = |i: usize| loads.get(i).is_some_and(|l| l.idle && l.queued == 0);
    if let Some(p) = previous.filter(|&p| free(p)) {
        return p;
    }
    if let Some(i) = (1..=n).map(|k| (caller + k) % n).find(|&i| free(i)) {
        return i;
    }
    let mut best = if caller < n { caller } else { 0 };
    let rank = |i: usize| {
        (loads[i].queued + usize::from(!loads[i].idle), i != caller, Some(i) != previous)
    };
    for i in 0..n {
        if rank(i) < rank(best) {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(idle: bool, queued: usize) -> CpuLoad {
        CpuLoad { idle, queued }
    }

    #[test]
    fn prefers_previous_idle_cpu() {
        let loads = [l(false, 0), l(true, 0), l(true, 0)];
        assert_eq!(choose(&loads, 0, Some(2)), 2);
    }

    #[test]
    fn spreads_to_idle_cpus_after_the_caller() {
        let loads = [l(false, 0), l(true, 0), l(true, 0), l(true, 0)];
        assert_eq!(choose(&loads, 0, None), 1);
        assert_eq!(choose(&loads, 1, None), 2);
        assert_eq!(choose(&loads, 3, None), 1);
        // An idle CPU that already has work queued is not "free".
        let loads = [l(false, 0), l(true, 1), l(true, 0)];
        assert_eq!(choose(&loads, 0, None), 2);
    }

    #[test]
    fn falls_back_to_shortest_queue_preferring_the_caller() {
        let loads = [l(false, 2), l(false, 1), l(false, 1)];
        assert_eq!(choose(&loads, 2, None), 2);
        assert_eq!(choose(&loads, 0, None), 1);
        assert_eq!(choose(&loads, 0, Some(2)), 2, "ties go to the previous CPU");
        let loads = [l(false, 0)];
        assert_eq!(choose(&loads, 0, Some(5)), 0);
        assert_eq!(choose(&loads, 9, None), 0);
    }
}
