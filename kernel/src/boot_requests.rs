//! Every Limine request the kernel makes, in one place and one section.
//!
//! The linker script orders `.requests_start_marker`, `.requests`,
//! `.requests_end_marker`; the base-revision tag sits inside `.requests`.
//! We ask for base revision 2 (`new()` would ask for 3, which Limine 8.x
//! does not grant); under 8.x only `is_supported()` is meaningful.

use limine::request::{
    BootloaderInfoRequest, ExecutableAddressRequest, ExecutableCmdlineRequest, HhdmRequest,
    MemoryMapRequest, ModuleRequest, MpRequest, RequestsEndMarker, RequestsStartMarker,
    RsdpRequest, StackSizeRequest,
};
use limine::BaseRevision;

/// Stack the BSP and every AP get from the loader.
pub const BOOT_STACK_SIZE: u64 = 256 * 1024;

#[used]
#[link_section = ".requests_start_marker"]
static START_MARKER: RequestsStartMarker = RequestsStartMarker::new();

#[used]
#[link_section = ".requests"]
pub static BASE_REVISION: BaseRevision = BaseRevision::with_revision(2);

#[used]
#[link_section = ".requests"]
pub static BOOTLOADER_INFO: BootloaderInfoRequest = BootloaderInfoRequest::new();

#[used]
#[link_section = ".requests"]
pub static HHDM: HhdmRequest = HhdmRequest::new();

#[used]
#[link_section = ".requests"]
pub static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();

#[used]
#[link_section = ".requests"]
pub static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();

#[used]
#[link_section = ".requests"]
pub static CMDLINE: ExecutableCmdlineRequest = ExecutableCmdlineRequest::new();

#[used]
#[link_section = ".requests"]
pub static MODULES: ModuleRequest = ModuleRequest::new();

#[used]
#[link_section = ".requests"]
pub static RSDP: RsdpRequest = RsdpRequest::new();

#[used]
#[link_section = ".requests"]
pub static STACK_SIZE: StackSizeRequest = StackSizeRequest::new().with_size(BOOT_STACK_SIZE);

#[used]
#[link_section = ".requests"]
pub static MP: MpRequest = MpRequest::new();

#[used]
#[link_section = ".requests_end_marker"]
static END_MARKER: RequestsEndMarker = RequestsEndMarker::new();
