@0xc3a1f0e2d4b5a614;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-exit", binary = "smoke-exit",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner)])
]);
