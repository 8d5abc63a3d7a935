//! Just enough ACPI to list the CPUs: RSDP -> RSDT/XSDT -> MADT.
//!
//! Tables are read through a caller-supplied function so the same code runs
//! on identity-mapped physical memory in the loader and on byte buffers in
//! tests. Every table's length and checksum is checked before it is used.

pub const MAX_CPUS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MadtCpu {
    pub processor_id: u32,
    pub apic_id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Madt {
    pub lapic_base: u64,
    pub cpus: [MadtCpu; MAX_CPUS],
    pub count: usize,
}

impl Madt {
    pub fn cpus(&self) -> &[MadtCpu] {
        &self.cpus[..self.count]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcpiError {
    BadRsdp,
    /// A table could not be read or its checksum/length is wrong.
    BadTable {
        address: u64,
    },
    NoMadt,
}

fn checksum_ok(b: &[u8]) -> bool {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Reads a whole SDT (header first, to learn its length) and checks it.
fn table<'a>(
    read: &impl Fn(u64, usize) -> Option<&'a [u8]>,
    address: u64,
) -> Result<&'a [u8], AcpiError> {
    let bad = AcpiError::BadTable { address };
    let header = read(address, 36).ok_or(bad)?;
    let len = u32_at(header, 4).ok_or(bad)? as usize;
    if !(36..=1 << 20).contains(&len) {
        return Err(bad);
    }
    let t = read(address, len).ok_or(bad)?;
    if t.len() != len || !checksum_ok(t) {
        return Err(bad);
    }
    Ok(t)
}

/// Finds the MADT from the RSDP at `rsdp` and lists the enabled CPUs.
pub fn parse_madt<'a>(
    rsdp: u64,
    read: impl Fn(u64, usize) -> Option<&'a [u8]>,
) -> Result<Madt, AcpiError> {
    let r = read(rsdp, 20).ok_or(AcpiError::BadRsdp)?;
    if &r[..8] != b"RSD PTR " || !checksum_ok(r) {
        return Err(AcpiError::BadRsdp);
    }
    let revision = r[15];
    let (root, width) = match read(rsdp, 36) {
        Some(x) if revision >= 2 && checksum_ok(x) => (u64_at(x, 24).ok_or(AcpiError::BadRsdp)?, 8),
        _ => (u32_at(r, 16).ok_or(AcpiError::BadRsdp)? as u64, 4),
    };
    let root_table = table(&read, root)?;
    let entries = &root_table[36..];
    let madt = entries
        .chunks_exact(width)
        .filter_map(|c| if width == 8 { u64_at(c, 0) } else { u32_at(c, 0).map(u64::from) })
        .filter_map(|addr| table(&read, addr).ok())
        .find(|t| &t[..4] == b"APIC")
        .ok_or(AcpiError::NoMadt)?;
    let mut m = Madt {
        lapic_base: u32_at(madt, 36).unwrap_or(0xfee0_0000) as u64,
        cpus: [MadtCpu::default(); MAX_CPUS],
        count: 0,
    };
    let mut off = 44;
    while off + 2 <= madt.len() {
        let (kind, len) = (madt[off], madt[off + 1] as usize);
        if len < 2 || off + len > madt.len() {
            break;
        }
        let e = &madt[off..off + len];
        let cpu = match kind {
            0 if len >= 8 => Some((e[2] as u32, e[3] as u32, u32_at(e, 4).unwrap_or(0))),
            9 if len >= 16 => Some((
                u32_at(e, 12).unwrap_or(0),
                u32_at(e, 4).unwrap_or(0),
                u32_at(e, 8).unwrap_or(0),
            )),
            5 if len >= 12 => {
                m.lapic_base = u64_at(e, 4).unwrap_or(m.lapic_base);
                None
            }
            _ => None,
        };
        if let Some((processor_id, apic_id, flags)) = cpu {
            let enabled = flags & 1 != 0;
            let duplicate = m.cpus().iter().any(|c| c.apic_id == apic_id);
            if enabled && !duplicate && m.count < MAX_CPUS {
                m.cpus[m.count] = MadtCpu { processor_id, apic_id };
                m.count += 1;
            }
        }
        off += len;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix_checksum(t: &mut [u8], at: usize) {
        t[at] = 0;
        let s = t.iter().fold(0u8, |s, &x| s.wrapping_add(x));
        t[at] = 0u8.wrapping_sub(s);
    }

    fn sdt(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 36];
        t[..4].copy_from_slice(sig);
        t.extend_from_slice(body);
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        fix_checksum(&mut t, 9);
        t
    }

    /// Memory image: RSDP at 0x0, RSDT at 0x100, MADT at 0x200.
    fn image(entries: &[u8]) -> Vec<u8> {
        let mut mem = vec![0u8; 0x400];
        let mut rsdp = vec![0u8; 20];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[16..20].copy_from_slice(&0x100u32.to_le_bytes());
        fix_checksum(&mut rsdp, 8);
        mem[..20].copy_from_slice(&rsdp);
        let rsdt = sdt(b"RSDT", &0x200u32.to_le_bytes());
        mem[0x100..0x100 + rsdt.len()].copy_from_slice(&rsdt);
        let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(entries);
        let madt = sdt(b"APIC", &body);
        mem[0x200..0x200 + madt.len()].copy_from_slice(&madt);
        mem
    }

    fn lapic(pid: u8, apic: u8, flags: u32) -> Vec<u8> {
        let mut e = vec![0, 8, pid, apic];
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }

    #[test]
    fn lists_enabled_cpus() {
        let mut entries = lapic(0, 0, 1);
        entries.extend(lapic(1, 1, 1));
        entries.extend(lapic(2, 2, 0)); // disabled
        entries.extend([1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]); // IOAPIC, ignored
        entries.extend(lapic(3, 5, 1));
        let mem = image(&entries);
        let m = parse_madt(0, |a, l| mem.get(a as usize..a as usize + l)).unwrap();
        assert_eq!(m.lapic_base, 0xfee0_0000);
        let ids: Vec<_> = m.cpus().iter().map(|c| (c.processor_id, c.apic_id)).collect();
        assert_eq!(ids, vec![(0, 0), (1, 1), (3, 5)]);
    }

    #[test]
    fn bad_checksums_and_truncation_are_errors() {
        let mem = image(&lapic(0, 0, 1));
        let mut bad = mem.clone();
        bad[3] ^= 1;
        assert_eq!(
            parse_madt(0, |a, l| bad.get(a as usize..a as usize + l)),
            Err(AcpiError::BadRsdp)
        );
        let mut bad = mem.clone();
        bad[0x210] ^= 1;
        assert_eq!(
            parse_madt(0, |a, l| bad.get(a as usize..a as usize + l)),
            Err(AcpiError::NoMadt)
        );
        for cut in 0..mem.len() {
            let _ = parse_madt(0, |a, l| mem[..cut].get(a as usize..a as usize + l));
        }
    }
}
