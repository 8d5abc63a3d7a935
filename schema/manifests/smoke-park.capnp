@0xc3a1f0e2d4b5a613;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-park", binary = "smoke-park",
   caps = [(kind = console), (kind = timer), (kind = threadSpawner), (kind = parkSpace)])
]);
