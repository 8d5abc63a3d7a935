# smoke-ipc-scale: ipc-scale at small scale in `make test`. The smoke holds
# the ipc-scale coordinator's capabilities in its slot layout (see
# ipc-scale.capnp) and spawns the coordinator with 2 pairs of 50 calls.
@0xe5c3f2a4d6b7c823;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-ipc-scale", binary = "smoke-ipc-scale",
   caps = [(kind = console), (kind = processSpawner), (kind = endpoint, endpoint = "results", receive = true),
           (kind = measure), (kind = timer),
           (kind = endpoint, endpoint = "pair0", receive = true), (kind = endpoint, endpoint = "pair1", receive = true),
           (kind = endpoint, endpoint = "pair2", receive = true), (kind = endpoint, endpoint = "pair3", receive = true),
           (kind = endpoint, endpoint = "pair4", receive = true), (kind = endpoint, endpoint = "pair5", receive = true),
           (kind = endpoint, endpoint = "pair6", receive = true), (kind = endpoint, endpoint = "pair7", receive = true)])
]);
