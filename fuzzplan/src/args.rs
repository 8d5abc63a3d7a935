//! The argument strings of the fuzz programs: the parent's
//! `seed=S ops=N children=K [threads=T]` (from the boot manifest) and each
//! child's `seed=S ops=N threads=T index=I` (from the parent's spawn).
//!
//! Parsing is strict (unknown, repeated or missing keys and out-of-range
//! values are errors) so a typo in a manifest cannot silently fuzz with
//! defaults. Numbers are decimal or `0x` hex.

use core::fmt;

/// Worker threads per child unless the parent's args say otherwise.
pub const DEFAULT_THREADS: u32 = 4;
/// Most children one run may have (the kernel allows 64 live processes;
/// children spawn processes of their own).
pub const MAX_CHILDREN: u32 = 16;
/// Most worker threads per child (the kernel allows 64 per process; workers
/// start short-lived threads of their own).
pub const MAX_THREADS: u32 = 8;
/// Most ops one run may ask for.
pub const MAX_OPS: u32 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// A word that is not `key=value`.
    NotKeyValue(&'a str),
    UnknownKey(&'a str),
    Repeated(&'static str),
    Missing(&'static str),
    NotANumber(&'static str, &'a str),
    OutOfRange {
        key: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NotKeyValue(w) => write!(f, "`{w}` is not key=value"),
            ArgError::UnknownKey(k) => write!(f, "unknown key `{k}`"),
            ArgError::Repeated(k) => write!(f, "`{k}` given twice"),
            ArgError::Missing(k) => write!(f, "`{k}=` is missing"),
            ArgError::NotANumber(k, v) => write!(f, "`{k}={v}`: not a number (decimal or 0x hex)"),
            ArgError::OutOfRange { key, value, min, max } => {
                write!(f, "`{key}={value}` is out of range ({min}..={max})")
            }
        }
    }
}

/// One key a parser accepts: its name, whether it is required, its range.
struct Key {
    name: &'static str,
    required: bool,
    min: u64,
    max: u64,
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses `args` against `keys`; `out[i]` receives the value of `keys[i]`.
fn parse_keys<'a, const N: usize>(
    args: &'a str,
    keys: &[Key; N],
) -> Result<[Option<u64>; N], ArgError<'a>> {
    let mut out = [None; N];
    for word in args.split_whitespace() {
        let (k, v) = word.split_once('=').ok_or(ArgError::NotKeyValue(word))?;
        let i = keys.iter().position(|key| key.name == k).ok_or(ArgError::UnknownKey(k))?;
        let key = &keys[i];
        if out[i].is_some() {
            return Err(ArgError::Repeated(key.name));
        }
        let value = number(v).ok_or(ArgError::NotANumber(key.name, v))?;
        if value < key.min || value > key.max {
            return Err(ArgError::OutOfRange { key: key.name, value, min: key.min, max: key.max });
        }
        out[i] = Some(value);
    }
    for (key, v) in keys.iter().zip(out.iter()) {
        if key.required && v.is_none() {
            return Err(ArgError::Missing(key.name));
        }
    }
    Ok(out)
}

/// The parent's arguments (`fuzz` in the boot manifest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentArgs {
    pub seed: u64,
    /// Ops of the whole run, split over the children.
    pub ops: u32,
    pub children: u32,
    /// Worker threads per child.
    pub threads: u32,
}

impl ParentArgs {
    pub fn parse(args: &str) -> Result<ParentArgs, ArgError<'_>> {
        let keys = [
            Key { name: "seed", required: true, min: 0, max: u64::MAX },
            Key { name: "ops", required: true, min: 0, max: MAX_OPS as u64 },
            Key { name: "children", required: true, min: 1, max: MAX_CHILDREN as u64 },
            Key { name: "threads", required: false, min: 1, max: MAX_THREADS as u64 },
        ];
        let [seed, ops, children, threads] = parse_keys(args, &keys)?;
        Ok(ParentArgs {
            seed: seed.unwrap_or(0),
            ops: ops.unwrap_or(0) as u32,
            children: children.unwrap_or(1) as u32,
            threads: threads.map_or(DEFAULT_THREADS, |t| t as u32),
        })
    }

    /// The args of child `index`: its own seed and its share of the ops.
    pub fn child(&self, index: u32) -> ChildArgs {
        ChildArgs {
            seed: crate::plan::child_seed(self.seed, index),
            ops: crate::plan::share(self.ops, self.children, index),
            threads: self.threads,
            index,
        }
    }
}

