//! The zero-cost check: a kernel built without `measure` carries no
//! measurement code or data at all.
//!
//! Without the feature every probe macro expands to nothing, so the kernel
//! ELF must hold no `capos_measure` or `defmt` symbol and no `.defmt`
//! section. The measure kernel must hold both (otherwise the check proves
//! nothing).

use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSymbol};

/// Measure-related things found in an ELF.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MeasureFootprint {
    pub defmt_section: bool,
    /// Symbols whose (mangled) name mentions capos_measure or defmt.
    pub symbols: usize,
    pub example: Option<String>,
}

pub fn footprint(elf: &[u8]) -> Result<MeasureFootprint> {
    let file = object::File::parse(elf).context("not an ELF")?;
    let mut f = MeasureFootprint {
        defmt_section: file.sections().any(|s| s.name() == Ok(".defmt")),
        ..Default::default()
    };
    for s in file.symbols() {
        let Ok(name) = s.name() else { continue };
        if name.contains("capos_measure") || name.contains("defmt") {
            f.symbols += 1;
            f.example.get_or_insert_with(|| name.to_string());
        }
    }
    Ok(f)
}

pub fn footprint_of(path: &Path) -> Result<MeasureFootprint> {
    footprint(&std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_and_this_binary_has_no_defmt() {
        assert!(footprint(b"not an elf").is_err());
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let f = footprint(&me).unwrap();
        assert!(!f.defmt_section);
    }
}
