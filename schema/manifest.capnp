# Boot manifests: which processes start, from which boot module, with which
# capabilities. Written in capnp text (schema/manifests/*.capnp) and compiled
# with `capnp eval --binary`; the kernel receives the result as a module.
@0xc3a1f0e2d4b5a602;

enum CapKind {
  console @0;
  timer @1;
  processSpawner @2;
  threadSpawner @3;
  parkSpace @4;
  endpoint @5;
  measure @6;
}

struct CapSpec {
  kind @0 :CapKind;
  # For endpoints: processes naming the same endpoint share it.
  endpoint @1 :Text;
  # Receive right on the endpoint (server side).
  receive @2 :Bool;
}

struct ProcessSpec {
  name @0 :Text;
  # Boot module (file name under boot/modules/).
  binary @1 :Text;
  args @2 :Text;
  # Slot i of the process's table holds caps[i].
  caps @3 :List(CapSpec);
}

struct Manifest {
  processes @0 :List(ProcessSpec);
}
