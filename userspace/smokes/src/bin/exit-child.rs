//! Child of smoke-exit and smoke-hostile; behaviour from its args:
//! `code=N` exits with N; `fault` touches unmapped memory; `threads`
//! starts blocked threads then calls exit_process; `linger` sleeps 200 ms.
//! Caps: slot 0 Timer, slot 1 ThreadSpawner (when given).
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::{ThreadSpawner, Timer};
use capos_rt::{syscall, thread, Ctx};

capos_rt::main!(run);

fn run(ctx: &Ctx) -> i64 {
    let arg = ctx.args;
    if let Some(n) = arg.strip_prefix("code=") {
        return n.parse().unwrap_or(-1);
    }
    match arg {
        "fault" => {
            // SAFETY: not sound on purpose: the kernel must kill us, not crash.
            unsafe { (0xdead_0000 as *mut u64).write_volatile(1) };
            0
        }
        "threads" => {
            for _ in 0..3 {
                let _ = thread::spawn(ThreadSpawner(1), || {
                    let _ = Timer(0).sleep(10_000_000_000);
                    0
                });
            }
            let _ = Timer(0).sleep(20_000_000);
            syscall::exit_process(9)
        }
        "linger" => {
            let _ = Timer(0).sleep(200_000_000);
            0
        }
        _ => -1,
    }
}
