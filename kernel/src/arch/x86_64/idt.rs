//! The IDT: one table for all CPUs, every vector pointing at its trap stub.

use super::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI, KERNEL_CODE};
use spin::Once;
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    /// A present, DPL-0 interrupt gate (IF cleared on entry).
    fn interrupt(handler: u64, ist: u16) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: KERNEL_CODE,
            ist: ist as u8,
            attributes: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

/// Builds the IDT (once) and loads it on the calling CPU.
pub fn load() {
    let idt = IDT.call_once(|| {
        let mut t = Idt([Gate::default(); 256]);
        for (v, g) in t.0.iter_mut().enumerate() {
            let ist = match v {
                2 => IST_NMI,
                8 => IST_DOUBLE_FAULT,
                18 => IST_MACHINE_CHECK,
                _ => 0,
            };
            *g = Gate::interrupt(super::trap::stub_address(v as u8), ist);
        }
        t
    });
    let ptr = DescriptorTablePointer {
        limit: (size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt),
    };
    // SAFETY: the IDT is 'static and every gate points at a valid stub.
    unsafe { lidt(&ptr) };
}
