//! The human console: `kprintln!`, scheduler transition lines, and the
//! tagged lines of user processes. COM1 itself (its lock and the emergency
//! writer of the panic path) is `arch::x86_64::console`.

use core::fmt::{self, Write};

pub use crate::arch::x86_64::console::{init, print};

/// Prints what user process `pid` (binary `name`) wrote: each line tagged
/// `user <pid> <name>: ` with control characters replaced (see
/// `capos_abi::guest::USER_LINE_PREFIX`), so a process can never print a
/// line the harness would take for the kernel's or another process's.
pub fn print_user(pid: u32, name: &str, text: &str) {
    use capos_abi::guest::{tag_safe, text_safe, USER_LINE_PREFIX};
    struct Sanitized<'a>(&'a str, fn(char) -> char);
    impl fmt::Display for Sanitized<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.chars().try_for_each(|c| f.write_char((self.1)(c)))
        }
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return;
    }
    for line in text.split('\n') {
        crate::kprintln!(
            "{USER_LINE_PREFIX}{pid} {}: {}",
            Sanitized(name, tag_safe),
            Sanitized(line, text_safe)
        );
    }
}

static SWITCH_LOGS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Turns scheduler transition lines (`switch_log!`) on or off.
pub fn set_switch_logs(on: bool) {
    SWITCH_LOGS.store(on, core::sync::atomic::Ordering::Relaxed);
}

pub fn switch_logs() -> bool {
    SWITCH_LOGS.load(core::sync::atomic::Ordering::Relaxed)
}

/// A scheduler transition line (process/thread start and exit): printed
/// unless the `suppress_switch_logs` command-line word turned them off.
#[macro_export]
macro_rules! switch_log {
    ($($arg:tt)*) => {
        if $crate::console::switch_logs() {
            $crate::kprintln!($($arg)*);
        }
    };
}

#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! kprintln {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
