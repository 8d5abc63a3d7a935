//! Error codes, returned negated in RAX or in a CQE's `result`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum Error {
    /// No such syscall.
    BadSyscall = 1,
    /// The cap slot is out of range or empty.
    BadSlot = 2,
    /// The slot's object was revoked or is gone (stale generation).
    StaleCap = 3,
    /// The slot lacks the right the method needs.
    NoRights = 4,
    /// The interface has no such method.
    BadMethod = 5,
    /// The parameters are not a valid message for the method.
    BadParams = 6,
    /// A user pointer is unmapped, not user memory, or misaligned.
    BadAddress = 7,
    /// The ring's indices are inconsistent (more SQEs than entries).
    RingOverflow = 8,
    /// A quota or kernel resource is exhausted.
    OutOfResources = 9,
    /// The wait timed out.
    Timeout = 10,
    /// The operation was cancelled (its target went away).
    Cancelled = 11,
    /// A named thing (binary, endpoint) does not exist.
    NotFound = 12,
    /// The SQE opcode is unknown.
    BadOpcode = 13,
    /// The result does not fit in the buffer the SQE gave.
    ResultTooLarge = 14,
    /// The operation would need a state the object is not in.
    InvalidState = 15,
}

impl Error {
    pub const ALL: [Error; 15] = [
        Error::BadSyscall,
        Error::BadSlot,
        Error::StaleCap,
        Error::NoRights,
        Error::BadMethod,
        Error::BadParams,
        Error::BadAddress,
        Error::RingOverflow,
        Error::OutOfResources,
        Error::Timeout,
        Error::Cancelled,
        Error::NotFound,
        Error::BadOpcode,
        Error::ResultTooLarge,
        Error::InvalidState,
    ];

    /// The value placed in RAX / `Cqe::result`.
    pub const fn as_result(self) -> i64 {
        -(self as i64)
    }

    pub fn from_result(r: i64) -> Option<Error> {
        Error::ALL.into_iter().find(|e| e.as_result() == r)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Error::BadSyscall => "BadSyscall",
            Error::BadSlot => "BadSlot",
            Error::StaleCap => "StaleCap",
            Error::NoRights => "NoRights",
            Error::BadMethod => "BadMethod",
            Error::BadParams => "BadParams",
            Error::BadAddress => "BadAddress",
            Error::RingOverflow => "RingOverflow",
            Error::OutOfResources => "OutOfResources",
            Error::Timeout => "Timeout",
            Error::Cancelled => "Cancelled",
            Error::NotFound => "NotFound",
            Error::BadOpcode => "BadOpcode",
            Error::ResultTooLarge => "ResultTooLarge",
            Error::InvalidState => "InvalidState",
        }
    }
}

/// Turns a raw result into `Ok(value)` or the error it encodes.
pub fn check(r: i64) -> Result<u64, Option<Error>> {
    if r >= 0 {
        Ok(r as u64)
    } else {
        Err(Error::from_result(r))
    }
}
