//! COM1 output for the loader's few lines (the kernel re-initialises the port).

use core::fmt;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;

pub fn init() {
    // SAFETY: COM1's registers are standard PC I/O ports owned by the loader
    // until the kernel takes over; programming them has no memory effects.
    unsafe {
        Port::<u8>::new(COM1 + 1).write(0x00); // no interrupts
        Port::<u8>::new(COM1 + 3).write(0x80); // DLAB
        Port::<u8>::new(COM1).write(0x01); // 115200 baud
        Port::<u8>::new(COM1 + 1).write(0x00);
        Port::<u8>::new(COM1 + 3).write(0x03); // 8N1
        Port::<u8>::new(COM1 + 2).write(0xc7); // FIFO on
        Port::<u8>::new(COM1 + 4).write(0x03);
    }
}

fn put(b: u8) {
    // SAFETY: polling the line-status register and writing the data register
    // of COM1 only affects the UART.
    unsafe {
        let mut lsr = Port::<u8>::new(COM1 + 5);
        while lsr.read() & 0x20 == 0 {}
        Port::<u8>::new(COM1).write(b);
    }
}

pub struct Com1;

impl fmt::Write for Com1 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                put(b'\r');
            }
            put(b);
        }
        Ok(())
    }
}

#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use core::fmt::Write;
        let _ = write!($crate::serial::Com1, "capos-boot: ");
        let _ = writeln!($crate::serial::Com1, $($arg)*);
    }};
}
