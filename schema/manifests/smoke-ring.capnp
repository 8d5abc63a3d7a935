@0xc3a1f0e2d4b5a611;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-ring", binary = "smoke-ring", caps = [(kind = console), (kind = timer)])
]);
