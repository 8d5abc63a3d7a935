//! capOS kernel entry.
//!
//! Design principles:
//! 1. The kernel is a Limine-protocol kernel; it never knows which loader booted it.
//! 2. All architecture code lives under `arch::x86_64`; `unsafe` outside it is rare
//!    and every block says why it is sound.
//! 3. Anything user space can reach gets an error, never a panic.
//! 4. One source of truth: guest/host formats come from `capos_abi`.
#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]
// Kernel-thread APIs (join, lookup, shootdown, ...) that only the kernel
// tests exercise today would otherwise warn in the normal build.
#![cfg_attr(not(feature = "ktest"), allow(dead_code, unused_imports))]

extern crate alloc;

mod arch;
mod arch_hooks;
mod boot_requests;
mod cap;
mod cmdline;
mod console;
#[cfg(feature = "ktest")]
mod ktest;
mod measure;
mod mm;
mod panic;
mod proc;
mod sched;
mod sync;
mod syscall;
mod time;

use arch::x86_64::{cpu, debug_exit, interrupts, smp, tsc};
use boot_requests as req;
use capos_abi::guest::GuestExit;
use panic::stop_system;

#[no_mangle]
extern "C" fn kmain() -> ! {
    let tsc_entry = cpu::rdtsc();
    arch_hooks::install();
    console::init();
    kprintln!("kernel: capOS {} starting", env!("CARGO_PKG_VERSION"));
    if !req::BASE_REVISION.is_supported() {
        stop_system("the boot loader does not support Limine base revision 2");
    }
    if let Some(b) = req::BOOTLOADER_INFO.get_response() {
        kprintln!("kernel: booted by {} {}", b.name(), b.version());
    }
    let Some(hhdm) = req::HHDM.get_response() else { stop_system("no HHDM response") };
    mm::set_hhdm(hhdm.offset());
    let bsp_lapic = req::MP.get_response().map(|m| m.bsp_lapic_id()).unwrap_or(0);
    smp::init_this_cpu(0, bsp_lapic);
    #[cfg(feature = "measure")]
    measure::init();

    let Some(memmap) = req::MEMORY_MAP.get_response() else {
        stop_system("no memory map response")
    };
    let Some(exec) = req::EXECUTABLE_ADDRESS.get_response() else {
        stop_system("no executable address response")
    };
    mm::frame::init(memmap.entries());
    let heap = mm::heap::init();
    mm::paging::init(memmap.entries(), exec.physical_base(), exec.virtual_base());
    #[cfg(feature = "measure")]
    measure::seed_memory_levels();
    let frames = mm::frame::stats();
    kprintln!(
        "kernel: memory: {} MiB usable, {} MiB heap, kernel at phys {:#x}",
        (frames.total * 4096) >> 20,
        heap >> 20,
        exec.physical_base()
    );

    let hz = tsc::calibrate();
    #[cfg(feature = "measure")]
    measure::report_calibration();
    kprintln!(
        "kernel: entered {}.{:03} ms after reset (tsc {} at {} MHz)",
        tsc::ticks_to_us(tsc_entry) / 1000,
        tsc::ticks_to_us(tsc_entry) % 1000,
        tsc_entry,
        hz / 1_000_000
    );

    let cmdline = req::CMDLINE.get_response().and_then(|c| c.cmdline().to_str().ok()).unwrap_or("");
    let opts = cmdline::parse(cmdline);
    console::set_switch_logs(!opts.suppress_switch_logs);
    if let Some(n) = opts.measure_capacity {
        // Before the first tick: no sample has claimed a slot yet.
        #[cfg(feature = "measure")]
        {
            measure::MEASURE.set_capacity(n);
            kprintln!("kernel: measure tables capped at {n} entries each");
        }
        #[cfg(not(feature = "measure"))]
        kprintln!("kernel: ignoring measure_capacity={n} (no measure feature)");
    }
    if let Some(kib) = opts.heap_room_kib {
        // Before the first process: every user-driven admission sees it.
        #[cfg(feature = "measure")]
        {
            mm::heap::set_test_room(kib * 1024);
            kprintln!("kernel: user work sees at most {kib} KiB of heap above the reserve");
        }
        #[cfg(not(feature = "measure"))]
        kprintln!("kernel: ignoring heap_room={kib} (no measure feature)");
    }
    if let Some(ms) = opts.exit_cancel_delay_ms {
        #[cfg(feature = "measure")]
        {
            proc::set_exit_cancel_delay(ms * (hz / 1000));
            kprintln!("kernel: exiting threads wait {ms} ms before cancelling their work");
        }
        #[cfg(not(feature = "measure"))]
        kprintln!("kernel: ignoring exit_cancel_delay_ms={ms} (no measure feature)");
    }
    if let Some(mods) = req::MODULES.get_response() {
        for m in mods.modules() {
            kprintln!(
                "kernel: module {} ({} bytes) cmdline '{}'",
                m.path().to_str().unwrap_or("?"),
                m.size(),
                m.string().to_str().unwrap_or("?")
            );
        }
    }

    let tick = interrupts::init_bsp(opts.tick_hz, opts.noapic);
    #[cfg(feature = "measure")]
    let sample_hz = interrupts::configure_sample_clock(
        opts.tick_hz,
        opts.sample_hz.unwrap_or(capos_abi::guest::DEFAULT_SAMPLE_HZ),
    );
    // Before the scheduler owns any CPU: nothing is queued yet.
    sched::set_policy(opts.sched_policy);
    sched::set_balance(opts.balance);
    sched::set_pick_hold(opts.sched_hold);
    kprintln!("{}{}", capos_abi::guest::SCHED_POLICY_LINE, sched::policy().name());
    if opts.sched_hold > 0 {
        kprintln!(
            "kernel: every run-queue pick holds its lock {} cycles longer (sched_hold)",
            opts.sched_hold
        );
    }
    if !opts.balance {
        kprintln!(
            "kernel: load balancing off (balance=off): no stealing, threads requeue where they ran"
        );
    }
    sched::init_bsp();
    kprintln!("kernel: tick {} Hz from the {}", opts.tick_hz, tick);
    #[cfg(feature = "measure")]
    kprintln!("kernel: measure: sample clock {sample_hz} Hz on every timer CPU");
    let online = match req::MP.get_response() {
        Some(mp) if !interrupts::pit_mode() => smp::start_aps(mp),
        Some(mp) if mp.cpus().len() > 1 => {
            kprintln!("kernel: no LAPIC in use: running on the BSP only");
            1
        }
        _ => 1,
    };
    kprintln!("kernel: {online} CPUs online (APs entered through goto_address)");
    #[cfg(feature = "measure")]
    measure::MEASURE.shards.set_cpus_in_use(online as usize);

    match opts.mode {
        #[cfg(feature = "ktest")]
        cmdline::Mode::Ktest(filter) => ktest::run(filter),
        #[cfg(not(feature = "ktest"))]
        cmdline::Mode::Ktest(_) => stop_system("this kernel was built without the ktest feature"),
        cmdline::Mode::Normal => {}
    }
    let verdict = match proc::modules::find_by_cmdline("manifest") {
        Some(bytes) => match proc::manifest::start(bytes) {
            Ok(procs) => {
                let ok = proc::manifest::wait_all(&procs);
                kprintln!(
                    "kernel: all {} manifest processes exited ({})",
                    procs.len(),
                    if ok { "all succeeded" } else { "some failed" }
                );
                if ok {
                    GuestExit::Success
                } else {
                    GuestExit::Failure
                }
            }
            Err(e) => {
                kprintln!("kernel: boot manifest rejected: {e:?}");
                GuestExit::Failure
            }
        },
        None => GuestExit::Success,
    };
    #[cfg(feature = "measure")]
    measure::emit_report(measure::stop_for_report());
    kprintln!("kernel: boot complete, shutting down");
    debug_exit::exit(verdict)
}
