# thread-scale: one process, sibling worker threads (userspace/demos).
# The harness (bench-capos) compiles a copy per case with `args` filled in
# (threads, blocks, rounds, cpus); this file is the default 2-thread case.
@0xc3a1f0e2d4b5a620;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "thread-scale", binary = "thread-scale",
   args = "threads=2 blocks=262144 rounds=512 cpus=2",
   caps = [(kind = console), (kind = threadSpawner), (kind = parkSpace), (kind = measure)])
]);
