//! The snapshot: what imapmend remembers between runs, in one SQLite file.
//!
//! Owns the schema (v1), opening with an OS file lock and mode 0600, the
//! endpoint-identity check (a snapshot of other endpoints is refused; A and B
//! given the other way round are recognised and swapped transparently, so
//! callers always see the command line's A as `Side::A`), loading, and the
//! transactional writes the apply phase checkpoints with.
//!
//! It does not decide anything: what to pair, which flags were agreed and
//! when an intent is resolved are the reconcile and apply layers' business.
//!
//! Layout: `schema` (DDL, version, value encodings), `store` (open, lock,
//! mode, identity, orientation), `load` (reads), `write` (transaction steps),
//! `error`.

mod error;
pub mod inspect;
mod load;
mod schema;
mod store;
#[cfg(test)]
mod tests;
mod write;

/// A snapshot at `dir/pair.sqlite` for two made-up servers (alice on
/// a.example and b.example), for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn scratch(dir: &std::path::Path) -> Snapshot {
    let endpoint = |host: &str| EndpointIdentity {
        scheme: "imap".into(),
        host: host.into(),
        port: 143,
        user: "alice".into(),
    };
    Snapshot::open(
        &dir.join("pair.sqlite"),
        [&endpoint("a.example"), &endpoint("b.example")],
    )
    .unwrap()
}

pub use error::SnapshotError;

use crate::model::{
    Fingerprint, FlagSet, InternalDate, MailboxStatus, MessageMeta, PairLevel, Side, Uid,
};
use error::SqlContext;
use rusqlite::{Connection, Transaction};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use store::Orientation;
use write::Provenance;

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

impl fmt::Display for EndpointIdentity {
    /// `imaps://user@host:993`, for messages to the operator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}",
            self.scheme, self.user, self.host, self.port
        )
    }
}

/// Per side, what the snapshot last agreed for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRecord {
    pub wire_name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
    /// The highest UIDNEXT and HIGHESTMODSEQ ever seen on this side, our
    /// own writes included. Never used to ask for changes (a change made by
    /// someone else during our run may lie below them); a server that shows
    /// less than these was restored.
    pub seen_uidnext: Option<u32>,
    pub seen_highestmodseq: Option<u64>,
    /// PERMANENTFLAGS as the last SELECT (by a sync) listed them.
    pub permanent_flags: Option<Vec<String>>,
}

/// A pairing of two messages, one per side, with the flags last agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRecord {
    /// [uid on A, uid on B].
    pub uid: [Uid; 2],
    /// A's content (and B's, unless `fingerprint_b` says otherwise).
    pub fingerprint: Fingerprint,
    /// None when the pair is known but no flags were agreed yet.
    pub flags: Option<FlagSet>,
    /// A receipt not yet confirmed: the side whose UID an APPENDUID named
    /// and no listing has shown since. Such a pair proves no expunge (a
    /// server may name a UID it never shows, see docs/ARCHITECTURE.md).
    /// None once confirmed, and for a pair matched by content.
    pub unconfirmed: Option<Side>,
    /// The level of identity the pair was made at.
    pub level: PairLevel,
    /// B's content where it differs from A's (a pair below the exact level).
    pub fingerprint_b: Option<Fingerprint>,
}

impl PairRecord {
    /// The content the pair holds on `side`.
    pub fn fingerprint_on(&self, side: Side) -> Fingerprint {
        match side {
            Side::A => self.fingerprint,
            Side::B => self.fingerprint_b.unwrap_or(self.fingerprint),
        }
    }
}

/// Content whose expunge was proven and propagated: one side's actual
/// fingerprint, and its normalised one where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub fingerprint: Fingerprint,
    pub normalised: Option<Fingerprint>,
}

/// The fingerprint cache entry for one (mailbox, side, UIDVALIDITY, UID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMessage {
    pub size: u32,
    pub internal_date: InternalDate,
    pub fingerprint: Fingerprint,
    /// The normalised fingerprint, where known at the current version.
    pub normalised: Option<Fingerprint>,
    pub flags: FlagSet,
    /// Size and date were read from this side (false for a copy recorded
    /// from its source, which the server may have rewritten on APPEND).
    pub read_back: bool,
    /// Why the message is not simply paired, where recorded.
    pub status: Option<MessageStatus>,
}

