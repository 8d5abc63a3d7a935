//! Selecting, running and reporting kernel tests.

use super::guard::{self, Guard};
use super::KTest;
use crate::arch::x86_64::{debug_exit, percpu};
use crate::kprintln;
use capos_abi::guest::{
    GuestExit, KTEST_FAILED, KTEST_OK, KTEST_PREFIX, KTEST_RESULT, KTEST_RUNNING,
};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

extern "C" {
    static __ktests_start: u8;
    static __ktests_end: u8;
}

static GUARD: Guard = Guard::new();
/// The test running now (null between tests).
static CURRENT: AtomicPtr<KTest> = AtomicPtr::new(core::ptr::null_mut());
/// CPU index the runner uses; only faults on it can be recovered.
static RUNNER_CPU: AtomicU32 = AtomicU32::new(0);
static FAULT_VECTOR: AtomicU64 = AtomicU64::new(0);

const ABORT_FAULT: u32 = 1;
const ABORT_PANIC: u32 = 2;

pub fn all_tests() -> &'static [KTest] {
    let start = &raw const __ktests_start as *const KTest;
    let end = &raw const __ktests_end as *const KTest;
    let n = (end as usize - start as usize) / size_of::<KTest>();
    // SAFETY: the linker places only `KTest` records between the two symbols.
    unsafe { core::slice::from_raw_parts(start, n) }
}

fn short_name(t: &KTest) -> &'static str {
    t.name.strip_prefix("capos_kernel::").unwrap_or(t.name)
}

fn selected(t: &KTest, filter: Option<&str>) -> bool {
    match filter {
        None => !t.explicit,
        Some(f) if t.explicit => short_name(t) == f,
        Some(f) => short_name(t).contains(f),
    }
}

/// Runs the selected tests, prints one line each and the totals, and ends the run.
pub fn run(filter: Option<&str>) -> ! {
    RUNNER_CPU.store(percpu::cpu_index(), Ordering::Relaxed);
    let tests = all_tests();
    let n = tests.iter().filter(|t| selected(t, filter)).count();
    kprintln!("{KTEST_PREFIX}{KTEST_RUNNING}{n} tests");
    let (mut passed, mut failed) = (0u32, 0u32);
    for t in tests.iter().filter(|t| selected(t, filter)) {
        match run_one(t) {
            Ok(()) => {
                passed += 1;
                kprintln!("{KTEST_PREFIX}{}{KTEST_OK}", short_name(t));
            }
            Err(reason) => {
                failed += 1;
                kprintln!("{KTEST_PREFIX}{}{KTEST_FAILED}{reason}", short_name(t));
            }
        }
    }
    kprintln!("{KTEST_PREFIX}{KTEST_RESULT}{passed} passed, {failed} failed");
    debug_exit::exit(if failed == 0 { GuestExit::Success } else { GuestExit::Failure })
}

fn run_one(t: &'static KTest) -> Result<(), alloc::string::String> {
    CURRENT.store(t as *const KTest as *mut KTest, Ordering::SeqCst);
    let mut result = Ok(());
    let irqs = x86_64::instructions::interrupts::are_enabled();
    let code = guard::call(&GUARD, || result = (t.run)());
    // A fault or panic unwinds from a handler, which runs with IF clear.
    if irqs {
        x86_64::instructions::interrupts::enable();
    }
    CURRENT.store(core::ptr::null_mut(), Ordering::SeqCst);
    let vector = FAULT_VECTOR.load(Ordering::Relaxed);
    match (code, t.expect_fault) {
        (0, false) => result,
        (0, true) => Err("expected a CPU exception, none happened".into()),
        (ABORT_FAULT, true) => Ok(()),
        (ABORT_FAULT, false) => {
            Err(alloc::format!("unexpected CPU exception, vector {vector} (report above)"))
        }
        _ => Err("panicked (report above)".into()),
    }
}

fn abort_if_in_test(code: u32) {
    if CURRENT.load(Ordering::SeqCst).is_null()
        || percpu::cpu_index() != RUNNER_CPU.load(Ordering::Relaxed)
    {
        return;
    }
    // SAFETY: a test is running on this CPU inside guard::call, and we are
    // in a handler nested inside it.
    unsafe { guard::abort(&GUARD, code) }
}

/// Called by the exception handler after it printed its report.
pub fn on_fault(vector: u64) {
    FAULT_VECTOR.store(vector, Ordering::Relaxed);
    abort_if_in_test(ABORT_FAULT);
}

/// Called by the panic handler after it printed its report.
pub fn on_panic() {
    abort_if_in_test(ABORT_PANIC);
}
