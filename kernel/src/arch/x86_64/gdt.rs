//! Per-CPU GDT and TSS with IST stacks.
//!
//! Selector layout (fixed for `syscall`/`sysret`): 0x08 kernel code,
//! 0x10 kernel data, 0x18 user data, 0x20 user code, 0x28 TSS.
//! IST 1 serves #DF, IST 2 NMI, IST 3 #MC, so those run on a known-good
//! stack even when the current one is the problem.

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

pub struct CpuTables {
    gdt: GlobalDescriptorTable,
    tss: TaskStateSegment,
    ist: [IstStack; 3],
}

impl CpuTables {
    pub const fn new() -> Self {
        CpuTables {
            gdt: GlobalDescriptorTable::new(),
            tss: TaskStateSegment::new(),
            ist: [IstStack([0; IST_STACK_SIZE]), IstStack([0; IST_STACK_SIZE]), IstStack([0; IST_STACK_SIZE])],
        }
    }

    /// The stack the CPU switches to on an interrupt from user mode.
    pub fn set_rsp0(&mut self, top: u64) {
        self.tss.privilege_stack_table[0] = VirtAddr::new(top);
    }

    /// Builds and loads this CPU's GDT and TSS.
    pub fn load(&'static mut self) {
        for (i, stack) in self.ist.iter().enumerate() {
            let top = VirtAddr::from_ptr(stack.0.as_ptr()) + IST_STACK_SIZE as u64;
            self.tss.interrupt_stack_table[i] = top;
        }
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        gdt.append(Descriptor::user_data_segment());
        gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS lives in this CPU's 'static slot and is never moved.
        let tss_ref: &'static TaskStateSegment = unsafe { &*(&raw const self.tss) };
        let tss = gdt.append(Descriptor::tss_segment(tss_ref));
        debug_assert_eq!((code.0, data.0), (KERNEL_CODE, KERNEL_DATA));
        self.gdt = gdt;
        let this: &'static CpuTables = self;
        this.gdt.load();
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
