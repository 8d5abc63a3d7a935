//! Life as `/init` (pid 1) of a benchmark initramfs: mount /proc, read the
//! cases from the kernel command line, run them, power off. Pid 1 must never
//! exit (the kernel would panic), so every path ends in `power_off`.

use std::io::Write;

use crate::spec::Spec;
use crate::{clock, run_spec, LOG_PREFIX};

fn power_off() -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: sync and reboot take no pointers; as pid 1 we hold
    // CAP_SYS_BOOT, and RB_POWER_OFF does not return on success.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached if the power-off failed: idle rather than exit (panic).
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn mount_proc() -> Result<(), String> {
    let _ = std::fs::create_dir_all("/proc");
    // SAFETY: all four strings are NUL-terminated literals; data is null.
    let rc = unsafe {
        libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), 0, std::ptr::null())
    };
    if rc != 0 {
        return Err(format!("mount /proc: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

pub fn run_as_init() -> ! {
    std::panic::set_hook(Box::new(|info| {
        println!("{LOG_PREFIX} error: panic: {info}");
        power_off();
    }));
    let cmdline = match mount_proc().and_then(|()| {
        std::fs::read_to_string("/proc/cmdline").map_err(|e| format!("read /proc/cmdline: {e}"))
    }) {
        Ok(c) => c,
        Err(e) => {
            println!("{LOG_PREFIX} warning: {e}; running the defaults");
            String::new()
        }
    };
    let specs = match Spec::from_cmdline(&cmdline) {
        None => Spec::defaults(clock::online_cpus()),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            println!("{LOG_PREFIX} error: bad capos.bench= on the kernel command line: {e}");
            power_off();
        }
    };
    for spec in &specs {
        run_spec(spec);
    }
    println!("{LOG_PREFIX} done");
    power_off()
}
