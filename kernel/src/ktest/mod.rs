//! The kernel test framework.
//!
//! Tests are declared next to the code they check with [`ktest!`](crate::ktest);
//! each declaration places a [`KTest`] record in the `.ktests` link section,
//! and the runner walks that section, so no list is kept by hand. Tests are
//! compiled only with the `ktest` feature and run on the BSP after every CPU
//! is online, when the kernel command line holds `ktest` (all tests except
//! `explicit` ones) or `ktest=<filter>` (tests whose name contains the
//! filter; an explicit test runs only when the filter is its full name).
//!
//! Each test runs inside [`guard::call`]: if it faults or panics, the fault
//! handler or panic handler reports it and unwinds the CPU straight back to
//! the runner, which records the failure and goes on with the next test. A
//! test declared `expect_fault` passes only if it faults. Frames abandoned
//! that way are not dropped: a test that fails while holding a lock leaves
//! it held, so later tests may hang, which the harness reports as a timeout.

mod arch_tests;
mod guard;
mod runner;

pub use runner::{on_fault, on_panic, run};

pub type KResult = Result<(), alloc::string::String>;

/// One registered test.
#[repr(C)]
pub struct KTest {
    pub name: &'static str,
    pub run: fn() -> KResult,
    /// Runs only when selected by its full name.
    pub explicit: bool,
    /// Passes only if the test takes a CPU exception.
    pub expect_fault: bool,
}

/// Declares a kernel test: `ktest!(fn name() -> KResult { ... });`, with an
/// optional leading `explicit` or `expect_fault`.
#[macro_export]
macro_rules! ktest {
    (fn $name:ident() -> KResult $body:block) => { $crate::ktest!(@reg false, false, $name, $body); };
    (explicit fn $name:ident() -> KResult $body:block) => { $crate::ktest!(@reg true, false, $name, $body); };
    (expect_fault fn $name:ident() -> KResult $body:block) => { $crate::ktest!(@reg false, true, $name, $body); };
    (@reg $explicit:expr, $fault:expr, $name:ident, $body:block) => {
        fn $name() -> $crate::ktest::KResult $body
        const _: () = {
            #[used]
            #[link_section = ".ktests"]
            static ENTRY: $crate::ktest::KTest = $crate::ktest::KTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
                explicit: $explicit,
                expect_fault: $fault,
            };
        };
    };
}

/// `kassert!(cond)` / `kassert!(cond, "fmt", args..)`: fail the test with a message.
#[macro_export]
macro_rules! kassert {
    ($c:expr) => { $crate::kassert!($c, "assertion failed: {}", stringify!($c)) };
    ($c:expr, $($fmt:tt)+) => {
        if !$c {
            return Err(alloc::format!("{}:{}: {}", file!(), line!(), format_args!($($fmt)+)));
        }
    };
}

/// `kassert_eq!(a, b)`: fail the test showing both values.
#[macro_export]
macro_rules! kassert_eq {
    ($a:expr, $b:expr) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    return Err(alloc::format!(
                        "{}:{}: {} == {} failed: {:?} != {:?}",
                        file!(),
                        line!(),
                        stringify!($a),
                        stringify!($b),
                        a,
                        b
                    ));
                }
            }
        }
    };
}

ktest!(explicit fn selfcheck_deliberate_failure() -> KResult {
    Err("deliberate failure: the harness checks that a failing test is reported by name".into())
});

ktest!(
    fn framework_collects_tests() -> KResult {
        let all = runner::all_tests();
        kassert!(all.len() >= 5, "only {} tests collected", all.len());
        kassert!(all
            .iter()
            .any(|t| t.name.ends_with("selfcheck_deliberate_failure") && t.explicit));
        Ok(())
    }
);
