//! User-space images: the programs (boot modules) and compiled manifests.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{self, KernelFlavor, Module, PROFILE, TARGET};

const USER_RUSTFLAGS: &str = "-C relocation-model=static -C force-frame-pointers=yes";
/// Where the manifests' capnp text lives.
pub const MANIFEST_DIR: &str = "schema/manifests";
/// Module command line that marks the boot manifest.
pub const MANIFEST_CMDLINE: &str = "manifest";

/// Builds the user package `package` (all its binaries) into target/user.
pub fn build_package(root: &Path, package: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = [
        "build",
        "--profile",
        PROFILE,
        "-p",
        package,
        "--target",
        TARGET,
        "--target-dir",
        "target/user",
    ];
    eprintln!("harness: building user programs: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", USER_RUSTFLAGS)
        .status()
        .context("cannot start cargo to build user programs")?;
    if !status.success() {
        bail!("building user package {package} failed ({status})");
    }
    Ok(root.join("target/user").join(TARGET).join(PROFILE))
}

/// Compiles `schema/manifests/<name>.capnp` (its `manifest` constant) to binary.
pub fn compile_manifest(root: &Path, name: &str) -> Result<PathBuf> {
    let src = root.join(MANIFEST_DIR).join(format!("{name}.capnp"));
    if !src.is_file() {
        bail!("no manifest {}", src.display());
    }
    let out_dir = root.join("target/manifests");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    compile_manifest_file(root, &src, &out_dir.join(format!("{name}.bin")))
}

/// Compiles the `manifest` constant of the capnp text file `src` (which may
/// live anywhere; imports resolve against `schema/`) to `out`.
pub fn compile_manifest_file(root: &Path, src: &Path, out: &Path) -> Result<PathBuf> {
    let output = Command::new("capnp")
        .args(["eval", "--binary", "-I"])
        .arg(root.join("schema"))
        .arg(src)
        .arg("manifest")
        .output()
        .context("cannot run `capnp` (install Debian's capnproto: make deps)")?;
    if !output.status.success() {
        bail!(
            "capnp eval of {} failed: {}",
            src.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(out, &output.stdout)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out.to_path_buf())
}

/// Loader + kernel + the given user binaries + the compiled manifest.
pub fn images_with_manifest(
    root: &Path,
    flavor: KernelFlavor,
    package: &str,
    binaries: &[&str],
    manifest: &str,
) -> Result<build::Images> {
    let mut images = build::build_images(root, flavor)?;
    let dir = build_package(root, package)?;
    for b in binaries {
        let path = dir.join(b);
        if !path.is_file() {
            bail!("user binary {} was not built", path.display());
        }
        images.modules.push(Module::new(b, path, ""));
    }
    let m = compile_manifest(root, manifest)?;
    images.modules.push(Module::new("manifest", m, MANIFEST_CMDLINE));
    Ok(images)
}
