//! The operator's policies as plain values: how a proven deletion is
//! carried out ([`DeleteMode`]), the mass-deletion guard ([`MaxDelete`]),
//! one-way mode ([`OneWay`]) and what a message is known by
//! ([`Identity`]). The command line and config file parse them; the
//! reconcile core and apply take them as values. No decision lives here.

use super::Side;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How a proven deletion is carried out (`--deletes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteMode {
    /// `\Deleted` then `UID EXPUNGE` of exactly those UIDs (needs UIDPLUS).
    Expunge,
    /// Only `\Deleted`; the row stays `pending-expunge`.
    FlagOnly,
}

/// What a message is known by (`--identity`), for the whole pair of
/// servers: by content alone (the exact, then the normalised fingerprint),
/// or also by its headers where content leaves it unpaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identity {
    #[default]
    Content,
    /// For servers that rebuild messages on FETCH (Exchange / Office 365):
    /// Message-ID + Date + From and the fetched size pair what content
    /// cannot; such a pair never proves a deletion, and a changed
    /// RFC822.SIZE is not a sign of a restore.
    Headers,
}

/// One-way mode (`--one-way`): which side is the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OneWay {
    AToB,
    BToA,
}

impl OneWay {
    pub fn source(self) -> Side {
        match self {
            OneWay::AToB => Side::A,
            OneWay::BToA => Side::B,
        }
    }

    pub fn target(self) -> Side {
        self.source().other()
    }
}

/// The mass-deletion guard's limit, per mailbox and side (`--max-delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxDelete {
    /// At most this many deletions (`--max-delete N`).
    Count(u32),
    /// At most the larger of 10 and this share of the mailbox's pairs
    /// (`--max-delete P%`, 1..=100).
    Percent(u8),
}

impl MaxDelete {
    /// The guard when `--max-delete` is not given.
    pub const DEFAULT: MaxDelete = MaxDelete::Percent(50);

    /// How many deletions are allowed in a mailbox whose snapshot holds
    /// `pairs` pairs; more than this and all are withheld.
    pub fn limit(self, pairs: u64) -> u64 {
        match self {
            MaxDelete::Count(n) => u64::from(n),
            MaxDelete::Percent(p) => (pairs * u64::from(p) / 100).max(10),
        }
    }
}

impl FromStr for MaxDelete {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if let Some(p) = s.strip_suffix('%') {
            match p.parse::<u8>() {
                Ok(p) if digits_only(s.trim_end_matches('%')) && (1..=100).contains(&p) => {
                    Ok(MaxDelete::Percent(p))
                }
                _ => Err(format!("'{s}': a percentage must be 1% to 100%")),
            }
        } else if digits_only(s) {
            s.parse::<u32>()
                .map(MaxDelete::Count)
                .map_err(|_| format!("'{s}': count too large"))
        } else {
            Err(format!(
                "'{s}': expected a count (N) or a percentage (P%), e.g. 20 or 30%"
            ))
        }
    }
}

impl fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_max_delete_parses_counts_and_percentages() {
        for (s, want) in [
            ("0", MaxDelete::Count(0)),
            ("10", MaxDelete::Count(10)),
            ("4294967295", MaxDelete::Count(u32::MAX)),
            ("1%", MaxDelete::Percent(1)),
            ("100%", MaxDelete::Percent(100)),
        ] {
            assert_eq!(s.parse::<MaxDelete>(), Ok(want), "{s}");
            assert_eq!(want.to_string(), s);
        }
        for s in [
            "",
            "%",
            "0%",
            "101%",
            "256%",
            "-1",
            "+5",
            "1.5%",
            "10 %",
            " 10",
            "4294967296",
            "ten",
            "5%%",
        ] {
            assert!(s.parse::<MaxDelete>().is_err(), "{s:?} should be refused");
        }
        assert_eq!(MaxDelete::DEFAULT.limit(0), 10);
        assert_eq!(MaxDelete::DEFAULT.limit(100), 50);
        assert_eq!(MaxDelete::Percent(30).limit(1000), 300);
        assert_eq!(MaxDelete::Count(3).limit(1000), 3);
    }
}
