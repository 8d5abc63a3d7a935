fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bins=-T{dir}/../user.ld");
    // The worker runs beside the coordinator: give it its own addresses so
    // every user PC sample names exactly one binary.
    println!("cargo:rustc-link-arg-bin=process-scale-worker=--defsym=__image_base=0x1000000");
    println!("cargo:rerun-if-changed=../user.ld");
}
