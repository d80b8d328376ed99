//! A pair of messages the snapshot remembers, one per side, with the flags
//! last agreed: the snapshot stores it, the reconcile core reads it.

use super::{Fingerprint, FlagSet, PairLevel, Side, Uid};

/// A pairing of two messages, one per side, with the flags last agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPair {
    /// [uid on A, uid on B], valid under the mailbox's UIDVALIDITY.
    pub uid: [Uid; 2],
    /// A's content (and B's, unless `fingerprint_b` says otherwise).
    pub fingerprint: Fingerprint,
    /// None when the pair is known but no flags were agreed yet.
    pub flags: Option<FlagSet>,
    /// A receipt not yet confirmed: the side whose UID an APPENDUID named
    /// and no listing has shown since. Until that side lists the UID with
    /// the expected content, the pair proves no expunge (a server may name
    /// a UID it never shows, see docs/ARCHITECTURE.md): the UID missing
    /// there is a lost copy, copied again. None once confirmed, and for a
    /// pair matched by content.
    pub unconfirmed: Option<Side>,
    /// The level of identity the pair was made at.
    pub level: PairLevel,
    /// B's content where it differs from A's (a pair below the exact level).
    pub fingerprint_b: Option<Fingerprint>,
}

impl KnownPair {
    /// The content the pair holds on `side`.
    pub fn fingerprint_on(&self, side: Side) -> Fingerprint {
        match side {
            Side::A => self.fingerprint,
            Side::B => self.fingerprint_b.unwrap_or(self.fingerprint),
        }
    }
}
