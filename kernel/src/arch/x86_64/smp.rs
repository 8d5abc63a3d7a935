//! Taking the APs the loader parked: each gets its slot in the per-CPU
//! array (BSP = 0, then the MP response's order), jumps to [`ap_entry`]
//! through `goto_address`, loads the kernel page tables, its GDT/TSS and the
//! IDT, and reports online.

use super::{cpu, idt, percpu, tsc};
use core::sync::atomic::Ordering;
use limine::mp::Cpu;
use limine::response::MpResponse;

/// Brings every AP online; returns how many CPUs are online.
pub fn start_aps(mp: &MpResponse) -> u32 {
    let bsp = mp.bsp_lapic_id();
    let cpus = mp.cpus();
    let usable = cpus.len().min(percpu::MAX_CPUS);
    if cpus.len() > percpu::MAX_CPUS {
        super::console::print(format_args!(
            "kernel: {} CPUs reported, using the first {}\n",
            cpus.len(),
            percpu::MAX_CPUS
        ));
    }
    percpu::CPU_COUNT.store(usable as u32, Ordering::Release);
    for (index, c) in (1..).zip(cpus.iter().filter(|c| c.lapic_id != bsp).take(usable - 1)) {
        c.extra.store(index, Ordering::SeqCst);
        c.goto_address.write(ap_entry);
    }
    // APs come up in well under a second even under TCG; allow 5 s.
    let deadline = cpu::rdtsc() + tsc::hz() * 5;
    while percpu::online_count() < usable as u32 && cpu::rdtsc() < deadline {
        core::hint::spin_loop();
    }
    let online = percpu::online_count();
    if online < usable as u32 {
        super::console::print(format_args!("kernel: only {online} of {usable} CPUs came online\n"));
    }
    online
}

/// Per-CPU setup shared by the BSP and the APs.
pub fn init_this_cpu(index: usize, lapic_id: u32) {
    // SAFETY: called once per CPU, by that CPU, with its own index.
    unsafe { percpu::install(index, lapic_id) };
    idt::load();
}

unsafe extern "C" fn ap_entry(info: &Cpu) -> ! {
    super::tlb::load_kernel_root();
    let index = info.extra.load(Ordering::SeqCst) as u32;
    init_this_cpu(index as usize, info.lapic_id);
    super::interrupts::init_ap();
    (super::hooks::hooks().ap_main)(index)
}
