//! Copying to and from user memory without ever faulting the kernel.
//!
//! Each page is looked up in the process's page tables first: it must be
//! present, user-accessible, below the user top and (for writes) writable.
//! The bytes are then copied through the HHDM, so a bad pointer from user
//! space is an `Error::BadAddress`, never a kernel page fault.

use crate::mm::address_space::AddressSpace;
use crate::mm::paging::mapper;
use crate::mm::phys_to_virt;
use capos_abi::error::Error;
use capos_abi::layout::USER_TOP;
use x86_64::structures::paging::mapper::TranslateResult;
use x86_64::structures::paging::{PageTableFlags as F, Translate};
use x86_64::VirtAddr;

/// Physical address of user `addr` if mapped with the needed rights.
fn user_phys(space: &AddressSpace, addr: u64, write: bool) -> Result<u64, Error> {
    if addr >= USER_TOP {
        return Err(Error::BadAddress);
    }
    // SAFETY: translation only reads the tables; concurrent changes by the
    // owning process at worst make the lookup fail or hit a frame the
    // process still owned a moment ago.
    let m = unsafe { mapper(space.pml4()) };
    match m.translate(VirtAddr::new(addr)) {
        TranslateResult::Mapped { frame, offset, flags } => {
            if !flags.contains(F::USER_ACCESSIBLE) || (write && !flags.contains(F::WRITABLE)) {
                return Err(Error::BadAddress);
            }
            Ok(frame.start_address().as_u64() + offset)
        }
        _ => Err(Error::BadAddress),
    }
}

fn for_each_chunk(space: &AddressSpace, addr: u64, len: usize, write: bool, mut f: impl FnMut(*mut u8, usize, usize)) -> Result<(), Error> {
    let end = addr.checked_add(len as u64).ok_or(Error::BadAddress)?;
    if end > USER_TOP {
        return Err(Error::BadAddress);
    }
    let mut done = 0usize;
    while done < len {
        let a = addr + done as u64;
        let in_page = (4096 - (a % 4096)) as usize;
        let n = in_page.min(len - done);
        let phys = user_phys(space, a, write)?;
        f(phys_to_virt(phys), done, n);
        done += n;
    }
    Ok(())
}

/// Copies `buf.len()` bytes from user `addr`.
pub fn copy_from_user(space: &AddressSpace, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
    let len = buf.len();
    for_each_chunk(space, addr, len, false, |src, off, n| {
        // SAFETY: `src` is the HHDM address of n mapped user bytes.
        unsafe { core::ptr::copy_nonoverlapping(src, buf[off..].as_mut_ptr(), n) }
    })
}

/// Copies `data` to user `addr` (which must be writable).
pub fn copy_to_user(space: &AddressSpace, addr: u64, data: &[u8]) -> Result<(), Error> {
    for_each_chunk(space, addr, data.len(), true, |dst, off, n| {
        // SAFETY: `dst` is the HHDM address of n mapped writable user bytes.
        unsafe { core::ptr::copy_nonoverlapping(data[off..].as_ptr(), dst, n) }
    })
}

/// Reads a user `u32` (must be 4-byte aligned).
pub fn read_u32(space: &AddressSpace, addr: u64) -> Result<u32, Error> {
    if addr % 4 != 0 {
        return Err(Error::BadAddress);
    }
    let mut b = [0u8; 4];
    copy_from_user(space, addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads a user stack frame at `fp`: (saved frame pointer, return address).
/// `None` if it is not readable user memory (a stack walk then stops).
pub fn read_frame(space: &AddressSpace, fp: u64) -> Option<(u64, u64)> {
    let mut pair = [0u8; 16];
    copy_from_user(space, fp, &mut pair).ok()?;
    let word = |b: &[u8]| b.try_into().ok().map(u64::from_le_bytes);
    Some((word(&pair[..8])?, word(&pair[8..])?))
}

/// Reads up to `max` bytes from user memory into a new vector.
pub fn read_vec(space: &AddressSpace, addr: u64, len: usize, max: usize) -> Result<alloc::vec::Vec<u8>, Error> {
    if len > max {
        return Err(Error::BadParams);
    }
    let mut v = alloc::vec![0u8; len];
    copy_from_user(space, addr, &mut v)?;
    Ok(v)
}
