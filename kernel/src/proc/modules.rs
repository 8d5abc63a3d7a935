//! Boot modules by name (the file name under `boot/modules/`).

use crate::boot_requests::MODULES;

/// The bytes of the boot module whose path ends in `/name`.
pub fn find(name: &str) -> Option<&'static [u8]> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let mods = MODULES.get_response()?;
    mods.modules().iter().find_map(|m| {
        let path = m.path().to_str().ok()?;
        let base = path.rsplit('/').next()?;
        // SAFETY: the loader put the module's bytes at addr..addr+size in
        // memory typed EXECUTABLE_AND_MODULES, which the kernel never reuses.
        (base == name).then(|| unsafe { core::slice::from_raw_parts(m.addr(), m.size() as usize) })
    })
}

/// The module whose command line is exactly `cmdline`.
pub fn find_by_cmdline(cmdline: &str) -> Option<&'static [u8]> {
    let mods = MODULES.get_response()?;
    mods.modules().iter().find_map(|m| {
        let c = m.string().to_str().ok()?;
        // SAFETY: as in `find`.
        (c == cmdline).then(|| unsafe { core::slice::from_raw_parts(m.addr(), m.size() as usize) })
    })
}
