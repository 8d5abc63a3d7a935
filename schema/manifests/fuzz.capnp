# The syscall and ring fuzzer (`make fuzz`): the `fuzz` parent spawns
# `fuzz-child`ren that attack the kernel from several threads each; a
# `bystander` keeps checking a memory pattern of its own meanwhile and is
# stopped (and asked for its verdict) by the parent at the end.
# For every run the harness replaces the args of the `fuzz` process
# (target/manifests/fuzz-<seed>.capnp); the one here is the default.
@0xc3a1f0e2d4b5a640;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "fuzz", binary = "fuzz", args = "seed=1 ops=5000 children=3",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = parkSpace), (kind = measure),
           (kind = endpoint, endpoint = "fuzz", receive = true),
           (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=600000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
