//! Whether a body read again is still the one recorded, compared at the
//! level its pair was made: a copy a server rewrote is not damage.

use crate::model::{Fingerprint, PairLevel};

/// A body's exact and normalised fingerprints, as read now.
pub type Hashed = (Fingerprint, Fingerprint);
use crate::snapshot::scrub::ScrubRow;

/// How a re-read body is compared with its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compared {
    /// Byte for byte (line ends made CRLF): the record is this side's own
    /// content and its pair was made at the exact level.
    Exact,
    /// By the normalised fingerprint: the pair was made below the exact
    /// level, or the record is a copy's source, never read back from this
    /// side (a server may have rewritten it on APPEND).
    Normalised,
}

impl Compared {
    /// How `row`'s body is compared.
    pub fn for_row(row: &ScrubRow) -> Compared {
        let exact_pair = row.pair.is_none_or(|(level, _)| level == PairLevel::Exact);
        if exact_pair && row.read_back {
            Compared::Exact
        } else {
            Compared::Normalised
        }
    }
}

/// Whether the body read now (`fresh`: exact and normalised) is the one
/// recorded in `row`, compared as [`Compared::for_row`] says; where the
/// record has no normalised fingerprint (a file of an older version) the
/// exact one is all there is to compare.
pub fn intact(row: &ScrubRow, fresh: Hashed) -> bool {
    let (exact, normalised) = fresh;
    if exact == row.fingerprint {
        return true;
    }
    match (Compared::for_row(row), row.normalised) {
        (Compared::Normalised, Some(recorded)) => recorded == normalised,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(level: Option<PairLevel>, read_back: bool) -> ScrubRow {
        ScrubRow {
            mailbox: "INBOX".into(),
            uidvalidity: 1,
            uid: 7,
            size: 10,
            fingerprint: Fingerprint([1; 32]),
            normalised: Some(Fingerprint([2; 32])),
            read_back,
            verified_at: None,
            pair: level.map(|l| (l, 9)),
        }
    }

    const SAME: Hashed = (Fingerprint([1; 32]), Fingerprint([2; 32]));
    /// Other bytes, the same once normalised (a server's rewrite).
    const REWRITTEN: Hashed = (Fingerprint([3; 32]), Fingerprint([2; 32]));
    const DAMAGED: Hashed = (Fingerprint([3; 32]), Fingerprint([4; 32]));

    #[test]
    fn an_exact_pair_read_back_is_compared_byte_for_byte() {
        for r in [row(Some(PairLevel::Exact), true), row(None, true)] {
            assert_eq!(Compared::for_row(&r), Compared::Exact);
            assert!(intact(&r, SAME));
            assert!(!intact(&r, REWRITTEN));
            assert!(!intact(&r, DAMAGED));
        }
    }

    #[test]
    fn a_rewritten_copy_or_a_loose_pair_is_compared_normalised() {
        for r in [
            row(Some(PairLevel::Exact), false),
            row(Some(PairLevel::Normalised), true),
            row(Some(PairLevel::Headers), true),
        ] {
            assert_eq!(Compared::for_row(&r), Compared::Normalised);
            assert!(intact(&r, SAME));
            assert!(intact(&r, REWRITTEN), "{r:?}");
            assert!(!intact(&r, DAMAGED), "{r:?}");
        }
    }

    #[test]
    fn without_a_recorded_normalised_fingerprint_only_exact_counts() {
        let mut r = row(Some(PairLevel::Normalised), true);
        r.normalised = None;
        assert!(intact(&r, SAME));
        assert!(!intact(&r, REWRITTEN));
    }
}
