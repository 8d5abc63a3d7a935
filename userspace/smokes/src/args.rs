//! Reading `key=value` program arguments.

/// The number after `key=` among the whitespace-separated `args`.
pub fn number(args: &str, key: &str) -> Option<u64> {
    args.split_whitespace().find_map(|a| a.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}
