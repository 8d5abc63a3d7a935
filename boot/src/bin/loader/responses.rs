//! Loading the kernel and answering its Limine requests.

use crate::arena::{hhdm, Arena};
use crate::paging::PageTables;
use crate::pvh::BootData;
use crate::{fail, pit, smp};
use capos_boot::acpi;
use capos_boot::archive;
use capos_boot::conf;
use capos_boot::elf_plan::{self, LoadPlan};
use capos_boot::memmap::{self, Typed};
use capos_boot::phys_alloc::PhysAlloc;
use capos_boot::proto::*;
use capos_boot::requests::{self, Scan};
use capos_boot::{align_up, PAGE_SIZE};

const ARENA_SIZE: u64 = 256 * 1024;
const MAX_MEMMAP: usize = 256;
const FOUR_GIB: u64 = 4 << 30;

/// Unwraps a boot step or stops with a message naming it.
macro_rules! step {
    ($e:expr, $what:literal) => {
        match $e {
            Ok(v) => v,
            Err(err) => fail(format_args!(concat!($what, ": {:?}"), err)),
        }
    };
}

fn phys_slice(base: u64, len: u64) -> &'static [u8] {
    // SAFETY: callers pass ranges inside the boot archive or memory the
    // loader allocated, all below 4 GiB and identity mapped.
    unsafe { core::slice::from_raw_parts(base as *const u8, len as usize) }
}

fn phys_slice_mut(base: u64, len: u64) -> &'static mut [u8] {
    // SAFETY: as in `phys_slice`; the loader owns the range exclusively.
    unsafe { core::slice::from_raw_parts_mut(base as *mut u8, len as usize) }
}

fn write_u64(phys: u64, v: u64) {
    // SAFETY: `phys` is an 8-byte aligned field inside the loaded kernel image.
    unsafe { (phys as *mut u64).write_volatile(v) }
}

fn read_u64(phys: u64) -> u64 {
    // SAFETY: as in `write_u64`.
    unsafe { (phys as *const u64).read_volatile() }
}

/// Copies `data` into fresh pages of `kind`; returns the physical address.
fn copy_in(alloc: &mut PhysAlloc, data: &[u8], kind: MemoryKind) -> u64 {
    let at = step!(alloc.alloc(data.len() as u64, PAGE_SIZE, kind), "out of memory for a module");
    phys_slice_mut(at, data.len() as u64).copy_from_slice(data);
    at
}

struct Loaded {
    plan: LoadPlan,
    phys: u64,
    scan: Scan,
}

impl Loaded {
    fn request(&self, r: Request) -> Option<u64> {
        self.scan.get(r).map(|off| self.phys + off as u64)
    }
    fn respond(&self, r: Request, response_phys: u64) {
        if let Some(req) = self.request(r) {
            write_u64(req + REQ_RESPONSE as u64, hhdm(response_phys));
        }
    }
}

fn load_kernel(alloc: &mut PhysAlloc, elf: &[u8]) -> Loaded {
    let plan = step!(elf_plan::plan(elf), "kernel ELF rejected");
    let phys = step!(
        alloc.alloc(plan.span, 2 << 20, MemoryKind::ExecutableAndModules),
        "no room for the kernel"
    );
    let image = phys_slice_mut(phys, plan.span);
    image.fill(0);
    for s in plan.segments() {
        let off = (s.vaddr - plan.virtual_base) as usize;
        let src = &elf[s.file_offset as usize..(s.file_offset + s.file_size) as usize];
        image[off..off + src.len()].copy_from_slice(src);
    }
    let scan = step!(requests::scan(image), "kernel requests");
    Loaded { plan, phys, scan }
}

/// The boot archive and what its `limine.conf` says to boot.
struct Config {
    archive: &'static [u8],
    entry: conf::BootEntry<'static>,
}

impl Config {
    /// Reads `boot/limine.conf` from the archive the PVH data points at.
    fn read(boot: &BootData) -> Config {
        let (arc_base, arc_len) = boot.archive;
        if arc_base.checked_add(arc_len).is_none_or(|e| e > FOUR_GIB) {
            fail(format_args!("boot archive at {arc_base:#x}+{arc_len:#x} is not below 4 GiB"));
        }
        let archive = phys_slice(arc_base, arc_len);
        let conf_file = match archive::find(archive, "boot/limine.conf") {
            Ok(Some(e)) => e,
            Ok(None) => fail(format_args!("boot archive has no boot/limine.conf")),
            Err(e) => fail(format_args!("boot archive unreadable: {e:?}")),
        };
        let text = &archive[conf_file.offset..conf_file.offset + conf_file.size];
        let conf_text = step!(core::str::from_utf8(text), "limine.conf is not UTF-8");
        let entry = step!(conf::parse(conf_text), "limine.conf");
        Config { archive, entry }
    }

