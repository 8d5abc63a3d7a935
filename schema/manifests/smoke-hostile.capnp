@0xc3a1f0e2d4b5a616;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-hostile", binary = "smoke-hostile",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = parkSpace), (kind = measure)]),
  (name = "bystander", binary = "smoke-manifest",
   caps = [(kind = console), (kind = timer), (kind = measure)])
]);
