@0xc3a1f0e2d4b5a615;
using M = import "/manifest.capnp";
const manifest :M.Manifest = (processes = [
  (name = "endpoint-server", binary = "endpoint-server",
   caps = [(kind = console), (kind = endpoint, endpoint = "echo", receive = true)]),
  (name = "smoke-endpoint", binary = "smoke-endpoint",
   caps = [(kind = console), (kind = endpoint, endpoint = "echo"), (kind = timer)])
]);
