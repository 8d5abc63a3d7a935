//! The programs a profile run boots: the binaries its manifest names,
//! from `--elf` or from the user packages, each checked to be an x86_64
//! ELF executable before anything boots.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use capos_schema::manifest_capnp::manifest;
use object::{Object, ObjectKind};

use crate::user;

/// Packages searched for a binary no `--elf` gives, besides `--package`.
pub const DEFAULT_PACKAGES: [&str; 2] = ["capos-demos", "capos-smokes"];

/// One process of the manifest: (its name, the boot module it runs).
pub type Process = (String, String);

/// The processes of a compiled manifest, in order. Malformed bytes, an
/// empty list or a process without a binary are errors.
pub fn processes(bytes: &[u8]) -> Result<Vec<Process>> {
    let bad = |e: capnp::Error| anyhow!("not a compiled manifest: {e}");
    let text = |t: capnp::text::Reader| t.to_str().map(str::to_string).map_err(|e| anyhow!("{e}"));
    let opts = *capnp::message::ReaderOptions::new()
        .traversal_limit_in_words(Some(1 << 20))
        .nesting_limit(16);
    let msg = capnp::serialize::read_message(&mut &bytes[..], opts).map_err(bad)?;
    let m = msg.get_root::<manifest::Reader>().map_err(bad)?;
    let mut out = Vec::new();
    for p in m.get_processes().map_err(bad)?.iter() {
        let name = text(p.get_name().map_err(bad)?)?;
        let binary = text(p.get_binary().map_err(bad)?)?;
        if binary.is_empty() {
            bail!("process {name:?} names no binary");
        }
        out.push((name, binary));
    }
    if out.is_empty() {
        bail!("the manifest starts no process");
    }
    Ok(out)
}

/// `--elf` values: `NAME=PATH` or `PATH` (named by its file name).
pub fn parse_elf_args(args: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for a in args {
        let (name, path) = match a.split_once('=') {
            Some((n, p)) => (n.to_string(), PathBuf::from(p)),
            None => {
                let path = PathBuf::from(a);
                let name = (path.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| anyhow!("--elf {a:?} has no file name"))?;
                (name, path)
            }
        };
        if name.is_empty() || name.contains(['/', '\n']) || name == "manifest" {
            bail!("--elf {a:?}: {name:?} cannot be a boot module name");
        }
        if out.insert(name.clone(), path).is_some() {
            bail!("--elf gives {name} twice");
        }
    }
    Ok(out)
}

/// Checks that `path` is an x86_64 ELF executable a capOS process can run.
pub fn check_elf(name: &str, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("program {name}: cannot read {}", path.display()))?;
    let file = object::File::parse(&*bytes)
        .map_err(|e| anyhow!("program {name}: {} is not an ELF file: {e}", path.display()))?;
    if file.format() != object::BinaryFormat::Elf
        || file.architecture() != object::Architecture::X86_64
    {
        bail!("program {name}: {} is not an x86_64 ELF", path.display());
    }
    if file.kind() != ObjectKind::Executable {
        bail!(
            "program {name}: {} is a {:?} ELF, not an executable (link it with userspace/user.ld)",
            path.display(),
            file.kind()
        );
    }
    Ok(())
}

