//! Shared helpers of the smoke programs: a check list that prints one
//! line per check and a closing `[<smoke>] PASS` or `FAIL` line.
#![no_std]

extern crate alloc;

pub mod args;
pub mod attacks;
pub mod bystander;
pub mod fidelity;
pub mod launch;
pub mod memory;

use alloc::string::String;
use alloc::vec::Vec;
use capos_rt::clients::Console;

pub struct Checks {
    smoke: &'static str,
    console: Console,
    failed: Vec<String>,
    passed: u32,
}

impl Checks {
    pub fn new(smoke: &'static str, console: Console) -> Self {
        capos_rt::set_panic_console(console.0);
        Checks { smoke, console, failed: Vec::new(), passed: 0 }
    }

    /// Records a check; prints it.
    pub fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
            capos_rt::println!(self.console, "[{}] ok: {}", self.smoke, what);
        } else {
            self.failed.push(String::from(what));
            capos_rt::println!(self.console, "[{}] FAILED: {}", self.smoke, what);
        }
    }

    pub fn note(&self, text: &str) {
        capos_rt::println!(self.console, "[{}] {}", self.smoke, text);
    }

    /// Prints the closing line; returns the process exit code.
    pub fn finish(self) -> i64 {
        if self.failed.is_empty() {
            capos_rt::println!(self.console, "[{}] PASS ({} checks)", self.smoke, self.passed);
            0
        } else {
            capos_rt::println!(
                self.console,
                "[{}] FAIL ({} of {} checks failed)",
                self.smoke,
                self.failed.len(),
                self.failed.len() as u32 + self.passed
            );
            1
        }
    }
}

pub mod fuzz;
