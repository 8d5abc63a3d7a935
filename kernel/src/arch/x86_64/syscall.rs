//! `syscall`/`sysret` entry and the first entry into user mode.
//!
//! Entry: `swapgs` (GS base -> this CPU's `PerCpu`), save the user RSP in
//! `PerCpu::user_rsp`, switch to the thread's kernel stack
//! (`PerCpu::kernel_stack_top`), push a [`SyscallFrame`], run the dispatcher
//! with interrupts enabled, restore, `swapgs`, `sysretq`. `sysretq` is only
//! used with the RIP the CPU saved (canonical, user); a thread's first entry
//! to user mode goes through `iretq` ([`enter_user`]).
//!
//! Selectors (see gdt.rs): STAR[47:32] = 0x08 gives kernel CS 0x08 / SS
//! 0x10; STAR[63:48] = 0x10 gives user SS 0x18|3 and CS 0x20|3 on sysret.

use super::percpu::PerCpu;
use core::arch::{asm, global_asm};
use core::mem::offset_of;
use x86_64::registers::model_specific::{Efer, EferFlags, KernelGsBase, LStar, Msr, SFMask};
use x86_64::registers::rflags::RFlags;
use x86_64::VirtAddr;

pub const USER_CS: u64 = 0x20 | 3;
pub const USER_SS: u64 = 0x18 | 3;
const IA32_STAR: u32 = 0xc000_0081;
const IA32_FS_BASE: u32 = 0xc000_0100;

/// Registers saved at `syscall` entry, in push order reversed.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct SyscallFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r9: u64,
    pub r8: u64,
    pub r10: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// Syscall number in, result out.
    pub rax: u64,
    /// User RIP (the CPU put it in RCX).
    pub rip: u64,
    /// User RFLAGS (the CPU put it in R11).
    pub rflags: u64,
    pub rsp: u64,
}

global_asm!(
    r#"
    .section .text.syscall, "ax"
    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kstack}]
    push qword ptr gs:[{user_rsp}]
    push r11
    push rcx
    push rax
    push rdi
    push rsi
    push rdx
    push r10
    push r8
    push r9
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    xor ebp, ebp
    sti
    call {dispatch}
    cli
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r9
    pop r8
    pop r10
    pop rdx
    pop rsi
    pop rdi
    pop rax
    pop rcx
    pop r11
    pop rsp
    swapgs
    sysretq
    .text
"#,
    user_rsp = const offset_of!(PerCpu, user_rsp),
    kstack = const offset_of!(PerCpu, kernel_stack_top),
    dispatch = sym syscall_dispatch,
);

extern "C" {
    fn syscall_entry();
}

/// Called by `syscall_entry` with interrupts enabled: the kernel's hook.
extern "C" fn syscall_dispatch(f: &mut SyscallFrame) {
    #[cfg(feature = "measure")]
    super::hooks::cpu_state(super::hooks::CpuState::Kernel);
    (super::hooks::hooks().syscall)(f);
    #[cfg(feature = "measure")]
    super::hooks::cpu_state(super::hooks::CpuState::User);
}

/// Enables `syscall` on the calling CPU.
pub fn init_this_cpu() {
    // SAFETY: enabling SCE and programming STAR/LSTAR/SFMASK only changes
    // how `syscall` behaves; the entry point above is ready for it.
    unsafe {
        Efer::update(|f| {
            f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS | EferFlags::NO_EXECUTE_ENABLE)
        });
        Msr::new(IA32_STAR).write((0x10u64 << 48) | (0x08u64 << 32));
    }
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    // IF, DF, TF and AC are cleared on entry.
    SFMask::write(
        RFlags::INTERRUPT_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::ALIGNMENT_CHECK,
    );
    KernelGsBase::write(VirtAddr::new(0));
}

/// Sets the user FS base (TLS) of the calling CPU.
pub fn set_fs_base(v: u64) {
    // SAFETY: FS_BASE only affects user-mode FS-relative accesses; the kernel
    // never uses FS.
    unsafe { Msr::new(IA32_FS_BASE).write(v) };
}

/// Leaves the kernel for user mode at `rip` with stack `rsp` and the first
/// three argument registers set; never returns.
pub fn enter_user(rip: u64, rsp: u64, rdi: u64, rsi: u64, rdx: u64) -> ! {
    #[cfg(feature = "measure")]
    super::hooks::cpu_state(super::hooks::CpuState::User);
    // SAFETY: the caller's thread has a user address space loaded that maps
    // rip and rsp; interrupts are masked from `cli` to `iretq`, and `swapgs`
    // leaves the kernel GS in KERNEL_GS_BASE as the entry paths expect.
    unsafe {
        asm!(
            "cli",
            "swapgs",
            "push {ss}",
            "push {rsp}",
            "push 0x202",
            "push {cs}",
            "push {rip}",
            "xor eax, eax",
            "xor ebx, ebx",
            "xor ecx, ecx",
            "xor ebp, ebp",
            "xor r8d, r8d",
            "xor r9d, r9d",
            "xor r10d, r10d",
            "xor r11d, r11d",
            "xor r12d, r12d",
            "xor r13d, r13d",
            "xor r14d, r14d",
            "xor r15d, r15d",
            "iretq",
            ss = const USER_SS,
            cs = const USER_CS,
            rsp = in(reg) rsp,
            rip = in(reg) rip,
            in("rdi") rdi,
            in("rsi") rsi,
            in("rdx") rdx,
            options(noreturn)
        )
    }
}
