//! PVH entry (32-bit protected mode, paging off) -> long mode -> `loader_main`.
//!
//! QEMU finds `pvh_start32` through the XEN_ELFNOTE_PHYS32_ENTRY note and
//! enters it with EBX holding the physical address of `hvm_start_info`. The
//! stub zeroes .bss, identity-maps the first 4 GiB with 2 MiB pages, enables
//! PAE, long mode and NX, loads a Limine-shaped GDT (64-bit code at 0x28,
//! data at 0x30) and calls `loader_main(start_info)`.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.pvh, "a"
    .p2align 2
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32

    .section .text.pvh_entry, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov esi, ebx
    mov edi, offset __bss_start
    mov ecx, offset __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd
    mov edi, esi

    mov eax, offset boot_pdpt
    or eax, 3
    mov dword ptr [boot_pml4], eax
    mov eax, offset boot_pd
    or eax, 3
    xor ecx, ecx
2:  mov dword ptr [boot_pdpt + ecx * 8], eax
    add eax, 4096
    inc ecx
    cmp ecx, 4
    jne 2b
    xor ecx, ecx
3:  mov eax, ecx
    shl eax, 21
    or eax, 0x83
    mov dword ptr [boot_pd + ecx * 8], eax
    inc ecx
    cmp ecx, 2048
    jne 3b

    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, offset boot_pml4
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1
    mov cr0, eax
    lgdt [loader_gdtr]
    .byte 0xea
    .long 4f
    .word 0x28

    .code64
4:  mov ax, 0x30
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov rsp, offset boot_stack_top
    xor ebp, ebp
    call loader_main
    ud2

    .section .rodata.gdt, "a"
    .p2align 4
    .global loader_gdt
loader_gdt:
    .quad 0
    .quad 0x00009b000000ffff
    .quad 0x000093000000ffff
    .quad 0x00cf9b000000ffff
    .quad 0x00cf93000000ffff
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
loader_gdt_end:
    .p2align 3
    .global loader_gdtr
loader_gdtr:
    .word loader_gdt_end - loader_gdt - 1
    .quad loader_gdt

    .section .bss.boot_tables, "aw", @nobits
    .p2align 12
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4 * 4096
    .p2align 4
boot_stack: .skip 64 * 1024
boot_stack_top:
    .text
"#
);
