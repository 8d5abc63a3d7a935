//! The one path that sends inter-processor interrupts.
//!
//! Every IPI goes through [`send`] (or [`stop_others`] for the panic NMI):
//! interrupts are masked while the ICR is written so no handler on this CPU
//! interleaves its own send, and each send is counted per vector class.

use super::{lapic, percpu};
use crate::sync::IrqOff;
use core::sync::atomic::{AtomicU64, Ordering};

pub static SENT: AtomicU64 = AtomicU64::new(0);

/// The CPU that last sent each IPI vector (0xf0..=0xff) to each CPU, so the
/// receiver can name its sender (the LAPIC does not say). Two senders racing
/// to one target with one vector may be delivered as one interrupt; the
/// receiver then names the later.
#[cfg(feature = "measure")]
static LAST_SENDER: [[core::sync::atomic::AtomicU8; 16]; percpu::MAX_CPUS] =
    [const { [const { core::sync::atomic::AtomicU8::new(u8::MAX) }; 16] }; percpu::MAX_CPUS];

/// The CPU that last sent `vector` to this CPU (`u64::MAX`: none known).
#[cfg(feature = "measure")]
pub fn last_sender(vector: u8) -> u64 {
    let me = percpu::cpu_index() as usize;
    let slot = LAST_SENDER.get(me).and_then(|v| v.get(vector.wrapping_sub(0xf0) as usize));
    match slot.map(|s| s.load(Ordering::Acquire)) {
        Some(cpu) if cpu != u8::MAX => cpu as u64,
        _ => u64::MAX,
    }
}
pub static FAILED: AtomicU64 = AtomicU64::new(0);

/// Sends fixed `vector` to the CPU with index `cpu`. Returns false if the
/// LAPIC is not in use, the CPU is unknown, or the send was not accepted.
pub fn send(cpu: usize, vector: u8) -> bool {
    if !lapic::enabled() || cpu >= percpu::CPU_COUNT.load(Ordering::Acquire) as usize {
        FAILED.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    let apic_id = percpu::slot(cpu).lapic_id();
    #[cfg(feature = "measure")]
    if let Some(s) = LAST_SENDER[cpu].get(vector.wrapping_sub(0xf0) as usize) {
        s.store(percpu::cpu_index() as u8, Ordering::Release);
    }
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
