use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=capos.capnp");
    println!("cargo:rerun-if-changed=manifest.capnp");
    if let Err(e) = capnpc::CompilerCommand::new().file("capos.capnp").file("manifest.capnp").run()
    {
        eprintln!("capnp compile failed (is Debian's `capnproto` installed? `make deps`): {e}");
        std::process::exit(1);
    }
    // The generated RPC stubs name `Box` unqualified, which a `no_std`
    // crate does not have in scope; qualify it.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    for name in ["capos_capnp.rs", "manifest_capnp.rs"] {
        let path = out.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("generated file {} missing", path.display());
            std::process::exit(1);
        };
        let fixed = text
            .replace("(hook: Box<", "(hook: ::alloc::boxed::Box<")
            .replace("-> Box<", "-> ::alloc::boxed::Box<")
            .replace(" Box::new(", " ::alloc::boxed::Box::new(")
            .replace("\".to_string()", "\".into()");
        if let Err(e) = std::fs::write(&path, fixed) {
            eprintln!("cannot rewrite {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
