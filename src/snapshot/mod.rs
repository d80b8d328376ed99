//! The snapshot: what imapmend remembers between runs, in one SQLite file.
//!
//! Owns the schema (v1), opening with an OS file lock and mode 0600, the
//! endpoint-identity check (a snapshot of other endpoints is refused; A and B
//! given the other way round are recognised and swapped transparently, so
//! callers always see the command line's A as `Side::A`), loading, and the
//! transactional writes the apply phase checkpoints with.
//!
//! CONTRACT (stub written by the lead; the snapshot helper replaces the bodies).

use crate::model::{FlagSet, Fingerprint, InternalDate, MailboxStatus, MessageMeta, Side, Uid};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The normalised identity of one endpoint; a snapshot belongs to one pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointIdentity {
    /// "imap" or "imaps".
    pub scheme: String,
    /// Lower-cased host name.
    pub host: String,
    pub port: u16,
    pub user: String,
}

/// Per side, what the snapshot last agreed for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRecord {
    pub wire_name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
}

/// A pairing of two messages, one per side, with the flags last agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRecord {
    /// [uid on A, uid on B].
    pub uid: [Uid; 2],
    pub fingerprint: Fingerprint,
    /// None when the pair is known but no flags were agreed yet.
    pub flags: Option<FlagSet>,
}

/// The fingerprint cache entry for one (mailbox, side, UIDVALIDITY, UID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMessage {
    pub size: u32,
    pub internal_date: InternalDate,
    pub fingerprint: Fingerprint,
    pub flags: FlagSet,
}

/// Everything the snapshot holds about one mailbox (keyed by logical name).
#[derive(Debug, Clone, Default)]
pub struct MailboxRecord {
    /// Per side ([A, B]); None where the side never had it synced.
    pub sides: [Option<SideRecord>; 2],
    pub pairs: Vec<PairRecord>,
    /// Per side: (UIDVALIDITY, UID) → cached metadata and fingerprint.
    pub cache: [HashMap<(u32, Uid), CachedMessage>; 2],
}

/// The whole snapshot, loaded.
#[derive(Debug, Clone, Default)]
pub struct SnapshotState {
    pub mailboxes: BTreeMap<String, MailboxRecord>,
}

/// An open, locked snapshot file.
pub struct Snapshot {
    _private: (),
}

impl Snapshot {
    /// Opens (creating with mode 0600 if absent) and locks the file. Refuses
    /// a file locked by another run (`Locked`), a file made for other
    /// endpoints (`OtherEndpoints`), or a newer schema.
    pub fn open(path: &Path, endpoints: [&EndpointIdentity; 2]) -> Result<Snapshot, SnapshotError> {
        let _ = (path, endpoints);
        todo!("snapshot helper")
    }

    /// Whether the file was made with A and B the other way round.
    pub fn swapped(&self) -> bool {
        todo!("snapshot helper")
    }

    pub fn load(&self) -> Result<SnapshotState, SnapshotError> {
        todo!("snapshot helper")
    }

    /// Fingerprint cache: upsert these messages for (mailbox, side, uidvalidity).
    pub fn cache_messages(&mut self, mailbox: &str, side: Side, uidvalidity: u32, messages: &[MessageMeta]) -> Result<(), SnapshotError> {
        let _ = (mailbox, side, uidvalidity, messages);
        todo!("snapshot helper")
    }

    /// In one transaction: set the per-side watermarks of `mailbox` (creating
    /// the mailbox row if needed) and replace all its pairs with `pairs`.
    pub fn rebase_mailbox(&mut self, mailbox: &str, sides: [Option<(&str, &MailboxStatus)>; 2], pairs: &[PairRecord]) -> Result<(), SnapshotError> {
        let _ = (mailbox, sides, pairs);
        todo!("snapshot helper")
    }

    /// Records an intent before a batch of copies; returns its id.
    pub fn record_intent(&mut self, mailbox: &str, target: Side, uidvalidity: u32, uidnext: u32, fingerprints: &[Fingerprint]) -> Result<i64, SnapshotError> {
        let _ = (mailbox, target, uidvalidity, uidnext, fingerprints);
        todo!("snapshot helper")
    }

    /// In one transaction: add these pairs (and their cache rows on both
    /// sides) and delete the intent they resolve.
    pub fn complete_copies(&mut self, mailbox: &str, intent: i64, pairs: &[PairRecord], cache: [Vec<(u32, MessageMeta)>; 2]) -> Result<(), SnapshotError> {
        let _ = (mailbox, intent, pairs, cache);
        todo!("snapshot helper")
    }

    /// Deletes an intent whose batch failed before anything was appended.
    pub fn drop_intent(&mut self, intent: i64) -> Result<(), SnapshotError> {
        let _ = intent;
        todo!("snapshot helper")
    }

    /// Sets the agreed flags of existing pairs (by [uid A, uid B]).
    pub fn set_pair_flags(&mut self, mailbox: &str, updates: &[([Uid; 2], FlagSet)]) -> Result<(), SnapshotError> {
        let _ = (mailbox, updates);
        todo!("snapshot helper")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Other(String),
}
