//! Scheduler, timer, IPI and TLB tests (run at SMP=1, 2 and 4).

use super::*;
use crate::arch::x86_64::{cpu, interrupts, ipi, percpu, tlb, tsc};
use crate::mm::address_space::AddressSpace;
use crate::{kassert, kassert_eq, kprintln, ktest};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

fn cpus() -> usize {
    percpu::online_count() as usize
}

fn spin_ms(ms: u64) {
    let end = cpu::rdtsc() + tsc::hz() / 1000 * ms;
    while cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// Spins (yielding) until `cond` holds or `ms` pass; returns whether it held.
fn wait_for(ms: u64, cond: impl Fn() -> bool) -> bool {
    let end = cpu::rdtsc() + tsc::hz() / 1000 * ms;
    while cpu::rdtsc() < end {
        if cond() {
            return true;
        }
        yield_now();
    }
    cond()
}

ktest!(
    fn ticks_arrive_on_every_cpu() -> KResult {
        let n = cpus();
        let before: Vec<u64> = (0..n).map(|i| cpu_stats(i).ticks.load(Ordering::Relaxed)).collect();
        spin_ms(150);
        for (i, b) in before.iter().enumerate() {
            let now = cpu_stats(i).ticks.load(Ordering::Relaxed);
            kassert!(now >= b + 3, "cpu {} got {} ticks in 150 ms", i, now - b);
        }
        kassert!(interrupts::GLOBAL_TICKS.load(Ordering::Relaxed) > 0);
        Ok(())
    }
);

ktest!(
    fn ipis_are_delivered_to_every_other_cpu() -> KResult {
        for target in 1..cpus() {
            let counter = &cpu_stats(target).test_ipis_received;
            let before = counter.load(Ordering::Acquire);
            kassert!(ipi::send(target, interrupts::TEST_IPI), "IPI to cpu {} not accepted", target);
            kassert!(
                wait_for(1000, || counter.load(Ordering::Acquire) > before),
                "cpu {} never saw its IPI",
                target
            );
        }
        kassert!(
            !ipi::send(percpu::MAX_CPUS + 1, interrupts::TEST_IPI),
            "IPI to a missing CPU accepted"
        );
        Ok(())
    }
);

ktest!(
    fn stale_thread_refs_are_rejected() -> KResult {
        let a = Spawn::named("stale-a").start(|| 7).map_err(|e| alloc::format!("{e:?}"))?;
        kassert_eq!(join(a), Ok(7));
        kassert_eq!(join(a), Err(JoinError::Stale));
        let b = Spawn::named("stale-b").start(|| 8).map_err(|e| alloc::format!("{e:?}"))?;
        // Even if `b` reuses `a`'s slot, `a` stays stale.
        kassert_eq!(join(a), Err(JoinError::Stale));
        kassert!(lookup(a).is_none());
        kassert_eq!(join(b), Ok(8));
        kassert_eq!(join(current().tref()), Err(JoinError::SelfJoin));
        kassert_eq!(join(ThreadRef { index: 4000, generation: 1 }), Err(JoinError::Stale));
        Ok(())
    }
);

ktest!(
    fn cpu_bound_threads_run_on_distinct_cpus_at_the_same_time() -> KResult {
        let n = cpus();
        const RUN_MS: u64 = 100;
        let spans: Arc<Vec<(AtomicU64, AtomicU64, AtomicUsize)>> = Arc::new(
            (0..n)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0), AtomicUsize::new(usize::MAX)))
                .collect(),
        );
        let mut refs = Vec::new();
        for i in 0..n {
            let s = spans.clone();
            let r = Spawn::named("spinner")
                .start(move || {
                    let cpu_at_start = percpu::cpu_index() as usize;
                    s[i].0.store(cpu::rdtsc(), Ordering::Relaxed);
                    spin_ms(RUN_MS);
                    s[i].1.store(cpu::rdtsc(), Ordering::Relaxed);
                    s[i].2.store(cpu_at_start, Ordering::Relaxed);
                    (percpu::cpu_index() as usize == cpu_at_start) as i64
                })
                .map_err(|e| alloc::format!("{e:?}"))?;
            refs.push(r);
        }
        for r in refs {
            kassert_eq!(join(r), Ok(1)); // never migrated while spinning
        }
        let mut used: Vec<usize> = spans.iter().map(|s| s.2.load(Ordering::Relaxed)).collect();
        used.sort_unstable();
        used.dedup();
        kassert_eq!(used.len(), n);
        let start = spans.iter().map(|s| s.0.load(Ordering::Relaxed)).max().unwrap_or(0);
        let end = spans.iter().map(|s| s.1.load(Ordering::Relaxed)).min().unwrap_or(0);
        let overlap_us = tsc::ticks_to_us(end.saturating_sub(start));
        kprintln!(
        "sched: {} cpu-bound threads on cpus {:?}, each busy {} ms; all busy at the same time for {} us ({}%)",
        n,
        used,
        RUN_MS,
        overlap_us,
        overlap_us / (RUN_MS * 10)
    );
        kassert!(overlap_us >= RUN_MS * 1000 / 2, "threads overlapped only {} us", overlap_us);
        Ok(())
    }
);

