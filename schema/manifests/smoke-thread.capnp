@0xc3a1f0e2d4b5a612;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-thread", binary = "smoke-thread", caps = [(kind = console), (kind = timer), (kind = threadSpawner), (kind = measure)])
]);
