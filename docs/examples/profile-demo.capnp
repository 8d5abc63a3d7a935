# The manifest of docs/profiling.md's walk-through: one process running
# profile-demo (userspace/demos/src/bin/profile-demo.rs) with 2 threads.
# `make profile MANIFEST=docs/examples/profile-demo.capnp SMP=2`
# Cap slots as the program expects: 0 console, 1 timer, 2 thread spawner,
# 3 measure (lets it mark the `work` and `final_total` phases).
@0xd1c0ffee5eed0a01;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "profile-demo", binary = "profile-demo", args = "threads=2 calls=1500",
   caps = [(kind = console), (kind = timer), (kind = threadSpawner), (kind = measure)])
]);
