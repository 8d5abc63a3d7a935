# smoke-ring-join: attack children read the ring page of a joined thread;
# a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a630;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-ring-join", binary = "smoke-ring-join",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = measure), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
