//! Building the bare-metal images: each one is its own `cargo build` child
//! process with its own target dir, never together with host crates.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::archive::MODULES_DIR;

/// Bare-metal target of the loader and the kernel.
pub const TARGET: &str = "x86_64-unknown-none";
/// Cargo profile for bare-metal images (workspace root `Cargo.toml`).
pub const PROFILE: &str = "kernel";

/// Which kernel to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFlavor {
    /// The normal kernel (target/kernel).
    Normal,
    /// The kernel with `--features ktest` (target/kernel-ktest), so the two never rebuild each other.
    Ktest,
    /// The kernel with `--features measure` (target/kernel-measure), built with `DEFMT_LOG=info`.
    Measure,
}

/// A file the loader hands to the kernel as a Limine module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Path inside the initrd archive (and on the ISO), e.g. `boot/modules/init`.
    pub path_in_archive: String,
    /// The file on the host.
    pub host_path: PathBuf,
    /// The module's command line (may be empty).
    pub cmdline: String,
}

impl Module {
    /// A module stored as `boot/modules/<name>`.
    #[allow(dead_code)] // user-space modules are not built yet
    pub fn new(name: &str, host_path: impl Into<PathBuf>, cmdline: impl Into<String>) -> Self {
        Module {
            path_in_archive: format!("{MODULES_DIR}/{name}"),
            host_path: host_path.into(),
            cmdline: cmdline.into(),
        }
    }
}

/// Everything one boot needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// The PVH loader ELF (QEMU `-kernel`).
    pub loader: PathBuf,
    /// The kernel ELF (`boot/kernel` in the archive).
    pub kernel: PathBuf,
    /// Modules, in the order the kernel sees them.
    pub modules: Vec<Module>,
}

/// One `cargo build` of a bare-metal crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CargoBuild {
    pub what: &'static str,
    pub args: Vec<String>,
    pub rustflags: &'static str,
    /// Extra environment for the build (e.g. `DEFMT_LOG`).
    pub env: Vec<(&'static str, &'static str)>,
    /// Relative to the workspace root.
    pub artifact: PathBuf,
}

const LOADER_RUSTFLAGS: &str = "-C relocation-model=static -C force-frame-pointers=yes";
const KERNEL_RUSTFLAGS: &str =
    "-C relocation-model=static -C code-model=kernel -C force-frame-pointers=yes";

impl CargoBuild {
    pub fn loader() -> Self {
        Self::new("loader", "capos-boot", &["bare-metal"], "target/boot", LOADER_RUSTFLAGS)
    }

    pub fn kernel(flavor: KernelFlavor) -> Self {
        match flavor {
            KernelFlavor::Normal => {
                Self::new("kernel", "capos-kernel", &[], "target/kernel", KERNEL_RUSTFLAGS)
            }
            KernelFlavor::Ktest => Self::new(
                "ktest kernel",
                "capos-kernel",
                &["ktest"],
                "target/kernel-ktest",
                KERNEL_RUSTFLAGS,
            ),
            KernelFlavor::Measure => {
                let mut b = Self::new(
                    "measure kernel",
                    "capos-kernel",
                    &["measure"],
                    "target/kernel-measure",
                    KERNEL_RUSTFLAGS,
                );
                b.env.push(("DEFMT_LOG", "info"));
                b
            }
        }
    }

    fn new(
        what: &'static str,
        package: &str,
        features: &[&str],
        target_dir: &str,
        rustflags: &'static str,
    ) -> Self {
        let mut args: Vec<String> =
            ["build", "--profile", PROFILE, "-p", package].map(String::from).to_vec();
        if !features.is_empty() {
            args.extend(["--features".to_string(), features.join(",")]);
        }
        args.extend(["--target", TARGET, "--target-dir", target_dir].map(String::from));
        let artifact = Path::new(target_dir).join(TARGET).join(PROFILE).join(package);
        CargoBuild { what, args, rustflags, env: Vec::new(), artifact }
    }

    /// Runs the build in `root` and returns the absolute artifact path.
    pub fn run(&self, root: &Path) -> Result<PathBuf> {
        let cargo: OsString = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("harness: building {}: cargo {}", self.what, self.args.join(" "));
        let status = Command::new(&cargo)
            .args(&self.args)
            .current_dir(root)
            // Only our flags: inherited RUSTFLAGS would change codegen and
            // invalidate the cache; everything else in the environment stays.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", self.rustflags)
            .envs(self.env.iter().copied())
            .status()
            .with_context(|| {
                format!("cannot start `{}` to build the {}", cargo.to_string_lossy(), self.what)
            })?;
        if !status.success() {
            bail!(
                "building the {} failed ({status}); command: cargo {}",
                self.what,
                self.args.join(" ")
            );
        }
        let artifact = root.join(&self.artifact);
        if !artifact.is_file() {
            bail!("the {} build succeeded but {} does not exist", self.what, artifact.display());
        }
        Ok(artifact)
    }
}

/// Builds the loader and the kernel of `flavor`; no modules yet.
pub fn build_images(root: &Path, flavor: KernelFlavor) -> Result<Images> {
    let loader = CargoBuild::loader().run(root)?;
    let kernel = CargoBuild::kernel(flavor).run(root)?;
    Ok(Images { loader, kernel, modules: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_invocations_keep_images_apart() {
        let l = CargoBuild::loader();
        assert_eq!(
            l.args.join(" "),
            "build --profile kernel -p capos-boot --features bare-metal --target x86_64-unknown-none --target-dir target/boot"
        );
        assert_eq!(l.artifact, Path::new("target/boot/x86_64-unknown-none/kernel/capos-boot"));
        assert!(!l.rustflags.contains("code-model"));

        let k = CargoBuild::kernel(KernelFlavor::Normal);
        assert_eq!(
            k.args.join(" "),
            "build --profile kernel -p capos-kernel --target x86_64-unknown-none --target-dir target/kernel"
        );
        assert_eq!(k.artifact, Path::new("target/kernel/x86_64-unknown-none/kernel/capos-kernel"));
        assert!(k.rustflags.contains("-C code-model=kernel"));

        let t = CargoBuild::kernel(KernelFlavor::Ktest);
        assert!(t.args.join(" ").contains("--features ktest"));
        assert!(t.args.join(" ").ends_with("--target-dir target/kernel-ktest"));
        assert_eq!(
            t.artifact,
            Path::new("target/kernel-ktest/x86_64-unknown-none/kernel/capos-kernel")
        );
    }

    #[test]
    fn modules_live_under_boot_modules() {
        let m = Module::new("init", "/tmp/init", "");
        assert_eq!(m.path_in_archive, "boot/modules/init");
    }
}
