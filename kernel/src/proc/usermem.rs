//! User memory as a type: the kernel never holds a user address as a bare
//! integer past the ring boundary.
//!
//! A [`UserSlice`] is a range of user virtual memory, checked when it is
//! made to lie entirely in the user half (no wrap-around). Its bytes are
//! read and written only through [`AddressSpace::access`], which checks each
//! page's rights and holds the space's lock across the walk and the copy:
//! a bad pointer is `Error::BadAddress`, never a kernel fault, and a frame
//! can never be freed under a copy.

use crate::mm::address_space::AddressSpace;
use alloc::vec::Vec;
use capos_abi::error::Error;
use capos_abi::layout::USER_TOP;

/// `len` bytes of user memory at `addr`, inside the user half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSlice {
    addr: u64,
    len: usize,
}

impl UserSlice {
    pub fn new(addr: u64, len: usize) -> Result<Self, Error> {
        let end = addr.checked_add(len as u64).ok_or(Error::BadAddress)?;
        if end > USER_TOP {
            return Err(Error::BadAddress);
        }
        Ok(UserSlice { addr, len })
    }

    /// Copies the whole slice into `buf` (which must be as long).
    pub fn read_into(&self, space: &AddressSpace, buf: &mut [u8]) -> Result<(), Error> {
        if buf.len() != self.len {
            return Err(Error::BadParams);
        }
        space
            .access(self.addr, self.len, false, |src, off, n| {
                // SAFETY: `src` is the HHDM address of n mapped user bytes;
                // the space lock keeps the frame from being freed meanwhile.
                unsafe { core::ptr::copy_nonoverlapping(src, buf[off..].as_mut_ptr(), n) }
            })
            .map_err(|_| Error::BadAddress)
    }

    /// Reads the slice into a new vector; `BadParams` if it is longer than
    /// `max`, `OutOfResources` if the kernel heap cannot hold it.
    pub fn read_vec(&self, space: &AddressSpace, max: usize) -> Result<Vec<u8>, Error> {
        if self.len > max {
            return Err(Error::BadParams);
        }
        let mut v = Vec::new();
        crate::mm::heap::admit(self.len)?;
        v.try_reserve_exact(self.len).map_err(|_| Error::OutOfResources)?;
        v.resize(self.len, 0);
        self.read_into(space, &mut v)?;
        Ok(v)
    }

    /// Writes `data` at the start of the slice; `ResultTooLarge` if it does
    /// not fit.
    pub fn write(&self, space: &AddressSpace, data: &[u8]) -> Result<(), Error> {
        if data.len() > self.len {
            return Err(Error::ResultTooLarge);
        }
        space
            .access(self.addr, data.len(), true, |dst, off, n| {
                // SAFETY: `dst` is the HHDM address of n mapped, writable user
                // bytes; the space lock keeps the frame from being freed.
                unsafe { core::ptr::copy_nonoverlapping(data[off..].as_ptr(), dst, n) }
            })
            .map_err(|_| Error::BadAddress)
    }
}

/// Reads a user `u32` (must be 4-byte aligned).
pub fn read_u32(space: &AddressSpace, addr: u64) -> Result<u32, Error> {
    if !addr.is_multiple_of(4) {
        return Err(Error::BadAddress);
    }
    let mut b = [0u8; 4];
    UserSlice::new(addr, 4)?.read_into(space, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads a user stack frame at `fp`: (saved frame pointer, return address).
/// `None` if it is not readable user memory (a stack walk then stops).
pub fn read_frame(space: &AddressSpace, fp: u64) -> Option<(u64, u64)> {
    let mut pair = [0u8; 16];
    UserSlice::new(fp, 16).ok()?.read_into(space, &mut pair).ok()?;
    let word = |b: &[u8]| b.try_into().ok().map(u64::from_le_bytes);
    Some((word(&pair[..8])?, word(&pair[8..])?))
}
