//! Evidence is per side: what one side's listing can prove.
//!
//! A side that regressed — UIDVALIDITY changed, UIDNEXT or HIGHESTMODSEQ went
//! backwards, a UID below the saved UIDNEXT that the snapshot never saw, a
//! known UID whose size or date changed, a count that does not add up — is
//! *suspect*: its absences prove no expunge and its flag removals are not
//! taken. Only a healthy side proves deletions. Judging a side is gather's
//! (`crate::gather::evidence`); the core takes the verdict.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "kebab-case")]
pub enum Evidence {
    /// Same UIDVALIDITY, nothing regressed: absences prove expunges and
    /// flag removals count.
    #[default]
    Healthy,
    /// UIDVALIDITY changed with no other sign: pairs are re-linked by
    /// content, flag additions are taken, removals and absences are not.
    UidvalidityChanged,
    /// Restored from a backup (it regressed, or the operator said so): the
    /// other side's flags win on paired messages, absences prove nothing.
    Restored(String),
}

impl Evidence {
    /// Whether the side's absences and flag removals can be trusted.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Evidence::Healthy)
    }

    pub fn is_restored(&self) -> bool {
        matches!(self, Evidence::Restored(_))
    }
}
