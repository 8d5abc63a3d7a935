//! Minimal RFC 4180 CSV: quote fields holding `,`, `"`, CR or LF; double
//! embedded quotes; read quoted fields back (including newlines).

use anyhow::{bail, Result};

pub fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

pub fn write_record(fields: &[String]) -> String {
    let mut line = fields.iter().map(|f| escape(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

/// Parses all records of `text`; `\r\n` and `\n` both end records.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1usize;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => bail!("line {line}: stray quote inside an unquoted field"),
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        bail!("line {line}: unterminated quoted field");
    }
    if any {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let rec: Vec<String> =
            ["plain", "a,b", "say \"hi\"", "two\nlines", ""].map(String::from).to_vec();
        let text = write_record(&rec) + &write_record(&["x".to_string()]);
        assert_eq!(parse(&text).unwrap(), vec![rec, vec!["x".to_string()]]);
        assert_eq!(parse("a,b\r\nc,d").unwrap(), vec![vec!["a", "b"], vec!["c", "d"]]);
        assert!(parse("\"open").is_err());
        assert!(parse("a\"b").is_err());
    }
}
