# smoke-full-caps: thread spawns against a capability table with one free
# slot; a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a633;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-full-caps", binary = "smoke-full-caps", args = "cycles=50",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = measure), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
