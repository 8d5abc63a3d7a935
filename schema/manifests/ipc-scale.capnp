# ipc-scale: a coordinator spawns `pairs` ipc-scale-server and
# ipc-scale-client processes (userspace/demos), pair i talking over endpoint
# `pair<i>`; the clients report to the `results` endpoint with CALL only.
# Eight pair endpoints are granted so that any case up to 8 pairs uses this
# one manifest. The harness (bench-capos) compiles a copy per case with
# `args` filled in (pairs, calls, cpus); this file is the default 2-pair case.
@0xd4b2e1f3c5a6b712;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "ipc-scale", binary = "ipc-scale",
   args = "pairs=2 calls=2000 cpus=2",
   caps = [(kind = console), (kind = processSpawner), (kind = endpoint, endpoint = "results", receive = true),
           (kind = measure), (kind = timer),
           (kind = endpoint, endpoint = "pair0", receive = true), (kind = endpoint, endpoint = "pair1", receive = true),
           (kind = endpoint, endpoint = "pair2", receive = true), (kind = endpoint, endpoint = "pair3", receive = true),
           (kind = endpoint, endpoint = "pair4", receive = true), (kind = endpoint, endpoint = "pair5", receive = true),
           (kind = endpoint, endpoint = "pair6", receive = true), (kind = endpoint, endpoint = "pair7", receive = true)])
]);
