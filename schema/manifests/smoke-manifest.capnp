@0xc3a1f0e2d4b5a610;
using M = import "/manifest.capnp";

const manifest :M.Manifest = (processes = [
  (name = "smoke-manifest", binary = "smoke-manifest",
   caps = [(kind = console), (kind = timer), (kind = measure)])
]);
