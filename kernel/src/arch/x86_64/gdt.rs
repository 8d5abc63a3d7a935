//! Per-CPU GDT and TSS with IST stacks.
//!
//! Selector layout (fixed for `syscall`/`sysret`): 0x08 kernel code,
//! 0x10 kernel data, 0x18 user data, 0x20 user code, 0x28 TSS.
//! IST 1 serves #DF, IST 2 NMI, IST 3 #MC, so those run on a known-good
//! stack even when the current one is the problem.

use core::cell::UnsafeCell;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

pub const KERNEL_CODE: u16 = 0x08;
pub const KERNEL_DATA: u16 = 0x10;
pub const IST_DOUBLE_FAULT: u16 = 1;
pub const IST_NMI: u16 = 2;
pub const IST_MACHINE_CHECK: u16 = 3;
const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
pub struct IstStack([u8; IST_STACK_SIZE]);

/// A CPU's GDT, TSS and IST stacks. Only the owning CPU writes them: once
/// in `load`, then the TSS's RSP0 on every switch (interrupts masked); the
/// CPU itself reads them, so they sit in cells rather than behind `&mut`.
pub struct CpuTables {
    gdt: UnsafeCell<GlobalDescriptorTable>,
    tss: UnsafeCell<TaskStateSegment>,
    ist: UnsafeCell<[IstStack; 3]>,
}

// SAFETY: only the owning CPU writes the cells (see the type's doc); other
// CPUs never read them.
unsafe impl Sync for CpuTables {}

impl CpuTables {
    pub const fn new() -> Self {
        CpuTables {
            gdt: UnsafeCell::new(GlobalDescriptorTable::new()),
            tss: UnsafeCell::new(TaskStateSegment::new()),
            ist: UnsafeCell::new([
                IstStack([0; IST_STACK_SIZE]),
                IstStack([0; IST_STACK_SIZE]),
                IstStack([0; IST_STACK_SIZE]),
            ]),
        }
    }

    /// The stack the CPU switches to on an interrupt from user mode.
    pub fn set_rsp0(&self, _irq: &crate::sync::IrqOff, top: u64) {
        // SAFETY: the owning CPU, interrupts masked: the CPU reads RSP0 only
        // when an interrupt arrives from user mode, which cannot happen now.
        unsafe { (*self.tss.get()).privilege_stack_table[0] = VirtAddr::new(top) };
    }

    /// Builds and loads this CPU's GDT and TSS.
    ///
    /// # Safety
    /// Called once, by the owning CPU, before it takes any interrupt.
    pub unsafe fn load(&'static self) {
        // SAFETY: per the contract nothing else reads or writes the tables
        // until this returns; they live in a 'static slot and never move.
        let (tss, gdt_cell, ist) =
            unsafe { (&mut *self.tss.get(), &mut *self.gdt.get(), &*self.ist.get()) };
        for (i, stack) in ist.iter().enumerate() {
            let top = VirtAddr::from_ptr(stack.0.as_ptr()) + IST_STACK_SIZE as u64;
            tss.interrupt_stack_table[i] = top;
        }
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        gdt.append(Descriptor::user_data_segment());
        gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS lives in this CPU's 'static slot and is never moved.
        let tss_ref: &'static TaskStateSegment = unsafe { &*self.tss.get() };
        let tss = gdt.append(Descriptor::tss_segment(tss_ref));
        debug_assert_eq!((code.0, data.0), (KERNEL_CODE, KERNEL_DATA));
        *gdt_cell = gdt;
        // SAFETY: as above: the GDT is 'static and no longer changes.
        let loaded: &'static GlobalDescriptorTable = unsafe { &*self.gdt.get() };
        loaded.load();
        // SAFETY: the selectors index descriptors of the GDT just loaded.
        unsafe {
            CS::set_reg(code);
            SS::set_reg(data);
            DS::set_reg(data);
            ES::set_reg(data);
            load_tss(tss);
        }
    }
}
