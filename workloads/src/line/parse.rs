//! Alloc-free `key=value` scanning shared by the line parsers.

use core::fmt;

/// Why a line is not a valid result line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The line does not contain the tag.
    MissingTag,
    /// A token after the tag is not `key=value`.
    NotKeyValue,
    MissingField(&'static str),
    DuplicateField(&'static str),
    /// The field's value does not parse (number, hex, enum, range).
    BadValue(&'static str),
    /// The field contradicts another one (e.g. `elapsed` != `work`).
    Inconsistent(&'static str),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::MissingTag => write!(f, "no result-line tag"),
            LineError::NotKeyValue => write!(f, "a token is not key=value"),
            LineError::MissingField(k) => write!(f, "field `{k}` is missing"),
            LineError::DuplicateField(k) => write!(f, "field `{k}` appears twice"),
            LineError::BadValue(k) => write!(f, "field `{k}` has a malformed value"),
            LineError::Inconsistent(k) => write!(f, "field `{k}` contradicts the others"),
        }
    }
}

/// The values of `KEYS` found after `tag` in `line`, by key position.
pub(crate) fn scan<'a, const N: usize>(
    line: &'a str,
    tag: &str,
    keys: &[&'static str; N],
) -> Result<[Option<&'a str>; N], LineError> {
    let start = line.find(tag).ok_or(LineError::MissingTag)?;
    let rest = &line[start + tag.len()..];
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return Err(LineError::MissingTag);
    }
    let mut values = [None; N];
    for token in rest.split_ascii_whitespace() {
        let (k, v) = token.split_once('=').ok_or(LineError::NotKeyValue)?;
        if let Some(pos) = keys.iter().position(|key| *key == k) {
            if values[pos].is_some() {
                return Err(LineError::DuplicateField(keys[pos]));
            }
            values[pos] = Some(v);
        }
    }
    Ok(values)
}

/// Typed access to scanned values.
pub(crate) struct Fields<'a, const N: usize> {
    pub keys: &'a [&'static str; N],
    pub values: [Option<&'a str>; N],
}

/// The text of a count nobody measured.
pub const UNMEASURED: &str = "unmeasured";

impl<'a, const N: usize> Fields<'a, N> {
    fn index(&self, key: &'static str) -> usize {
        // Callers pass keys from their own KEYS table.
        self.keys.iter().position(|k| *k == key).unwrap_or(N)
    }

    pub fn opt(&self, key: &'static str) -> Option<&'a str> {
        self.values.get(self.index(key)).copied().flatten()
    }

    pub fn str(&self, key: &'static str) -> Result<&'a str, LineError> {
        self.opt(key).ok_or(LineError::MissingField(key))
    }

    pub fn u64(&self, key: &'static str) -> Result<u64, LineError> {
        parse_dec(self.str(key)?).ok_or(LineError::BadValue(key))
    }

    pub fn u32(&self, key: &'static str) -> Result<u32, LineError> {
        u32::try_from(self.u64(key)?).map_err(|_| LineError::BadValue(key))
    }

    pub fn opt_u64(&self, key: &'static str) -> Result<Option<u64>, LineError> {
        self.opt(key).map(|v| parse_dec(v).ok_or(LineError::BadValue(key))).transpose()
    }

    /// A count that may be `unmeasured` (`None`).
    pub fn measured_u64(&self, key: &'static str) -> Result<Option<u64>, LineError> {
        match self.str(key)? {
            UNMEASURED => Ok(None),
            v => parse_dec(v).map(Some).ok_or(LineError::BadValue(key)),
        }
    }

    pub fn hex(&self, key: &'static str) -> Result<u64, LineError> {
        let v = self.str(key)?;
        let digits = v.strip_prefix("0x").ok_or(LineError::BadValue(key))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LineError::BadValue(key));
        }
        u64::from_str_radix(digits, 16).map_err(|_| LineError::BadValue(key))
    }

    pub fn bool(&self, key: &'static str) -> Result<bool, LineError> {
        match self.str(key)? {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(LineError::BadValue(key)),
        }
    }
}

/// Decimal digits only (no sign, no `+`).
fn parse_dec(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}
