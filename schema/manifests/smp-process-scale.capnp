# smp-process-scale: a coordinator spawns one process-scale-worker process
# per worker (userspace/demos); the workers get the `results` endpoint with
# CALL only. The harness (bench-capos) compiles a copy per case with `args`
# filled in (workers, lo, hi, cpus); this file is the default 2-worker case.
@0xc3a1f0e2d4b5a621;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smp-process-scale", binary = "smp-process-scale",
   args = "workers=2 lo=0 hi=10000000 cpus=2",
   caps = [(kind = console), (kind = processSpawner), (kind = endpoint, endpoint = "results", receive = true), (kind = measure)])
]);