/// `seed=S ops=N children=K`, plus `threads=T` when not the default (the
/// parent's PASS line and the manifest use exactly this form).
impl fmt::Display for ParentArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={} ops={} children={}", self.seed, self.ops, self.children)?;
        if self.threads != DEFAULT_THREADS {
            write!(f, " threads={}", self.threads)?;
        }
        Ok(())
    }
}

/// A child's arguments (`fuzz-child`, spawned by the parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildArgs {
    pub seed: u64,
    pub ops: u32,
    pub threads: u32,
    /// Which child of the run this is (for messages only).
    pub index: u32,
}

impl ChildArgs {
    pub fn parse(args: &str) -> Result<ChildArgs, ArgError<'_>> {
        let keys = [
            Key { name: "seed", required: true, min: 0, max: u64::MAX },
            Key { name: "ops", required: true, min: 0, max: MAX_OPS as u64 },
            Key { name: "threads", required: true, min: 1, max: MAX_THREADS as u64 },
            Key { name: "index", required: true, min: 0, max: MAX_CHILDREN as u64 - 1 },
        ];
        let [seed, ops, threads, index] = parse_keys(args, &keys)?;
        Ok(ChildArgs {
            seed: seed.unwrap_or(0),
            ops: ops.unwrap_or(0) as u32,
            threads: threads.unwrap_or(1) as u32,
            index: index.unwrap_or(0) as u32,
        })
    }
}

impl fmt::Display for ChildArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={:#x} ops={} threads={} index={}",
            self.seed, self.ops, self.threads, self.index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_args_round_trip() {
        let a = ParentArgs::parse("seed=7 ops=2000 children=3").unwrap();
        assert_eq!(a, ParentArgs { seed: 7, ops: 2000, children: 3, threads: DEFAULT_THREADS });
        assert_eq!(a.to_string(), "seed=7 ops=2000 children=3");
        let b = ParentArgs::parse("  children=2 threads=2 seed=0xff   ops=0 ").unwrap();
        assert_eq!(b, ParentArgs { seed: 255, ops: 0, children: 2, threads: 2 });
        assert_eq!(ParentArgs::parse(&b.to_string()).unwrap(), b);
        let big = ParentArgs::parse(&format!("seed={} ops=1 children=1", u64::MAX)).unwrap();
        assert_eq!(big.seed, u64::MAX);
    }

    #[test]
    fn parent_args_errors_name_the_problem() {
        let e = |s: &str| ParentArgs::parse(s).unwrap_err().to_string();
        assert_eq!(e("seed=1 ops=2"), "`children=` is missing");
        assert_eq!(e("seed=1 ops=2 children=0"), "`children=0` is out of range (1..=16)");
        assert_eq!(e("seed=1 ops=2 children=2 colour=red"), "unknown key `colour`");
        assert_eq!(e("seed=1 seed=2 ops=2 children=2"), "`seed` given twice");
        assert_eq!(e("seed=x ops=2 children=2"), "`seed=x`: not a number (decimal or 0x hex)");
        assert_eq!(e("seed ops=2 children=2"), "`seed` is not key=value");
        assert!(e("seed=1 ops=99999999999 children=1").contains("out of range"));
    }

    #[test]
    fn child_args_come_from_the_parent_and_round_trip() {
        let p = ParentArgs::parse("seed=5 ops=10 children=3").unwrap();
        let kids: Vec<ChildArgs> = (0..3).map(|i| p.child(i)).collect();
        assert_eq!(kids.iter().map(|c| c.ops).sum::<u32>(), 10);
        assert_ne!(kids[0].seed, kids[1].seed);
        for c in &kids {
            assert_eq!(ChildArgs::parse(&c.to_string()).unwrap(), *c);
        }
        assert!(ChildArgs::parse("seed=1 ops=1 threads=9 index=0").is_err());
        assert!(ChildArgs::parse("seed=1 ops=1 threads=1").is_err());
    }
}