    /// The archive file at `path` (the boot stops if it is missing).
    fn file(&self, path: &str) -> &'static [u8] {
        match archive::find(self.archive, path) {
            Ok(Some(e)) => &self.archive[e.offset..e.offset + e.size],
            Ok(None) => fail(format_args!("boot archive has no {path}")),
            Err(e) => fail(format_args!("boot archive unreadable: {e:?}")),
        }
    }
}

/// Whole boot after the PVH data is safe: never returns.
pub fn boot(boot: &BootData, loader: (u64, u64), tsc_entry: u64) -> ! {
    let cfg = Config::read(boot);
    let kernel_elf = cfg.file(cfg.entry.kernel_path);
    let (arc_base, arc_len) = boot.archive;
    // Low memory below 1 MiB is left alone except the trampoline page.
    let busy = [
        (arc_base, arc_base + arc_len),
        (0x1000, smp::TRAMPOLINE),
        (smp::TRAMPOLINE + PAGE_SIZE, 0x10_0000),
    ];
    let mut alloc = step!(PhysAlloc::new(boot.e820(), &busy, PAGE_SIZE, FOUR_GIB), "memory map");
    step!(
        alloc.note(loader.0, loader.1 - loader.0, MemoryKind::BootloaderReclaimable),
        "loader image"
    );
    step!(
        alloc.reserve(smp::TRAMPOLINE, PAGE_SIZE, MemoryKind::BootloaderReclaimable),
        "AP trampoline page"
    );

    let k = load_kernel(&mut alloc, kernel_elf);
    let arena_base = step!(
        alloc.alloc(ARENA_SIZE, PAGE_SIZE, MemoryKind::BootloaderReclaimable),
        "response arena"
    );
    phys_slice_mut(arena_base, ARENA_SIZE).fill(0);
    let mut arena = Arena::new(arena_base, ARENA_SIZE);

    answer_base_revision(&k);
    let cmdline = step!(arena.put_str(cfg.entry.cmdline), "arena");
    answer_files(&cfg, &k, &mut alloc, &mut arena, kernel_elf, cmdline);
    let stack_size = answer_stack_size(&k, &mut arena);
    let bsp_stack =
        step!(alloc.alloc(stack_size, PAGE_SIZE, MemoryKind::BootloaderReclaimable), "BSP stack");
    answer_info(boot, &k, &mut arena, cmdline);
    let cr3 = build_page_tables(boot, &k, &mut alloc);
    let cpus = if k.request(Request::Mp).is_some() && boot.rsdp != 0 {
        start_aps(&mut alloc, &mut arena, &k, boot.rsdp, cr3, stack_size)
    } else {
        1
    };
    // The memory map goes last: it must describe every allocation above.
    answer_memory_map(boot, &k, &alloc, &mut arena);

    let tsc_handoff = pit::rdtsc();
    say!(
        "kernel {} ({:#x} bytes at {:#x}), {} module(s), {} cpu(s), arena {} bytes, tsc entry={} handoff={}",
        cfg.entry.kernel_path,
        k.plan.span,
        k.phys,
        cfg.entry.modules().len(),
        cpus,
        arena.used(),
        tsc_entry,
        tsc_handoff
    );
    // Stacks are handed over as HHDM addresses so they stay valid once the
    // kernel drops the identity map.
    jump(cr3, hhdm(bsp_stack + stack_size), k.plan.entry)
}

/// Base revision: 2 is what this loader implements; a higher ask is left
/// unacknowledged (is_supported() stays false) and served as revision 2.
fn answer_base_revision(k: &Loaded) {
    if let Some(off) = k.scan.base_revision {
        let tag = k.phys + off as u64;
        let asked = read_u64(tag + 16);
        write_u64(tag + 8, MAX_BASE_REVISION.min(asked));
        if asked <= MAX_BASE_REVISION {
            write_u64(tag + 16, 0);
        }
    }
}

