//! What a fuzz child's exit code says, as the parent reads it.
//!
//! A child that gets to the end of its run reports how many of its
//! planned steps its workers started, in the exit code (the only channel
//! a child has to the parent besides the endpoint it fuzzes). Codes at or
//! above [`FINISHED`] are such reports; everything else is a lethal op's
//! `exit_process`, the runtime's panic code or an argument problem.

use core::fmt;

/// Base of "every worker finished; `code - FINISHED` steps ran".
pub const FINISHED: i64 = 1 << 40;
/// Base of "workers still running at the deadline; `code - STALLED` steps ran".
pub const STALLED: i64 = 2 << 40;
pub const BAD_ARGS: i64 = -2;
pub const NO_RING: i64 = -4;
/// The codes a lethal `exit_process` uses (never a report).
pub const LETHAL_CODES: [i64; 5] = [0, -1, -7, -42, i64::MIN];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildExit {
    Finished {
        steps: u64,
    },
    Stalled {
        steps: u64,
    },
    BadArgs,
    NoRing,
    /// A lethal op, a panic (101) or a kill code.
    Other(i64),
}

impl ChildExit {
    pub fn code(self) -> i64 {
        match self {
            ChildExit::Finished { steps } => FINISHED + (steps as i64 & (FINISHED - 1)),
            ChildExit::Stalled { steps } => STALLED + (steps as i64 & (FINISHED - 1)),
            ChildExit::BadArgs => BAD_ARGS,
            ChildExit::NoRing => NO_RING,
            ChildExit::Other(c) => c,
        }
    }

    pub fn decode(code: i64) -> ChildExit {
        match code {
            BAD_ARGS => ChildExit::BadArgs,
            NO_RING => ChildExit::NoRing,
            c if (FINISHED..STALLED).contains(&c) => {
                ChildExit::Finished { steps: (c - FINISHED) as u64 }
            }
            c if (STALLED..STALLED + FINISHED).contains(&c) => {
                ChildExit::Stalled { steps: (c - STALLED) as u64 }
            }
            c => ChildExit::Other(c),
        }
    }
}

/// `finished ran=N`, `stalled ran=N (...)`, `bad args`, `exit=N`: the
/// words after a child's seed in the parent's `[fuzz] child` line.
impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildExit::Finished { steps } => write!(f, "finished ran={steps}"),
            ChildExit::Stalled { steps } => {
                write!(f, "stalled ran={steps} (workers unfinished at the deadline)")
            }
            ChildExit::BadArgs => write!(f, "bad args"),
            ChildExit::NoRing => write!(f, "no ring"),
            ChildExit::Other(c) => write!(f, "exit={c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_never_collide() {
        for e in [
            ChildExit::Finished { steps: 0 },
            ChildExit::Finished { steps: 12345 },
            ChildExit::Stalled { steps: 7 },
            ChildExit::BadArgs,
            ChildExit::NoRing,
        ] {
            assert_eq!(ChildExit::decode(e.code()), e);
        }
        for c in LETHAL_CODES.into_iter().chain([101, -1014, i64::MAX]) {
            assert_eq!(ChildExit::decode(c), ChildExit::Other(c));
        }
        assert_eq!(ChildExit::Finished { steps: 3 }.to_string(), "finished ran=3");
        assert_eq!(ChildExit::Other(-9).to_string(), "exit=-9");
    }
}
