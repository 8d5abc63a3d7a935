#!/usr/bin/env bash
# Installs what building and testing capOS needs, if it is missing:
# Debian's qemu-system-x86, capnproto, xorriso, gcc, ovmf and chromium, and
# the x86_64-unknown-none Rust target.
# With `bench`, also what the Linux baselines need: Debian's linux-image-amd64
# (the Linux guest's kernel) and the x86_64-unknown-linux-musl Rust target.
set -euo pipefail
bench=${1:-}

need_pkgs=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs+=(qemu-system-x86)
command -v capnp >/dev/null 2>&1 || need_pkgs+=(capnproto)
# The Limine ISO (make test boots a smoke through the real Limine): xorriso
# builds it, a C compiler builds Limine's `limine` tool from its release.
command -v xorriso >/dev/null 2>&1 || need_pkgs+=(xorriso)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
# ...and boots it under UEFI with Debian's OVMF.
[ -f /usr/share/ovmf/OVMF.fd ] || need_pkgs+=(ovmf)
# make test renders each report index.html in headless Chromium
# (`capos-harness render-check`).
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
# Linux-guest baselines boot Debian's kernel (bench-linux-guest).
if [ "$bench" = bench ]; then
    compgen -G "/boot/vmlinuz-*" >/dev/null || need_pkgs+=(linux-image-amd64)
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "install-deps: installing ${need_pkgs[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "install-deps: need root (or sudo) to install ${need_pkgs[*]}" >&2; exit 1
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-none; then
    echo "install-deps: adding Rust target x86_64-unknown-none"
    rustup target add x86_64-unknown-none
fi

if [ "$bench" = bench ] && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    echo "install-deps: adding Rust target x86_64-unknown-linux-musl"
    rustup target add x86_64-unknown-linux-musl
fi