ktest!(
    fn short_lived_threads_leak_nothing() -> KResult {
        let mut snapshot = None;
        // Round 0 warms up: the thread slab grows to 16 live slots once.
        for round in 0..21 {
            if round == 1 {
                snapshot =
                    Some((crate::mm::frame::stats(), crate::mm::heap::used(), thread_count()));
            }
            let refs: Vec<ThreadRef> = (0..16)
                .map(|i| Spawn::named("short").start(move || round * 100 + i))
                .collect::<Result<_, _>>()
                .map_err(|e| alloc::format!("{e:?}"))?;
            for (i, r) in refs.into_iter().enumerate() {
                kassert_eq!(join(r), Ok(round * 100 + i as i64));
            }
        }
        let (frames, heap, threads) = snapshot.ok_or("no snapshot")?;
        kassert_eq!(thread_count(), threads);
        kassert_eq!(crate::mm::frame::stats().free, frames.free);
        // The CPU that ran a thread's last switch drops its reference just after
        // waking the joiner, so the heap may settle a moment after `join`; it
        // may also end below the snapshot (earlier tests' threads settling),
        // but 320 threads must not leave it any higher.
        wait_for(1000, || crate::mm::heap::used() <= heap);
        let now = crate::mm::heap::used();
        kassert!(now <= heap, "heap grew from {} to {} bytes over 320 threads", heap, now);
        Ok(())
    }
);

ktest!(
    fn blocked_thread_is_woken_from_another_cpu() -> KResult {
        let n = cpus() as u32;
        let (sleeper_cpu, waker_cpu) = if n >= 3 {
            (1, 2)
        } else if n == 2 {
            (1, 0)
        } else {
            (0, 0)
        };
        let flag = Arc::new(AtomicBool::new(false));
        let blocks = Arc::new(AtomicU64::new(0));
        let (f, b) = (flag.clone(), blocks.clone());
        let sleeper = Spawn::named("sleeper")
            .on_cpu(sleeper_cpu)
            .start(move || {
                while !f.load(Ordering::Acquire) {
                    b.fetch_add(1, Ordering::Relaxed);
                    block_current();
                }
                percpu::cpu_index() as i64
            })
            .map_err(|e| alloc::format!("{e:?}"))?;
        let f2 = flag.clone();
        let waker = Spawn::named("waker")
            .on_cpu(waker_cpu)
            .start(move || {
                spin_ms(30);
                f2.store(true, Ordering::Release);
                match lookup(sleeper) {
                    Some(t) => {
                        wake(&t);
                        percpu::cpu_index() as i64
                    }
                    None => -1,
                }
            })
            .map_err(|e| alloc::format!("{e:?}"))?;
        kassert_eq!(join(waker), Ok(waker_cpu as i64));
        kassert_eq!(join(sleeper), Ok(sleeper_cpu as i64));
        kassert!(blocks.load(Ordering::Relaxed) >= 1, "the sleeper never blocked");
        Ok(())
    }
);

fn set_xmm0(v: u64) {
    // SAFETY: writes only xmm0, which the scheduler saves per thread.
    unsafe { core::arch::asm!("movq xmm0, {}", in(reg) v, options(nomem, nostack)) };
}

fn get_xmm0() -> u64 {
    let v: u64;
    // SAFETY: reads xmm0.
    unsafe { core::arch::asm!("movq {}, xmm0", out(reg) v, options(nomem, nostack)) };
    v
}

