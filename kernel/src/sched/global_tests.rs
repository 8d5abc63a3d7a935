//! Tests of the global run queue's logic (`global_queue.rs`); the second
//! one checks the policy in force, so the suite run under `sched=global`
//! exercises the global queue end to end.

use super::cpu::CPUS;
use super::global_queue::pop_runnable_here;
use super::run_queue::RunQueue;
use super::thread::{Kind, NewThread, State, Thread};
use super::*;
use crate::arch::x86_64::{cpu, percpu, tsc};
use crate::{kassert, kassert_eq, kprintln, ktest};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A thread that is never started (no stack, no entry): queue fodder.
fn bare(name: &str, affinity: Option<u32>) -> Arc<Thread> {
    Thread::new(NewThread {
        name: alloc::string::String::from(name),
        kind: Kind::Kernel,
        affinity,
        address_space: None,
        process: None,
        ring: None,
        stack: None,
        entry: None,
        initial_state: State::Ready,
    })
}

ktest!(
    fn global_queue_gives_each_cpu_the_first_thread_it_may_run() -> KResult {
        let (p1, free, p0, tail) =
            (bare("p1", Some(1)), bare("free", None), bare("p0", Some(0)), bare("tail", Some(1)));
        let mut rq = RunQueue::new();
        for t in [&p1, &free, &p0, &tail] {
            rq.push_back(t.clone());
        }
        let name = |t: Option<Arc<Thread>>| t.map(|t| t.name.clone());
        // CPU 2 skips both threads pinned to CPU 1 and the one pinned to 0.
        kassert_eq!(name(pop_runnable_here(&mut rq, 2)).as_deref(), Some("free"));
        kassert_eq!(name(pop_runnable_here(&mut rq, 2)), None);
        kassert_eq!(rq.len(), 3);
        // Removing from the middle keeps the order and the tail.
        kassert_eq!(name(pop_runnable_here(&mut rq, 0)).as_deref(), Some("p0"));
        kassert_eq!(name(pop_runnable_here(&mut rq, 1)).as_deref(), Some("p1"));
        rq.push_back(free.clone());
        kassert_eq!(name(pop_runnable_here(&mut rq, 1)).as_deref(), Some("tail"));
        kassert_eq!(name(pop_runnable_here(&mut rq, 1)).as_deref(), Some("free"));
        kassert_eq!((rq.len(), name(rq.pop_front())), (0, None));
        // The queue gave back every reference it held.
        for t in [&p1, &free, &p0, &tail] {
            kassert_eq!(Arc::strong_count(t), 1);
        }
        Ok(())
    }
);

ktest!(
    fn work_spreads_over_the_cpus_under_the_policy_in_force() -> KResult {
        let n = percpu::online_count() as usize;
        let global = policy() == Policy::Global;
        let on_cpu: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let mut refs = Vec::new();
        let mut side_queued = 0;
        for _ in 0..4 * n {
            let c = on_cpu.clone();
            let r = Spawn::named("spread")
                .start(move || {
                    let end = cpu::rdtsc() + tsc::hz() / 1000 * 5;
                    while cpu::rdtsc() < end {
                        core::hint::spin_loop();
                    }
                    c[percpu::cpu_index() as usize].fetch_add(1, Ordering::Relaxed);
                    0
                })
                .map_err(|e| alloc::format!("{e:?}"))?;
            refs.push(r);
            side_queued += (1..n).map(|i| CPUS[i].queue_len.load(Ordering::Acquire)).sum::<usize>();
        }
        for r in refs {
            kassert_eq!(join(r), Ok(0));
        }
        let counts: Vec<usize> = on_cpu.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        kprintln!("sched: policy={} spread {:?}", policy().name(), counts);
        kassert_eq!(counts.iter().sum::<usize>(), 4 * n);
        if global {
            // Only CPU 0's queue is ever used.
            kassert_eq!(side_queued, 0);
        }
        if n > 1 {
            let used = counts.iter().filter(|&&c| c > 0).count();
            kassert!(used >= 2, "{} threads ran on one CPU only: {:?}", 4 * n, counts);
        }
        Ok(())
    }
);