/// Every boot module the run needs, by name: the manifest's binaries (each
/// once) and `extra` ones (programs its processes spawn by name), each from
/// `given` or else built from the default and `packages` packages.
pub fn resolve(
    root: &Path,
    processes: &[Process],
    extra: &[String],
    given: &BTreeMap<String, PathBuf>,
    packages: &[String],
) -> Result<Vec<(String, PathBuf)>> {
    let mut names: Vec<String> = Vec::new();
    for n in processes.iter().map(|(_, b)| b).chain(extra) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    if let Some(unused) = given.keys().find(|n| !names.contains(n)) {
        bail!("--elf {unused}=...: no process of the manifest (or --binary) runs {unused}");
    }
    let missing: Vec<&String> = names.iter().filter(|n| !given.contains_key(*n)).collect();
    let mut built: Option<PathBuf> = None;
    if !missing.is_empty() {
        let mut all: Vec<&str> = DEFAULT_PACKAGES.to_vec();
        all.extend(packages.iter().map(String::as_str));
        for p in all {
            built = Some(user::build_package(root, p)?);
        }
    }
    let mut out = Vec::new();
    for n in names {
        let path = match (given.get(&n), &built) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => {
                let p = dir.join(&n);
                if !p.is_file() {
                    let searched: Vec<&str> = (DEFAULT_PACKAGES.iter().copied())
                        .chain(packages.iter().map(String::as_str))
                        .collect();
                    bail!(
                        "no program {n}: not given with --elf and not a binary of {} (add its \
                         package with --package, or pass --elf {n}=PATH)",
                        searched.join(", ")
                    );
                }
                p
            }
            (None, None) => bail!("no program {n}"),
        };
        check_elf(&n, &path)?;
        out.push((n, path));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_arguments_name_their_modules() {
        let g = parse_elf_args(&["a=/x/y".into(), "/p/q/prog".into()]).unwrap();
        assert_eq!(g["a"], Path::new("/x/y"));
        assert_eq!(g["prog"], Path::new("/p/q/prog"));
        assert!(parse_elf_args(&["a=/x".into(), "a=/y".into()]).is_err(), "twice");
        assert!(parse_elf_args(&["=/x".into()]).is_err(), "empty name");
        assert!(parse_elf_args(&["manifest=/x".into()]).is_err(), "reserved");
        assert!(parse_elf_args(&["/".into()]).is_err(), "no file name");
    }

    #[test]
    fn garbage_is_not_a_manifest() {
        assert!(processes(b"").is_err());
        assert!(processes(&[0xff; 64]).is_err());
        // A valid message whose root is an empty struct: no processes.
        let mut msg = capnp::message::Builder::new_default();
        msg.init_root::<manifest::Builder>();
        let bytes = capnp::serialize::write_message_to_words(&msg);
        let e = processes(&bytes).unwrap_err().to_string();
        assert!(e.contains("no process"), "{e}");
    }

    #[test]
    fn manifests_list_their_processes_and_binaries() {
        let bytes = |second: &str| {
            let mut msg = capnp::message::Builder::new_default();
            let m = msg.init_root::<manifest::Builder>();
            let mut ps = m.init_processes(2);
            ps.reborrow().get(0).set_name("a");
            ps.reborrow().get(0).set_binary("prog");
            ps.reborrow().get(1).set_name("b");
            ps.reborrow().get(1).set_binary(second);
            capnp::serialize::write_message_to_words(&msg)
        };
        assert_eq!(
            processes(&bytes("prog")).unwrap(),
            [("a".into(), "prog".into()), ("b".into(), "prog".into())]
        );
        let e = processes(&bytes("")).unwrap_err().to_string();
        assert!(e.contains("names no binary"), "{e}");
    }

    #[test]
    fn only_x86_64_executables_are_programs() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"#!/bin/sh\necho not an elf\n").unwrap();
        let e = check_elf("junk", &junk).unwrap_err().to_string();
        assert!(e.contains("not an ELF"), "{e}");
        let e = check_elf("gone", &dir.path().join("gone")).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
        // The test binary is an x86_64 ELF, but position-independent
        // (a dynamic object) on Debian's toolchain, or an executable.
        let me = std::env::current_exe().unwrap();
        if let Err(e) = check_elf("me", &me) {
            assert!(e.to_string().contains("not an executable"), "{e}");
        }
    }

    #[test]
    fn every_binary_needs_a_program_and_every_elf_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"junk").unwrap();
        let procs = vec![("p".to_string(), "prog".to_string())];
        let given: BTreeMap<String, PathBuf> = [("other".to_string(), junk.clone())].into();
        let e = resolve(dir.path(), &procs, &[], &given, &[]).unwrap_err().to_string();
        assert!(e.contains("no process of the manifest"), "{e}");
        let given: BTreeMap<String, PathBuf> = [("prog".to_string(), junk)].into();
        let e = resolve(dir.path(), &procs, &[], &given, &[]).unwrap_err().to_string();
        assert!(e.contains("not an ELF"), "a given garbage file is refused: {e}");
    }
}
