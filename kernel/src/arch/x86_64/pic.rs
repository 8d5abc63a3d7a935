//! Legacy 8259 PICs and the PIT: masked when the LAPIC is used, the tick
//! source when it is not (`noapic`, or no LAPIC).

use x86_64::instructions::port::Port;

const PIC1: u16 = 0x20;
const PIC2: u16 = 0xa0;
const PIT_HZ: u32 = 1_193_182;

/// Remaps the PICs to vectors `base..base+16` and masks every line.
pub fn remap_and_mask(base: u8) {
    // SAFETY: the 8259 command/data ports are owned by this driver; the
    // standard ICW1-4 sequence reprograms the vector offsets.
    unsafe {
        let (mut c1, mut d1, mut c2, mut d2) = (
            Port::<u8>::new(PIC1),
            Port::<u8>::new(PIC1 + 1),
            Port::<u8>::new(PIC2),
            Port::<u8>::new(PIC2 + 1),
        );
        c1.write(0x11);
        c2.write(0x11);
        d1.write(base);
        d2.write(base + 8);
        d1.write(4);
        d2.write(2);
        d1.write(0x01);
        d2.write(0x01);
        d1.write(0xff);
        d2.write(0xff);
    }
}

/// Unmasks IRQ 0 (the PIT) only.
pub fn unmask_timer() {
    // SAFETY: writing the master PIC's mask register.
    unsafe { Port::<u8>::new(PIC1 + 1).write(0xfe) };
}

pub fn eoi() {
    // SAFETY: non-specific EOI to the master PIC.
    unsafe { Port::<u8>::new(PIC1).write(0x20) };
}

/// PIT channel 0 in rate-generator mode at `hz`.
pub fn start_pit(hz: u32) {
    let divisor = (PIT_HZ / hz.max(19)).min(0xffff) as u16;
    // SAFETY: PIT channel 0 ports; channel 2 (calibration) is not touched.
    unsafe {
        Port::<u8>::new(0x43).write(0x34);
        Port::<u8>::new(0x40).write(divisor as u8);
        Port::<u8>::new(0x40).write((divisor >> 8) as u8);
    }
}
