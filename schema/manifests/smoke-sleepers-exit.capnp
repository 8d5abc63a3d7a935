# smoke-sleepers-exit: processes exit with 1-hour sleeps and parks pending;
# a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a635;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-sleepers-exit", binary = "smoke-sleepers-exit", args = "children=40",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = parkSpace), (kind = measure), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