/// A Limine `File` for `size` bytes at physical `addr`; returns its address.
fn put_file(arena: &mut Arena, addr: u64, size: u64, path: u64, cmdline: u64) -> u64 {
    let f = File {
        revision: 0,
        address: hhdm(addr),
        size,
        path,
        cmdline,
        media_type: 0,
        unused: 0,
        tftp_ip: 0,
        tftp_port: 0,
        partition_index: 0,
        mbr_disk_id: 0,
        gpt_disk_uuid: [0; 16],
        gpt_part_uuid: [0; 16],
        part_uuid: [0; 16],
    };
    step!(arena.put(f), "arena")
}

/// The executable file and the modules, each copied to fresh memory.
fn answer_files(
    cfg: &Config,
    k: &Loaded,
    alloc: &mut PhysAlloc,
    arena: &mut Arena,
    kernel_elf: &[u8],
    cmdline: u64,
) {
    let kernel_path = step!(arena.put_str(concat_path(cfg.entry.kernel_path).as_str()), "arena");
    let kernel_copy = copy_in(alloc, kernel_elf, MemoryKind::ExecutableAndModules);
    let kfile = put_file(arena, kernel_copy, kernel_elf.len() as u64, kernel_path, cmdline);
    let r = step!(arena.put(FileResponse { revision: 0, file: hhdm(kfile) }), "arena");
    k.respond(Request::ExecutableFile, r);
    if k.request(Request::Module).is_none() {
        return;
    }
    let mods = cfg.entry.modules();
    let array = step!(arena.alloc(8 * mods.len().max(1) as u64, 8), "arena");
    for (i, m) in mods.iter().enumerate() {
        let data = cfg.file(m.path);
        let at = copy_in(alloc, data, MemoryKind::ExecutableAndModules);
        let path = step!(arena.put_str(concat_path(m.path).as_str()), "arena");
        let cmd = step!(arena.put_str(m.cmdline), "arena");
        let f = put_file(arena, at, data.len() as u64, path, cmd);
        write_u64(array + 8 * i as u64, hhdm(f));
    }
    let r = step!(
        arena.put(ModuleResponse {
            revision: 0,
            module_count: mods.len() as u64,
            modules: hhdm(array)
        }),
        "arena"
    );
    k.respond(Request::Module, r);
}

/// The stack size the kernel asked for (at least the default).
fn answer_stack_size(k: &Loaded, arena: &mut Arena) -> u64 {
    match k.request(Request::StackSize) {
        Some(req) => {
            let r = step!(arena.put(StackSizeResponse { revision: 0 }), "arena");
            k.respond(Request::StackSize, r);
            align_up(read_u64(req + REQ_FIRST_FIELD as u64).max(DEFAULT_STACK_SIZE), PAGE_SIZE)
        }
        None => DEFAULT_STACK_SIZE,
    }
}

/// Bootloader info, HHDM, executable address, command line, paging mode, RSDP.
fn answer_info(boot: &BootData, k: &Loaded, arena: &mut Arena, cmdline: u64) {
    let name = step!(arena.put_str("capOS-boot"), "arena");
    let version = step!(arena.put_str(env!("CARGO_PKG_VERSION")), "arena");
    let r = step!(arena.put(BootloaderInfoResponse { revision: 0, name, version }), "arena");
    k.respond(Request::BootloaderInfo, r);
    let r = step!(arena.put(HhdmResponse { revision: 0, offset: HHDM_OFFSET }), "arena");
    k.respond(Request::Hhdm, r);
    let r = step!(
        arena.put(ExecutableAddressResponse {
            revision: 0,
            physical_base: k.phys,
            virtual_base: k.plan.virtual_base
        }),
        "arena"
    );
    k.respond(Request::ExecutableAddress, r);
    let r = step!(arena.put(CmdlineResponse { revision: 0, cmdline }), "arena");
    k.respond(Request::ExecutableCmdline, r);
    let r = step!(arena.put(PagingModeResponse { revision: 0, mode: 0 }), "arena");
    k.respond(Request::PagingMode, r);
    if boot.rsdp != 0 {
        let r = step!(arena.put(RsdpResponse { revision: 0, address: hhdm(boot.rsdp) }), "arena");
        k.respond(Request::Rsdp, r);
    }
}

