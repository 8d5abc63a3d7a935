//! Limine boot protocol numbers and response layouts, as the loader writes them.
//!
//! Layouts follow the protocol specification (and agree with the `limine`
//! crate the kernel uses). Pointers inside responses are HHDM virtual
//! addresses, stored as `u64`.

/// First two words of every request id.
pub const COMMON_MAGIC: [u64; 2] = [0xc7b1dd30df4c8b88, 0x0a82e883a194f07b];
/// Base revision tag: `[MAGIC_0, MAGIC_1, revision]`.
pub const BASE_REVISION_MAGIC: [u64; 2] = [0xf9562b2d5c95a6c8, 0x6a7b384944536bdc];
/// Highest base revision this loader implements.
pub const MAX_BASE_REVISION: u64 = 2;
pub const REQUESTS_START_MARKER: [u64; 4] =
    [0xf6b8f4b39de7d1ae, 0xfab91a6940fcb9cf, 0x785c6ed015d3e316, 0x181e920a7852b9d9];
pub const REQUESTS_END_MARKER: [u64; 2] = [0xadc0e0531bb10d03, 0x9572709f31764c62];

/// Where the higher-half direct map starts (no KASLR).
pub const HHDM_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Stack size given to the BSP and each AP unless the kernel asks otherwise.
pub const DEFAULT_STACK_SIZE: u64 = 64 * 1024;

/// The requests this loader answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    BootloaderInfo,
    StackSize,
    Hhdm,
    Mp,
    MemoryMap,
    ExecutableFile,
    Module,
    Rsdp,
    ExecutableAddress,
    ExecutableCmdline,
    PagingMode,
}

impl Request {
    pub const ALL: [Request; 11] = [
        Request::BootloaderInfo,
        Request::StackSize,
        Request::Hhdm,
        Request::Mp,
        Request::MemoryMap,
        Request::ExecutableFile,
        Request::Module,
        Request::Rsdp,
        Request::ExecutableAddress,
        Request::ExecutableCmdline,
        Request::PagingMode,
    ];

    /// The last two words of the request id.
    pub const fn id(self) -> [u64; 2] {
        match self {
            Request::BootloaderInfo => [0xf55038d8e2a1202f, 0x279426fcf5f59740],
            Request::StackSize => [0x224ef0460a8e8926, 0xe1cb0fc25f46ea3d],
            Request::Hhdm => [0x48dcf1cb8ad2b852, 0x63984e959a98244b],
            Request::Mp => [0x95a67b819a1b857e, 0xa0b61b723b6a73e0],
            Request::MemoryMap => [0x67cf3d9d378a806f, 0xe304acdfc50c3c62],
            Request::ExecutableFile => [0xad97e90e83f1ed67, 0x31eb5d1c5ff23b69],
            Request::Module => [0x3e7e279702be32af, 0xca1c4f3bd1280cee],
            Request::Rsdp => [0xc5e77b6b397e7b43, 0x27637845accdcf3c],
            Request::ExecutableAddress => [0x71ba76863cc55f63, 0xb2644a48c516a487],
            Request::ExecutableCmdline => [0x4b161536e598651e, 0xb390ad4a2f1f303a],
            Request::PagingMode => [0x95c1a0edab0944cb, 0xa4e5cb3842f7488a],
        }
    }

    pub fn from_id(id: [u64; 2]) -> Option<Request> {
        Request::ALL.into_iter().find(|r| r.id() == id)
    }
}

/// Byte offsets inside a request: `id[4]`, `revision`, `response`, then
/// request-specific fields.
pub const REQ_REVISION: usize = 32;
pub const REQ_RESPONSE: usize = 40;
pub const REQ_FIRST_FIELD: usize = 48;

/// Memory map entry types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u64)]
pub enum MemoryKind {
    Usable = 0,
    Reserved = 1,
    AcpiReclaimable = 2,
    AcpiNvs = 3,
    BadMemory = 4,
    BootloaderReclaimable = 5,
    ExecutableAndModules = 6,
    Framebuffer = 7,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemmapEntry {
    pub base: u64,
    pub length: u64,
    pub kind: u64,
}

#[repr(C)]
pub struct BootloaderInfoResponse {
    pub revision: u64,
    pub name: u64,
    pub version: u64,
}

#[repr(C)]
pub struct HhdmResponse {
    pub revision: u64,
    pub offset: u64,
}

#[repr(C)]
pub struct StackSizeResponse {
    pub revision: u64,
}

#[repr(C)]
pub struct MemmapResponse {
    pub revision: u64,
    pub entry_count: u64,
    pub entries: u64,
}

#[repr(C)]
pub struct ExecutableAddressResponse {
    pub revision: u64,
    pub physical_base: u64,
    pub virtual_base: u64,
}

#[repr(C)]
pub struct CmdlineResponse {
    pub revision: u64,
    pub cmdline: u64,
}

#[repr(C)]
pub struct RsdpResponse {
    pub revision: u64,
    pub address: u64,
}

#[repr(C)]
pub struct PagingModeResponse {
    pub revision: u64,
    pub mode: u64,
}

/// `struct limine_file`.
#[repr(C)]
pub struct File {
    pub revision: u64,
    pub address: u64,
    pub size: u64,
    pub path: u64,
    pub cmdline: u64,
    pub media_type: u32,
    pub unused: u32,
    pub tftp_ip: u32,
    pub tftp_port: u32,
    pub partition_index: u32,
    pub mbr_disk_id: u32,
    pub gpt_disk_uuid: [u8; 16],
    pub gpt_part_uuid: [u8; 16],
    pub part_uuid: [u8; 16],
}

#[repr(C)]
pub struct FileResponse {
    pub revision: u64,
    pub file: u64,
}

#[repr(C)]
pub struct ModuleResponse {
    pub revision: u64,
    pub module_count: u64,
    pub modules: u64,
}

/// `struct limine_mp_info` (x86-64).
#[repr(C)]
pub struct MpInfo {
    pub processor_id: u32,
    pub lapic_id: u32,
    pub reserved: u64,
    /// Written by the kernel; the parked AP jumps there.
    pub goto_address: u64,
    pub extra_argument: u64,
}

#[repr(C)]
pub struct MpResponse {
    pub revision: u64,
    pub flags: u32,
    pub bsp_lapic_id: u32,
    pub cpu_count: u64,
    pub cpus: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_the_protocol() {
        assert_eq!(size_of::<File>(), 112);
        assert_eq!(offset_of!(MpInfo, goto_address), 16);
        assert_eq!(size_of::<MpInfo>(), 32);
        assert_eq!(offset_of!(MpResponse, cpu_count), 16);
        assert_eq!(size_of::<MemmapEntry>(), 24);
    }

    #[test]
    fn request_ids_are_unique_and_round_trip() {
        for r in Request::ALL {
            assert_eq!(Request::from_id(r.id()), Some(r));
        }
        assert_eq!(Request::from_id([1, 2]), None);
    }
}
