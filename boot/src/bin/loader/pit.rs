//! Busy-wait delays on PIT channel 2 (INIT-SIPI-SIPI needs 10 ms / 200 us).

use x86_64::instructions::port::Port;

const PIT_HZ: u64 = 1_193_182;

/// Waits at least `us` microseconds.
pub fn delay_us(us: u64) {
    let mut ticks = (us * PIT_HZ).div_ceil(1_000_000);
    while ticks > 0 {
        let chunk = ticks.min(0xffff);
        ticks -= chunk;
        // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate;
        // the loader is the only user of the PIT at this point.
        unsafe {
            let mut gate = Port::<u8>::new(0x61);
            let g = gate.read();
            gate.write((g & !0x02) | 0x01); // gate on, speaker off
            Port::<u8>::new(0x43).write(0xb0); // ch2, lo/hi, mode 0
            Port::<u8>::new(0x42).write(chunk as u8);
            Port::<u8>::new(0x42).write((chunk >> 8) as u8);
            while gate.read() & 0x20 == 0 {
                core::hint::spin_loop();
            }
        }
    }
}

pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}
