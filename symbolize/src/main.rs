//! `capos-symbolize --elf <path> [ADDR...]`
//!
//! With addresses: prints `0x<addr> <resolution>` for each one (addresses are
//! hexadecimal, with or without `0x`, and are resolved exactly, not as return
//! addresses). Without addresses: copies a serial log from stdin to stdout,
//! appending resolutions to backtrace frame lines (`  bt #<i> 0x<hex>`).
#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use capos_symbolize::Symbolizer;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "capos-symbolize",
    about = "Resolve capOS addresses and annotate backtraces against an ELF"
)]
struct Args {
    /// The ELF to resolve against (kernel, loader or user program).
    #[arg(long, value_name = "PATH")]
    elf: PathBuf,
    /// Addresses to resolve (hex, `0x` optional); read a log on stdin when absent.
    #[arg(value_name = "ADDR", value_parser = parse_addr)]
    addrs: Vec<u64>,
}

fn parse_addr(s: &str) -> Result<u64, String> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    u64::from_str_radix(&digits, 16).map_err(|e| format!("`{s}` is not a hexadecimal address: {e}"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let sym =
        Symbolizer::from_path(&args.elf).context("cannot load the ELF to symbolize against")?;
    if let Some(w) = sym.dwarf_warning() {
        eprintln!(
            "capos-symbolize: warning: {}: {w}; resolving with symbols only",
            args.elf.display()
        );
    }
    if sym.symbol_count() == 0 && !sym.has_dwarf() {
        eprintln!(
            "capos-symbolize: warning: {} has no symbols and no DWARF; every address is <unmapped>",
            args.elf.display()
        );
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.addrs.is_empty() {
        let stdin = io::stdin();
        let mut buf = Vec::new();
        let mut input = stdin.lock();
        loop {
            buf.clear();
            if input.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches('\n').trim_end_matches('\r');
            writeln!(out, "{}", sym.annotate_line(line)).context("writing stdout")?;
        }
    } else {
        for addr in args.addrs {
            writeln!(out, "{addr:#018x} {}", sym.resolve(addr)).context("writing stdout")?;
        }
    }
    out.flush().context("writing stdout")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn addresses_parse_with_and_without_prefix() {
        assert_eq!(parse_addr("0xffffffff80001000"), Ok(0xffff_ffff_8000_1000));
        assert_eq!(parse_addr("ffffffff80001000"), Ok(0xffff_ffff_8000_1000));
        assert_eq!(parse_addr("0X10"), Ok(0x10));
        assert!(parse_addr("xyz").unwrap_err().contains("not a hexadecimal address"));
        assert!(parse_addr("").is_err());
    }
}
