//! Kernel tests of `arch`: per-CPU slots, and the fault report a kernel
//! exception produces. They live here, not in `arch`, because `arch` sits
//! below the test framework and may not name it.

use crate::arch::x86_64::percpu;
use crate::{kassert, kassert_eq, ktest};
use core::sync::atomic::Ordering;

ktest!(
    fn every_reported_cpu_is_online_with_a_distinct_lapic_id() -> KResult {
        let n = percpu::CPU_COUNT.load(Ordering::Acquire) as usize;
        kassert_eq!(percpu::online_count() as usize, n);
        for i in 0..n {
            let s = percpu::slot(i);
            kassert_eq!(s.index() as usize, i);
            kassert!(
                s.online_tsc.load(Ordering::Relaxed) != 0,
                "cpu {} has no online timestamp",
                i
            );
            for j in i + 1..n {
                kassert!(
                    s.lapic_id() != percpu::slot(j).lapic_id(),
                    "cpus {} and {} share LAPIC id {}",
                    i,
                    j,
                    s.lapic_id()
                );
            }
        }
        Ok(())
    }
);

ktest!(
    fn gs_base_points_at_this_cpus_slot() -> KResult {
        let pc = percpu::current();
        kassert_eq!(pc.index(), 0);
        kassert!(core::ptr::eq(pc, percpu::slot(0)), "GS base does not point at slot 0");
        Ok(())
    }
);

/// Reads an address no page table maps: a deliberate kernel page fault.
#[inline(never)]
fn trigger_page_fault() -> u64 {
    let p = core::hint::black_box(0x0000_7fff_dead_0000u64) as *const u64;
    // SAFETY: not sound on purpose: this read faults, and the test
    // framework recovers. The address is canonical and never mapped.
    unsafe { p.read_volatile() }
}

ktest!(expect_fault fn page_fault_is_reported() -> KResult {
    let v = trigger_page_fault();
    Err(alloc::format!("read of an unmapped address returned {v:#x}"))
});
