# smoke-thread-churn: a long series of short-lived threads (20000: 100000
# take ~140 s at -smp 4 under TCG), started and
# joined a few at a time; a bystander process checks its own memory meanwhile.
@0xc3a1f0e2d4b5a634;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "smoke-thread-churn", binary = "smoke-thread-churn", args = "threads=20000",
   caps = [(kind = console), (kind = timer), (kind = processSpawner), (kind = threadSpawner),
           (kind = measure), (kind = endpoint, endpoint = "bystander")]),
  (name = "bystander", binary = "bystander", args = "ms=300000 stop=2",
   caps = [(kind = console), (kind = timer), (kind = endpoint, endpoint = "bystander", receive = true)])
]);
