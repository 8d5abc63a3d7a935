//! What attack children and their smokes agree on.

/// attack-ring-join: the read of a joined thread's ring page succeeded.
pub const RING_STILL_MAPPED: i64 = 66;
/// attack-dead-caller: the call it makes before exiting.
pub const DYING_CALLER_MESSAGE: &[u8] = b"a caller about to die";