/// One side's fingerprint cache of one mailbox, (UIDVALIDITY, UID) →
/// entry, read-only once loaded: a vector sorted by key rather than a hash
/// map, which at 100,000 messages held a third more for its empty buckets
/// (the cache is loaded whole while both servers are listed).
#[derive(Debug, Clone, Default)]
pub struct SideCache(Vec<CacheEntry>);

impl SideCache {
    /// From entries in any order; a key given twice keeps its last entry.
    pub fn from_entries(mut entries: Vec<CacheEntry>) -> SideCache {
        entries.reverse(); // the stable sort then puts the last one first
        entries.sort_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        entries.shrink_to_fit();
        SideCache(entries)
    }

    pub fn get(&self, key: &(u32, Uid)) -> Option<&CachedMessage> {
        let at = self.0.binary_search_by_key(key, |(k, _)| *k).ok()?;
        Some(&self.0[at].1)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&(u32, Uid), &CachedMessage)> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &(u32, Uid)> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

type CacheEntry = ((u32, Uid), CachedMessage);

impl<'a> IntoIterator for &'a SideCache {
    type Item = (&'a (u32, Uid), &'a CachedMessage);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, CacheEntry>,
        fn(&'a CacheEntry) -> (&'a (u32, Uid), &'a CachedMessage),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, c)| (k, c))
    }
}

impl std::ops::Index<&(u32, Uid)> for SideCache {
    type Output = CachedMessage;

    fn index(&self, key: &(u32, Uid)) -> &CachedMessage {
        self.get(key).expect("no cache entry for this key")
    }
}

/// Everything the snapshot holds about one mailbox (keyed by logical name).
#[derive(Debug, Clone, Default)]
pub struct MailboxRecord {
    /// Per side ([A, B]); None where the side never had it synced.
    pub sides: [Option<SideRecord>; 2],
    pub pairs: Vec<PairRecord>,
    /// Per side: (UIDVALIDITY, UID) → cached metadata and fingerprint.
    pub cache: [SideCache; 2],
    /// Content whose expunge from this mailbox was proven and propagated,
    /// with when (Unix seconds).
    pub tombstones: Vec<(Tombstone, i64)>,
}

/// The whole snapshot, loaded.
#[derive(Debug, Clone, Default)]
pub struct SnapshotState {
    pub mailboxes: BTreeMap<String, MailboxRecord>,
    /// Subscriptions last agreed on both sides, by logical name.
    pub subscriptions: BTreeMap<String, bool>,
}

/// Why a message is not simply paired, recorded per side and UID so later
/// runs and `check` can list it as a known divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageStatus {
    Paired,
    /// \Deleted was set but the side cannot expunge by UID (no UIDPLUS).
    PendingExpunge,
    /// The server refused to take it (its words are the reason).
    Refused,
    /// Deliberately not copied (too large, NUL bytes, …).
    Skipped,
    /// It carries flags the other side cannot store.
    UnstorableFlags,
}

impl MessageStatus {
    /// The spelling in the `message.status` column.
    pub fn as_sql(self) -> &'static str {
        match self {
            MessageStatus::Paired => "paired",
            MessageStatus::PendingExpunge => "pending-expunge",
            MessageStatus::Refused => "refused",
            MessageStatus::Skipped => "skipped",
            MessageStatus::UnstorableFlags => "unstorable-flags",
        }
    }

    pub fn from_sql(text: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Paired,
            MessageStatus::PendingExpunge,
            MessageStatus::Refused,
            MessageStatus::Skipped,
            MessageStatus::UnstorableFlags,
        ]
        .into_iter()
        .find(|s| s.as_sql() == text)
    }
}

/// A message with a recorded status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatusRecord {
    pub mailbox: String,
    pub side: Side,
    pub uidvalidity: u32,
    pub uid: Uid,
    pub status: MessageStatus,
    pub reason: Option<String>,
}

