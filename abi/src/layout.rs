//! The user address-space layout the kernel creates.

/// User binaries are linked at this address (static, non-PIE).
pub const USER_IMAGE_BASE: u64 = 0x0040_0000;
/// Start of the process heap (`grow_heap` extends it contiguously).
pub const USER_HEAP_BASE: u64 = 0x0000_2000_0000_0000;
/// Largest heap one process may grow to.
pub const USER_HEAP_MAX: u64 = 64 * 1024 * 1024;
/// Lowest address the kernel will hand out for rings and stacks.
pub const USER_MMAP_BASE: u64 = 0x0000_1000_0000_0000;
/// The main thread's stack ends here (grows down).
pub const USER_STACK_TOP: u64 = 0x0000_7fff_f000_0000;
/// Bytes of stack each user thread gets.
pub const USER_STACK_BYTES: u64 = 256 * 1024;
/// End of the user half (exclusive).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// Registers at the first instruction of a process's main thread:
/// RDI = the ring page address, RSI = the number of capability slots granted,
/// RDX = address of the process's argument string (NUL-terminated, may be 0).
pub const ENTRY_REGS_DOC: &str = "rdi=ring rsi=cap_count rdx=args";
