//! How much a scrub may re-read in one run ([`ScrubBudget`], `--scrub`):
//! a share of the messages, a number of bytes, or a time. Parsing and
//! display only; what is chosen within it is `scrub::select`'s business.

use super::ByteSize;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `--scrub BUDGET`, per side and run: `2%` (a share of the side's
/// messages, rounded up, so a non-empty side always gets at least one),
/// `500M` (bytes, as `--max-size` writes them) or `30s` (`s`, `m`, `h`:
/// reading stops once the time is spent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScrubBudget {
    /// Per cent of the side's messages, above 0 and at most 100.
    Share(f64),
    /// Bytes of bodies (listed sizes).
    Bytes(u64),
    /// Wall-clock time spent re-reading.
    #[serde(serialize_with = "seconds")]
    Time(Duration),
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl FromStr for ScrubBudget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            format!(
                "'{s}': expected a share of the messages (2%), a size (500M) or a time (30s, 10m, 1h)"
            )
        };
        if t.is_empty() {
            return Err(bad());
        }
        if let Some(share) = t.strip_suffix('%') {
            let p: f64 = share.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("'{s}': a share must be above 0% and at most 100%"));
            }
            return Ok(ScrubBudget::Share(p));
        }
        // `10m` is ten minutes; ten mebibytes is `10M` (as `--max-size`).
        let unit = match t.chars().last() {
            Some('s' | 'S') => Some(1),
            Some('m') => Some(60),
            Some('h' | 'H') => Some(3600),
            _ => None,
        };
        if let Some(secs) = unit {
            let digits = &t[..t.len() - 1];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u64 = digits.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(format!("'{s}': a time budget must be at least 1 second"));
            }
            return Ok(ScrubBudget::Time(Duration::from_secs(
                n.saturating_mul(secs),
            )));
        }
        t.parse::<ByteSize>()
            .map(|b| ScrubBudget::Bytes(b.0))
            .map_err(|_| bad())
    }
}

impl fmt::Display for ScrubBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScrubBudget::Share(p) => write!(f, "{p}%"),
            ScrubBudget::Bytes(b) => write!(f, "{b} bytes"),
            ScrubBudget::Time(d) => write!(f, "{} s", d.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_a_share_a_size_or_a_time() {
        let ok = |s: &str| s.parse::<ScrubBudget>().unwrap();
        assert_eq!(ok("2%"), ScrubBudget::Share(2.0));
        assert_eq!(ok("0.5%"), ScrubBudget::Share(0.5));
        assert_eq!(ok("100%"), ScrubBudget::Share(100.0));
        assert_eq!(ok("500M"), ScrubBudget::Bytes(500 << 20));
        assert_eq!(ok("500MB"), ScrubBudget::Bytes(500 << 20));
        assert_eq!(ok("1G"), ScrubBudget::Bytes(1 << 30));
        assert_eq!(ok("4096"), ScrubBudget::Bytes(4096));
        assert_eq!(ok("30s"), ScrubBudget::Time(Duration::from_secs(30)));
        assert_eq!(ok("10m"), ScrubBudget::Time(Duration::from_secs(600)));
        assert_eq!(ok("1h"), ScrubBudget::Time(Duration::from_secs(3600)));
    }

    #[test]
    fn a_bad_budget_says_what_is_expected() {
        for bad in [
            "", "%", "0%", "101%", "-2%", "lots", "0", "0s", "2x", "s", "1.5s",
        ] {
            let e = bad.parse::<ScrubBudget>().unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{bad}: {e}");
        }
        assert!("0%"
            .parse::<ScrubBudget>()
            .unwrap_err()
            .contains("above 0%"));
        assert!("2x"
            .parse::<ScrubBudget>()
            .unwrap_err()
            .contains("a share of the messages (2%), a size (500M) or a time (30s"));
    }
}