/// A batch of copies announced but never checkpointed: the run that made it
/// stopped between APPEND and `complete_copies`. Recovery matches what the
/// target holds at and above `uidnext` against `items` by order and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIntent {
    pub id: i64,
    pub mailbox: String,
    pub target: Side,
    pub uidvalidity: u32,
    /// The target's UIDNEXT before the batch.
    pub uidnext: u32,
    /// The source fingerprints in append order, with the source size where
    /// it was known.
    pub items: Vec<(Fingerprint, Option<u32>)>,
    /// Unix seconds.
    pub created_at: i64,
}

/// An open, locked snapshot file.
pub struct Snapshot {
    // Field order is drop order: the connection closes (and checkpoints its
    // WAL) before the lock is released.
    conn: Connection,
    path: PathBuf,
    orientation: Orientation,
    _lock: File,
}

impl Snapshot {
    /// Opens (creating with mode 0600 if absent) and locks the file. Refuses
    /// a file locked by another run (`Locked`), a file made for other
    /// endpoints (`OtherEndpoints`), or a newer schema.
    pub fn open(path: &Path, endpoints: [&EndpointIdentity; 2]) -> Result<Snapshot, SnapshotError> {
        let opened = store::open(path, endpoints)?;
        Ok(Snapshot {
            conn: opened.conn,
            path: path.to_path_buf(),
            orientation: opened.orientation,
            _lock: opened.lock,
        })
    }

    /// Whether the file was made with A and B the other way round.
    pub fn swapped(&self) -> bool {
        self.orientation.swapped
    }

    /// The file this snapshot lives in, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything the snapshot holds, as one consistent checkpoint.
    pub fn load(&self) -> Result<SnapshotState, SnapshotError> {
        self.read(|| "loading".into(), load::state)
    }

