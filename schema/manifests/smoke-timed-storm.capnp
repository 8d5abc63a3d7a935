# smoke-timed-storm: 100000 waits with a 10 s timeout that all end early;
# a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a632;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-timed-storm", binary = "smoke-timed-storm", args = "waits=100000",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = parkSpace), (kind = measure), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
