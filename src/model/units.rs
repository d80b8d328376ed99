//! Units an operator writes: [`ByteSize`] (`--max-size 10M`).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A size in bytes as an operator writes it (`--max-size`): `1048576`,
/// `512K`, `10M`, `1G` (K, M, G are powers of 1024; a trailing `B` or
/// `iB` and lower case are accepted). Zero is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}': expected a size in bytes, e.g. 1048576, 512K, 10M or 1G");
        let t = s.trim().to_ascii_uppercase();
        let t = t
            .strip_suffix("IB")
            .or_else(|| t.strip_suffix('B'))
            .unwrap_or(&t);
        let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => t.split_at(i),
            None => (t, ""),
        };
        let shift = match unit {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            _ => return Err(bad()),
        };
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let bytes = n
            .checked_mul(1u64 << shift)
            .ok_or_else(|| format!("'{s}': too large"))?;
        if bytes == 0 {
            return Err(format!("'{s}': a size limit must be at least 1 byte"));
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}
