//! The one path that sends inter-processor interrupts.
//!
//! Every IPI goes through [`send`] (or [`stop_others`] for the panic NMI):
//! interrupts are masked while the ICR is written so no handler on this CPU
//! interleaves its own send, and each send is counted per vector class.

use super::{lapic, percpu};
use crate::sync::IrqOff;
use core::sync::atomic::{AtomicU64, Ordering};

pub static SENT: AtomicU64 = AtomicU64::new(0);
pub static FAILED: AtomicU64 = AtomicU64::new(0);

/// Sends fixed `vector` to the CPU with index `cpu`. Returns false if the
/// LAPIC is not in use, the CPU is unknown, or the send was not accepted.
pub fn send(cpu: usize, vector: u8) -> bool {
    if !lapic::enabled() || cpu >= percpu::CPU_COUNT.load(Ordering::Acquire) as usize {
        FAILED.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let apic_id = percpu::slot(cpu).lapic_id();
    let ok = {
        let _irq = IrqOff::new();
        lapic::send_ipi(lapic::Dest::Apic(apic_id), lapic::Delivery::Fixed(vector))
    };
    if ok {
        SENT.fetch_add(1, Ordering::Relaxed);
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

/// NMI to every other CPU (panic: they halt in the NMI handler).
pub fn stop_others() {
    if lapic::enabled() {
        let _irq = IrqOff::new();
        lapic::send_ipi(lapic::Dest::AllButSelf, lapic::Delivery::Nmi);
    }
}