/// Page tables: the HHDM covers everything the kernel may own or read.
fn build_page_tables(boot: &BootData, k: &Loaded, alloc: &mut PhysAlloc) -> u64 {
    let phys_end = boot
        .e820()
        .iter()
        .filter(|e| memmap::e820_kind(e.kind) != MemoryKind::Reserved)
        .map(|e| e.base.saturating_add(e.length))
        .max()
        .unwrap_or(FOUR_GIB);
    let mut pt = step!(PageTables::new(alloc), "page tables");
    step!(pt.map_low_and_hhdm(phys_end), "page tables");
    step!(pt.map_kernel(&k.plan, k.phys), "page tables");
    pt.pml4
}

/// The memory map, describing every allocation made so far.
fn answer_memory_map(boot: &BootData, k: &Loaded, alloc: &PhysAlloc, arena: &mut Arena) {
    if k.request(Request::MemoryMap).is_none() {
        return;
    }
    let entries = step!(arena.alloc((MAX_MEMMAP * size_of::<MemmapEntry>()) as u64, 8), "arena");
    let pointers = step!(arena.alloc((MAX_MEMMAP * 8) as u64, 8), "arena");
    let response = step!(
        arena.put(MemmapResponse { revision: 0, entry_count: 0, entries: hhdm(pointers) }),
        "arena"
    );
    // SAFETY: `entries` is an arena block sized for MAX_MEMMAP entries.
    let out = unsafe { core::slice::from_raw_parts_mut(entries as *mut MemmapEntry, MAX_MEMMAP) };
    let typed: &[Typed] = alloc.allocations();
    let n = step!(memmap::build(boot.e820(), typed, out), "memory map");
    for i in 0..n {
        write_u64(pointers + 8 * i as u64, hhdm(entries + (i * size_of::<MemmapEntry>()) as u64));
    }
    write_u64(response + 8, n as u64);
    k.respond(Request::MemoryMap, response);
}

/// `boot/x` -> `/boot/x` (Limine reports paths from the volume root).
fn concat_path(p: &str) -> PathBuf {
    let mut b = PathBuf { bytes: [0; 256], len: 0 };
    b.push("/");
    b.push(p);
    b
}

struct PathBuf {
    bytes: [u8; 256],
    len: usize,
}

impl PathBuf {
    fn push(&mut self, s: &str) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

fn start_aps(
    alloc: &mut PhysAlloc,
    arena: &mut Arena,
    k: &Loaded,
    rsdp: u64,
    cr3: u64,
    stack_size: u64,
) -> usize {
    let madt = step!(
        acpi::parse_madt(rsdp, |a, l| a
            .checked_add(l as u64)
            .filter(|&e| e <= FOUR_GIB)
            .map(|_| phys_slice(a, l as u64))),
        "ACPI MADT"
    );
    let lapic = madt.lapic_base;
    let bsp = smp::bsp_lapic_id(lapic);
    smp::install(cr3);
    let array = step!(arena.alloc(8 * madt.count as u64, 8), "arena");
    let mut count = 0u64;
    for cpu in madt.cpus() {
        let info = step!(
            arena.put(MpInfo {
                processor_id: cpu.processor_id,
                lapic_id: cpu.apic_id,
                reserved: 0,
                goto_address: 0,
                extra_argument: 0
            }),
            "arena"
        );
        if cpu.apic_id != bsp {
            let stack = step!(
                alloc.alloc(stack_size, PAGE_SIZE, MemoryKind::BootloaderReclaimable),
                "AP stack"
            );
            if !smp::start_ap(lapic, cpu.apic_id, hhdm(info), hhdm(stack + stack_size)) {
                say!("AP with LAPIC id {} did not start; leaving it out", cpu.apic_id);
                continue;
            }
        }
        write_u64(array + 8 * count, hhdm(info));
        count += 1;
    }
    let r = step!(
        arena.put(MpResponse {
            revision: 0,
            flags: 0,
            bsp_lapic_id: bsp,
            cpu_count: count,
            cpus: hhdm(array)
        }),
        "arena"
    );
    k.respond(Request::Mp, r);
    count as usize
}

fn jump(cr3: u64, stack_top: u64, entry: u64) -> ! {
    // SAFETY: cr3 maps the loader (identity), the HHDM and the kernel; the
    // stack is ours to give; the kernel entry follows the Limine protocol:
    // IF=0, a zero return address on the stack, RBP = 0.
    unsafe {
        core::arch::asm!(
            "mov cr3, {cr3}",
            "mov rsp, {stack}",
            "xor ebp, ebp",
            "push 0",
            "jmp {entry}",
            cr3 = in(reg) cr3,
            stack = in(reg) stack_top,
            entry = in(reg) entry,
            options(noreturn)
        )
    }
}
