//! Rights a capability slot carries. A method names the right it needs.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rights(pub u32);

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// Invoke the object's ordinary methods.
    pub const CALL: Rights = Rights(1 << 0);
    /// Pass the capability on (grant it to a spawned process).
    pub const GRANT: Rights = Rights(1 << 1);
    /// Receive on an endpoint (server side).
    pub const RECEIVE: Rights = Rights(1 << 2);
    pub const ALL: Rights = Rights(0b111);

    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
    /// Rights can only shrink when a capability is passed on.
    pub const fn intersect(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
}
