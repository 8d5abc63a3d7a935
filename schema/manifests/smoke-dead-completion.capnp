# smoke-dead-completion: replies and wait results for processes that have
# exited; a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a631;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-dead-completion", binary = "smoke-dead-completion",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = measure),
           (kind = endpoint, endpoint = "attack", receive = true), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