    /// Fingerprint cache: upsert these messages for (mailbox, side, uidvalidity).
    ///
    /// The fingerprints must have been computed from the bodies this side
    /// served. A status already recorded for a UID is kept.
    pub fn cache_messages(
        &mut self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        messages: &[MessageMeta],
    ) -> Result<(), SnapshotError> {
        self.write(
            || {
                format!(
                    "caching {} messages of {mailbox:?} on side {side}",
                    messages.len()
                )
            },
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::cache_messages(tx, o, id, side, uidvalidity, messages, Provenance::ReadBack)
            },
        )
    }

    /// In one transaction: set the per-side watermarks of `mailbox` (creating
    /// the mailbox row if needed) and replace all its pairs with `pairs`.
    ///
    /// A side given as None is forgotten (its watermarks become NULL). A
    /// side whose UIDVALIDITY changed loses its cache rows of the old one.
    /// Two pairs sharing a UID on one side are an error, and nothing is written.
    pub fn rebase_mailbox(
        &mut self,
        mailbox: &str,
        sides: [Option<(&str, &MailboxStatus)>; 2],
        pairs: &[PairRecord],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("checkpointing mailbox {mailbox:?}"),
            |tx, o| {
                let id = write::set_sides(tx, o, mailbox, sides)?;
                write::delete_pairs(tx, id)?;
                write::insert_pairs(tx, o, id, pairs, false)
            },
        )
    }

    /// [`Snapshot::rebase_mailbox`] for a mailbox whose pairs are unchanged:
    /// the watermarks only, the pairs left as they are.
    pub fn set_watermarks(
        &mut self,
        mailbox: &str,
        sides: [Option<(&str, &MailboxStatus)>; 2],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("checkpointing mailbox {mailbox:?}"),
            |tx, o| write::set_sides(tx, o, mailbox, sides).map(|_| ()),
        )
    }

    /// Records an intent before a batch of copies; returns its id.
    ///
    /// The size of each item is taken from the source side's cache (the
    /// side opposite `target`) where the fingerprint is cached there; use
    /// [`Snapshot::record_intent_sized`] when the sizes are at hand.
    pub fn record_intent(
        &mut self,
        mailbox: &str,
        target: Side,
        uidvalidity: u32,
        uidnext: u32,
        fingerprints: &[Fingerprint],
    ) -> Result<i64, SnapshotError> {
        self.write(
            || format!("recording the copies into {mailbox:?} on side {target}"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                let items = fingerprints
                    .iter()
                    .map(|f| Ok((*f, write::cached_size(tx, o, id, target.other(), f)?)))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                write::record_intent(tx, o, id, target, uidvalidity, uidnext, &items, now())
            },
        )
    }

    /// Like [`Snapshot::record_intent`], with each source message's size
    /// given: (fingerprint, size) in append order.
    pub fn record_intent_sized(
        &mut self,
        mailbox: &str,
        target: Side,
        uidvalidity: u32,
        uidnext: u32,
        items: &[(Fingerprint, u32)],
    ) -> Result<i64, SnapshotError> {
        let items: Vec<_> = items.iter().map(|(f, size)| (*f, Some(*size))).collect();
        self.write(
            || format!("recording the copies into {mailbox:?} on side {target}"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::record_intent(tx, o, id, target, uidvalidity, uidnext, &items, now())
            },
        )
    }

    /// Intents never completed nor dropped, oldest first: the batches a
    /// crashed run may have half-appended. For recovery at the next start.
    pub fn intents(&self) -> Result<Vec<PendingIntent>, SnapshotError> {
        self.read(|| "reading unresolved intents".into(), load::intents)
    }

    /// In one transaction: add these pairs (and their cache rows on both
    /// sides) and delete the intent they resolve.
    ///
    /// A pair already holding one of the new pairs' UIDs is replaced. Cache
    /// rows on the intent's target side are marked as not read back (their
    /// fingerprint is the source's until the copy is read from the target),
    /// except those of the UIDs in `read_back`, whose fingerprint and size
    /// the copier read from the target.
    pub fn complete_copies(
        &mut self,
        mailbox: &str,
        intent: i64,
        pairs: &[PairRecord],
        cache: [Vec<(u32, MessageMeta)>; 2],
        read_back: &[Uid],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("checkpointing copies into {mailbox:?} (intent {intent})"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                let target = write::intent_target(tx, o, intent)?;
                write::insert_pairs(tx, o, id, pairs, true)?;
                for side in Side::BOTH {
                    // One call per run of rows alike (a batch's rows share
                    // their UIDVALIDITY, and most their provenance): the
                    // statement is looked up once, not once per row.
                    let rows = &cache[side.index()];
                    let provenance = |meta: &MessageMeta| {
                        if Some(side) == target && !read_back.contains(&meta.uid) {
                            Provenance::Copied
                        } else {
                            Provenance::ReadBack
                        }
                    };
                    let mut start = 0;
                    while start < rows.len() {
                        let (uidvalidity, first) = &rows[start];
                        let kind = provenance(first);
                        let len = rows[start..]
                            .iter()
                            .take_while(|(uv, m)| uv == uidvalidity && provenance(m) == kind)
                            .count();
                        let run = rows[start..start + len].iter().map(|(_, m)| m);
                        write::cache_messages(tx, o, id, side, *uidvalidity, run, kind)?;
                        start += len;
                    }
                }
                write::delete_intent(tx, intent)
            },
        )
    }

    /// Deletes an intent whose batch failed before anything was appended.
    pub fn drop_intent(&mut self, intent: i64) -> Result<(), SnapshotError> {
        self.write(
            || format!("dropping intent {intent}"),
            |tx, _| write::delete_intent(tx, intent),
        )
    }

    /// Sets the agreed flags of existing pairs (by [uid A, uid B]).
    /// An update naming no existing pair is ignored.
    pub fn set_pair_flags(
        &mut self,
        mailbox: &str,
        updates: &[([Uid; 2], FlagSet)],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("checkpointing flags in {mailbox:?}"),
            |tx, o| match write::existing_mailbox_id(tx, mailbox)? {
                Some(id) => write::set_pair_flags(tx, o, id, updates),
                None => Ok(()),
            },
        )
    }

    /// Records why a message is not simply paired (`refused` with the
    /// server's words, `skipped` with ours, …), or with `status` None clears
    /// it. The message's cache row is upserted from `message` in the same
    /// transaction, so a status never names a message the cache lacks.
    pub fn set_message_status(
        &mut self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        message: &MessageMeta,
        status: Option<MessageStatus>,
        reason: Option<&str>,
    ) -> Result<(), SnapshotError> {
        self.write(
            || {
                format!(
                    "recording the status of UID {} in {mailbox:?} on side {side}",
                    message.uid
                )
            },
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::cache_messages(
                    tx,
                    o,
                    id,
                    side,
                    uidvalidity,
                    std::slice::from_ref(message),
                    Provenance::ReadBack,
                )?;
                write::set_status(
                    tx,
                    o,
                    id,
                    side,
                    uidvalidity,
                    message.uid,
                    status.map(|s| (s, reason)),
                )
            },
        )
    }

    /// In one transaction: upsert cache rows read from this side, and forget
    /// the rows (and statuses) of UIDs that are gone from it, so the cache
    /// stays an exact picture of the side as last listed — which the history
    /// path rebuilds listings from.
    pub fn update_cache(
        &mut self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        upsert: &[MessageMeta],
        gone: &[Uid],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("updating the cache of {mailbox:?} on side {side}"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::cache_messages(tx, o, id, side, uidvalidity, upsert, Provenance::ReadBack)?;
                write::forget_messages(tx, o, id, side, uidvalidity, gone)
            },
        )
    }

    /// In one transaction, after a proven expunge was carried out: remove
    /// these pairs ([uid A, uid B]) and remember the fingerprints as
    /// tombstones (content whose expunge was proven and propagated).
    pub fn remove_pairs(
        &mut self,
        mailbox: &str,
        pairs: &[[Uid; 2]],
        tombstones: &[Tombstone],
    ) -> Result<(), SnapshotError> {
        let now = now();
        self.write(
            || format!("removing {} expunged pairs of {mailbox:?}", pairs.len()),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::remove_pairs(tx, o, id, pairs)?;
                write::add_tombstones(tx, id, tombstones, now)
            },
        )
    }

    /// Records subscriptions both sides now agree on (name → subscribed).
    pub fn record_subscriptions(&mut self, agreed: &[(String, bool)]) -> Result<(), SnapshotError> {
        self.write(
            || format!("recording {} subscriptions", agreed.len()),
            |tx, _| {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO subscription (name, a_subscribed, b_subscribed, agreed)
                     VALUES (?1, ?2, ?2, ?2)
                     ON CONFLICT (name) DO UPDATE SET
                         a_subscribed = excluded.a_subscribed,
                         b_subscribed = excluded.b_subscribed,
                         agreed = excluded.agreed",
                )?;
                for (name, subscribed) in agreed {
                    stmt.execute(rusqlite::params![name, subscribed])?;
                }
                Ok(())
            },
        )
    }

    /// Moves what the snapshot knows of mailbox `from` to the name `to` (a
    /// RENAME): cache rows, intents and tombstones; rows `to` holds already
    /// (read under the new name this run) win. Pairs and watermarks are
    /// set by the rebase that follows.
    pub fn rename_mailbox(&mut self, from: &str, to: &str) -> Result<(), SnapshotError> {
        self.write(
            || format!("renaming mailbox {from:?} to {to:?}"),
            |tx, _| {
                let Some(old) = write::existing_mailbox_id(tx, from)? else {
                    return Ok(());
                };
                let new = write::mailbox_id(tx, to)?;
                for table in ["message", "intent", "tombstone", "unstorable_keyword"] {
                    tx.execute(
                        &format!("UPDATE OR IGNORE {table} SET mailbox = ?2 WHERE mailbox = ?1"),
                        [old, new],
                    )?;
                }
                tx.execute("DELETE FROM mailbox WHERE id = ?1", [old])?;
                Ok(())
            },
        )
    }

    /// Forgets a mailbox deleted on both sides: its watermarks, pairs,
    /// cache and intents (tombstones stay, without the mailbox).
    pub fn forget_mailbox(&mut self, mailbox: &str) -> Result<(), SnapshotError> {
        self.write(
            || format!("forgetting mailbox {mailbox:?}"),
            |tx, _| {
                tx.execute("DELETE FROM mailbox WHERE name = ?1", [mailbox])?;
                Ok(())
            },
        )
    }

    /// Raises the highest UIDNEXT / HIGHESTMODSEQ seen on one side (after
    /// our own writes); values lower than those recorded are ignored.
    pub fn raise_seen(
        &mut self,
        mailbox: &str,
        side: Side,
        uidnext: u32,
        highestmodseq: Option<u64>,
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("recording what was seen of {mailbox:?} on side {side}"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::raise_seen(tx, o, id, side, uidnext, highestmodseq)
            },
        )
    }

    /// Sets a side's seen UIDNEXT / HIGHESTMODSEQ to these values, lower or
    /// not: after a restore has been repaired, what was seen before it no
    /// longer describes the server.
    pub fn reset_seen(
        &mut self,
        mailbox: &str,
        side: Side,
        uidnext: u32,
        highestmodseq: Option<u64>,
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("resetting what was seen of {mailbox:?} on side {side}"),
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                write::clear_seen(tx, o, id, side)?;
                write::raise_seen(tx, o, id, side, uidnext, highestmodseq)
            },
        )
    }

    /// Forgets tombstones older than `before` (Unix seconds).
    pub fn purge_tombstones(&mut self, before: i64) -> Result<(), SnapshotError> {
        self.write(
            || "forgetting old tombstones".into(),
            |tx, _| {
                tx.execute("DELETE FROM tombstone WHERE expunged_at < ?1", [before])?;
                Ok(())
            },
        )
    }

    /// Marks cached messages of one side as `pending-expunge` (`\Deleted` was
    /// set for a proven expunge that could not be carried out).
    pub fn mark_pending_expunge(
        &mut self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        uids: &[Uid],
    ) -> Result<(), SnapshotError> {
        self.write(
            || {
                format!(
                    "marking {} messages of {mailbox:?} pending-expunge",
                    uids.len()
                )
            },
            |tx, o| {
                let id = write::mailbox_id(tx, mailbox)?;
                for uid in uids {
                    let reason =
                        Some("\\Deleted set for a proven expunge; not expunged by imapmend");
                    write::set_status(
                        tx,
                        o,
                        id,
                        side,
                        uidvalidity,
                        *uid,
                        Some((MessageStatus::PendingExpunge, reason)),
                    )?;
                }
                Ok(())
            },
        )
    }

    /// Every message with a recorded status, by mailbox, side, UIDVALIDITY, UID.
    pub fn message_statuses(&self) -> Result<Vec<MessageStatusRecord>, SnapshotError> {
        self.read(|| "reading message statuses".into(), load::statuses)
    }

    /// Runs reads inside one read transaction.
    fn read<T>(
        &self,
        context: impl FnOnce() -> String,
        f: impl FnOnce(&Connection, Orientation) -> rusqlite::Result<T>,
    ) -> Result<T, SnapshotError> {
        let run = || {
            let tx = self.conn.unchecked_transaction()?;
            let value = f(&tx, self.orientation)?;
            tx.finish()?;
            Ok(value)
        };
        run().ctx(&self.path, context)
    }

    /// Runs `f` in one write transaction: it commits whole or not at all.
    fn write<T>(
        &mut self,
        context: impl FnOnce() -> String,
        f: impl FnOnce(&Transaction, Orientation) -> rusqlite::Result<T>,
    ) -> Result<T, SnapshotError> {
        let orientation = self.orientation;
        let run = |conn: &mut Connection| {
            let tx = conn.transaction()?;
            let value = f(&tx, orientation)?;
            write::touch(&tx, now())?;
            tx.commit()?;
            Ok(value)
        };
        run(&mut self.conn).ctx(&self.path, context)
    }
}

/// Unix seconds now; a clock before 1970 counts as 1970.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
