//! Starting the APs: INIT-SIPI-SIPI into a real-mode trampoline that climbs to
//! long mode on the kernel's page tables, then parks on `goto_address`.
//!
//! APs are started one at a time; the trampoline's data block is reused for
//! each. A parked AP spins in loader code (identity mapped) until the kernel
//! writes its `limine_mp_info.goto_address`, then jumps there with RDI = the
//! info's HHDM address and RSP = its own stack top, as the protocol says.

use crate::pit::delay_us;
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Physical page the trampoline is copied to (SIPI vector 0x08).
pub const TRAMPOLINE: u64 = 0x8000;

static AP_READY: AtomicBool = AtomicBool::new(false);

// Layout of the trampoline page: a short jump over a data block at fixed
// offsets (so real-mode code can address it without relocations), then code.
const OFF_GDTR: u64 = 0x08;
const OFF_CR3: u64 = 0x18;
const OFF_STACK: u64 = 0x20;
const OFF_INFO: u64 = 0x28;
const OFF_ENTRY: u64 = 0x30;

global_asm!(
    r#"
    .section .text.ap_trampoline, "ax"
    .global ap_trampoline_start
    .global ap_trampoline_end
    .code16
ap_trampoline_start:
    .byte 0xeb, 0x36
    .skip 6
    .word 0
    .quad 0
    .skip 6
    .quad 0
    .quad 0
    .quad 0
    .quad 0
    cli
    cld
    mov ax, cs
    mov ds, ax
    lgdt [0x08]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    .byte 0x66, 0xea
    .long 0x8000 + (5f - ap_trampoline_start)
    .word 0x18
    .code32
5:  mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, [0x8018]
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1
    mov cr0, eax
    .byte 0xea
    .long 0x8000 + (6f - ap_trampoline_start)
    .word 0x28
    .code64
6:  mov ax, 0x30
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [0x8020]
    mov rdi, [0x8028]
    mov rsi, rsp
    mov rax, [0x8030]
    xor ebp, ebp
    call rax
    ud2
ap_trampoline_end:
    .text
"#
);

extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static loader_gdtr: u8;
}

/// Where a trampoline data field lives once the trampoline is copied.
fn field(offset: u64) -> *mut u64 {
    (TRAMPOLINE + offset) as *mut u64
}

/// Copies the trampoline to [`TRAMPOLINE`] and fills the fields shared by all APs.
pub fn install(cr3: u64) {
    let start = &raw const ap_trampoline_start;
    let len = &raw const ap_trampoline_end as usize - start as usize;
    let entry: extern "C" fn(u64, u64) -> ! = ap_entry;
    // SAFETY: TRAMPOLINE is a page the allocator reserved for this; the
    // trampoline is far smaller than a page; the GDTR is 10 bytes we copy.
    unsafe {
        core::ptr::copy_nonoverlapping(start, TRAMPOLINE as *mut u8, len);
        core::ptr::copy_nonoverlapping(&raw const loader_gdtr, field(OFF_GDTR) as *mut u8, 10);
        field(OFF_CR3).write_volatile(cr3);
        field(OFF_ENTRY).write_volatile(entry as usize as u64);
    }
}

struct Lapic(u64);

impl Lapic {
    fn write(&self, reg: u64, v: u32) {
        // SAFETY: the LAPIC MMIO page is identity mapped; `reg` is one of its
        // architectural registers.
        unsafe { ((self.0 + reg) as *mut u32).write_volatile(v) }
    }
    fn read(&self, reg: u64) -> u32 {
        // SAFETY: as in `write`.
        unsafe { ((self.0 + reg) as *const u32).read_volatile() }
    }
    fn send_ipi(&self, apic_id: u32, low: u32) {
        self.write(0x310, apic_id << 24);
        self.write(0x300, low);
        for _ in 0..1_000_000 {
            if self.read(0x300) & (1 << 12) == 0 {
                break;
            }
            core::hint::spin_loop();
        }
    }
}

/// The BSP's LAPIC: MMIO base from IA32_APIC_BASE, software-enabled.
pub fn bsp_lapic_id(lapic_base: u64) -> u32 {
    let l = Lapic(lapic_base);
    l.write(0xf0, l.read(0xf0) | 0x1ff);
    l.read(0x20) >> 24
}

/// Starts the AP `apic_id`; it parks on `info_hhdm`'s goto_address on the
/// stack ending at `stack_top`. Returns whether it checked in.
pub fn start_ap(lapic_base: u64, apic_id: u32, info_hhdm: u64, stack_top: u64) -> bool {
    AP_READY.store(false, Ordering::SeqCst);
    // SAFETY: the trampoline page is installed; the fields are u64-aligned.
    unsafe {
        field(OFF_STACK).write_volatile(stack_top);
        field(OFF_INFO).write_volatile(info_hhdm);
    }
    let l = Lapic(lapic_base);
    l.write(0x280, 0); // clear ESR
    l.send_ipi(apic_id, 0x4500); // INIT, level assert
    delay_us(10_000);
    let sipi = 0x4600 | (TRAMPOLINE >> 12) as u32;
    for _ in 0..2 {
        l.send_ipi(apic_id, sipi);
        delay_us(200);
        if AP_READY.load(Ordering::SeqCst) {
            return true;
        }
    }
    // TCG may take a while to schedule the new vCPU thread: wait up to 2 s.
    for _ in 0..20_000 {
        if AP_READY.load(Ordering::SeqCst) {
            return true;
        }
        delay_us(100);
    }
    false
}

/// First Rust code an AP runs (on the kernel's page tables).
extern "C" fn ap_entry(info_hhdm: u64, stack_top: u64) -> ! {
    AP_READY.store(true, Ordering::SeqCst);
    // SAFETY: info_hhdm is the HHDM address of this AP's limine_mp_info,
    // which the loader allocated and the new page tables map.
    let goto = unsafe { &*((info_hhdm + 16) as *const AtomicU64) };
    loop {
        let target = goto.load(Ordering::SeqCst);
        if target != 0 {
            // SAFETY: the kernel asked this AP to jump to `target` with the
            // protocol's register state: RDI = info, fresh stack, RBP = 0.
            unsafe {
                asm!(
                    "mov rsp, {stack}",
                    "xor ebp, ebp",
                    "push 0",
                    "jmp {target}",
                    stack = in(reg) stack_top,
                    target = in(reg) target,
                    in("rdi") info_hhdm,
                    options(noreturn)
                )
            }
        }
        core::hint::spin_loop();
    }
}
