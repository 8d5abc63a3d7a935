# capOS capability interfaces. Every method's parameters and results travel
# as Cap'n Proto messages through the calling thread's ring (see abi::ring).
# A ring SQE names the capability slot and the method ordinal; the slot's
# object decides the interface.
@0xc3a1f0e2d4b5a601;

interface Console {
  # Writes UTF-8 text to the console.
  write @0 (text :Text) -> ();
}

interface Timer {
  now @0 () -> (ns :UInt64);
  # Completes after `ns` nanoseconds.
  sleep @1 (ns :UInt64) -> ();
}

struct Grant {
  # A slot of the caller's table to pass on.
  slot @0 :UInt32;
  # Rights the child gets (intersected with the slot's own rights).
  rights @1 :UInt32;
}

interface ProcessSpawner {
  # Starts the boot module named `binary` with exactly the granted caps,
  # in the order given (child slot i = grants[i]). The handle is a new slot.
  spawn @0 (binary :Text, args :Text, grants :List(Grant)) -> (handleSlot :UInt32);
}

interface ProcessHandle {
  # Completes when the process has exited (and its resources are returned).
  wait @0 () -> (exitCode :Int64, killed :Bool);
}

interface ThreadSpawner {
  # Starts a sibling thread at `entry` with RDI = `arg`, RSI = its ring page,
  # on the stack ending at `stackTop`, with FS base `tls`.
  spawn @0 (entry :UInt64, arg :UInt64, stackTop :UInt64, tls :UInt64) -> (handleSlot :UInt32);
}

interface ThreadHandle {
  join @0 () -> (exitCode :Int64);
}

interface ParkSpace {
  # Blocks while the u32 at `addr` equals `expected`, until unparked or timeout.
  park @0 (addr :UInt64, expected :UInt32, timeoutNs :UInt64) -> (woken :Bool);
  unpark @1 (addr :UInt64, count :UInt32) -> (woken :UInt32);
}

interface Endpoint {
  call @0 (data :Data) -> (reply :Data);
  receive @1 () -> (callId :UInt64, data :Data);
  reply @2 (callId :UInt64, data :Data) -> ();
}

interface Measure {
  # Marks the start of a phase (spawn_ready, work, shutdown, final_total).
  mark @0 (phase :Text) -> (tsc :UInt64);
  # The kernel's memory use now and its high-water marks since boot: heap
  # bytes and 4 KiB frames (smokes check that exited processes return all).
  memory @1 () -> (heapUsed :UInt64, heapPeak :UInt64, framesUsed :UInt64, framesPeak :UInt64);
}