ktest!(
    fn fpu_state_survives_context_switches() -> KResult {
        let target = (cpus() - 1) as u32;
        let refs: Vec<ThreadRef> = (0..3u64)
            .map(|i| {
                Spawn::named("fpu").on_cpu(target).start(move || {
                    let mine = 0x1111_1111_1111_1111 * (i + 1);
                    set_xmm0(mine);
                    for _ in 0..200 {
                        yield_now();
                        if get_xmm0() != mine {
                            return 0;
                        }
                    }
                    1
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| alloc::format!("{e:?}"))?;
        for r in refs {
            kassert_eq!(join(r), Ok(1));
        }
        Ok(())
    }
);

ktest!(
    fn tlb_shootdown_reaches_every_cpu_that_has_the_space() -> KResult {
        use x86_64::structures::paging::PageTableFlags as F;
        const VA: u64 = 0x4000_0000;
        let n = cpus();
        let space = AddressSpace::new(16).ok_or("no memory for an address space")?;
        let (old, new) = (
            crate::mm::frame::alloc_zeroed().ok_or("oom")?,
            crate::mm::frame::alloc_zeroed().ok_or("oom")?,
        );
        // SAFETY: both frames are ours; written through the HHDM.
        unsafe {
            (crate::mm::phys_to_virt(old) as *mut u64).write(0xa1a1);
            (crate::mm::phys_to_virt(new) as *mut u64).write(0xb2b2);
        }
        space.map(VA, old, F::WRITABLE).map_err(|e| alloc::format!("{e:?}"))?;
        let ready = Arc::new(AtomicUsize::new(0));
        let remapped = Arc::new(AtomicBool::new(false));
        let mut refs = Vec::new();
        for c in 1..n {
            let (ready, remapped) = (ready.clone(), remapped.clone());
            let r = Spawn::named("tlb-reader")
                .on_cpu(c as u32)
                .in_space(space.clone())
                .start(move || {
                    // SAFETY: VA is mapped in this thread's address space.
                    let read = || unsafe { (VA as *const u64).read_volatile() };
                    let first = read();
                    ready.fetch_add(1, Ordering::AcqRel);
                    while !remapped.load(Ordering::Acquire) {
                        core::hint::spin_loop();
                    }
                    (first == 0xa1a1 && read() == 0xb2b2) as i64
                })
                .map_err(|e| alloc::format!("{e:?}"))?;
            refs.push(r);
        }
        kassert!(
            wait_for(5000, || ready.load(Ordering::Acquire) == n - 1),
            "readers did not start"
        );
        let (req0, tgt0, ipi0) = (
            tlb::STATS.shootdown_requests.load(Ordering::Relaxed),
            tlb::STATS.shootdown_target_cpus.load(Ordering::Relaxed),
            tlb::STATS.shootdown_ipis.load(Ordering::Relaxed),
        );
        let active = space.active_cpus.load(Ordering::Acquire);
        kassert_eq!(space.unmap(VA), Some(old));
        space.map(VA, new, F::WRITABLE).map_err(|e| alloc::format!("{e:?}"))?;
        space.shootdown(VA, 1);
        remapped.store(true, Ordering::Release);
        for r in refs {
            kassert_eq!(join(r), Ok(1));
        }
        kassert_eq!(active.count_ones() as usize, n - 1); // exactly the readers' CPUs
                                                          // A request goes out only when another CPU has the space loaded.
        kassert_eq!(tlb::STATS.shootdown_requests.load(Ordering::Relaxed), req0 + (n > 1) as u64);
        kassert_eq!(
            tlb::STATS.shootdown_target_cpus.load(Ordering::Relaxed),
            tgt0 + (n as u64 - 1)
        );
        kassert_eq!(tlb::STATS.shootdown_ipis.load(Ordering::Relaxed), ipi0 + (n as u64 - 1));
        kassert!(
            wait_for(1000, || Arc::strong_count(&space) == 1),
            "address space still referenced"
        );
        drop(space);
        crate::mm::frame::free(old);
        crate::mm::frame::free(new);
        Ok(())
    }
);

ktest!(explicit fn selfcheck_panic_on_another_cpu() -> KResult {
    kassert!(cpus() >= 2, "needs two CPUs");
    let r = Spawn::named("panicker")
        .on_cpu(1)
        .start(|| panic!("deliberate panic on cpu 1: the other CPUs must stop"))
        .map_err(|e| alloc::format!("{e:?}"))?;
    // Never returns: the panic stops the machine while we wait.
    let _ = join(r);
    Err("the panic on cpu 1 did not stop the system".into())
});
