//! 16550 UART (COM1 text console, COM2 later for the measure channel).

use core::fmt;
use x86_64::instructions::port::Port;

pub struct Uart {
    base: u16,
    /// Bytes sent since the last `take_written` (after LF -> CRLF).
    written: u64,
}

impl Uart {
    pub const fn new(base: u16) -> Self {
        Uart { base, written: 0 }
    }

    #[cfg_attr(not(feature = "measure"), allow(dead_code))] // read by the serial counters
    pub fn take_written(&mut self) -> u64 {
        core::mem::take(&mut self.written)
    }

    pub fn init(&mut self) {
        let b = self.base;
        // SAFETY: the UART's I/O ports belong to this driver; writes only
        // configure the device (no interrupts, 115200 8N1, FIFOs on).
        unsafe {
            Port::<u8>::new(b + 1).write(0x00);
            Port::<u8>::new(b + 3).write(0x80);
            Port::<u8>::new(b).write(0x01);
            Port::<u8>::new(b + 1).write(0x00);
            Port::<u8>::new(b + 3).write(0x03);
            Port::<u8>::new(b + 2).write(0xc7);
            Port::<u8>::new(b + 4).write(0x03);
        }
    }

    pub fn put(&mut self, byte: u8) {
        // SAFETY: polling LSR and writing THR of this UART has no memory effects.
        unsafe {
            let mut lsr = Port::<u8>::new(self.base + 5);
            while lsr.read() & 0x20 == 0 {
                core::hint::spin_loop();
            }
            Port::<u8>::new(self.base).write(byte);
        }
        self.written += 1;
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        Ok(())
    }
}
