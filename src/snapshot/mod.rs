//! The snapshot: what imapmend remembers between runs, in one SQLite file.
//!
//! Owns the schema and its migrations, opening with an OS file lock and mode 0600, the
//! endpoint-identity check (a snapshot of other endpoints is refused; A and B
//! given the other way round are recognised and swapped transparently, so
//! callers always see the command line's A as `Side::A`), loading, and the
//! transactional writes the apply phase checkpoints with.
//!
//! It does not decide anything: what to pair, which flags were agreed and
//! when an intent is resolved are the reconcile and apply layers' business.
//!
//! Layout: `schema` (base DDL, value encodings), `migrations` (numbered
//! upgrades, the version), `records` (the values), `store` (open, lock,
//! mode, identity, orientation), `load` (reads), `subset` (the rows of what
//! changed), `write` (transaction steps),
//! `advance` (watermarks moved past the run's own writes),
//! `inspect` and `verify` (the `snapshot` verb's reads), `error`.

mod advance;
mod error;
pub mod inspect;
mod load;
mod migrations;
mod records;
mod schema;
pub mod scrub;
mod store;
mod subset;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrade_tests;
pub mod verify;
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

pub use advance::{CachedFlags, Judged};
pub use error::SnapshotError;
pub use records::*;
pub use subset::Touched;

use crate::model::{Fingerprint, FlagSet, MailboxStatus, MessageMeta, Side, Uid};
use error::SqlContext;
use rusqlite::{Connection, Transaction};
use std::borrow::Borrow;
use std::fs::File;
use std::path::{Path, PathBuf};
use store::Orientation;
use write::Provenance;

/// An open, locked snapshot file.
pub struct Snapshot {
    // Field order is drop order: the connection closes (and checkpoints its
    // WAL) before the lock is released.
    conn: Connection,
    path: PathBuf,
    orientation: Orientation,
    /// Rows this snapshot's loads have read (see [`Snapshot::rows_read`]).
    rows_read: std::cell::Cell<u64>,
    _lock: File,
}

/// Rows this process has read from snapshot files so far: what `-v`
/// reports a run cost in the snapshot ("snapshot: N rows read").
pub fn rows_read() -> u64 {
    load::rows_read()
}

/// Cache rows this process has loaded whole into memory so far (`-v`:
/// "snapshot: N cache rows held"); rows matched as they are read
/// ([`Snapshot::each_cached`]) are not held.
pub fn rows_held() -> u64 {
    load::rows_held()
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
            rows_read: Default::default(),
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
        self.read_counted(|| "loading".into(), load::state)
    }

    /// Each mailbox's own row and the subscriptions, nothing per message:
    /// what a run starts from; a mailbox's messages come with
    /// [`Snapshot::load_mailbox`] where the run must look at them.
    pub fn load_index(&self) -> Result<SnapshotState, SnapshotError> {
        self.read_counted(|| "loading".into(), load::index)
    }

    /// One mailbox whole (watermarks, pairs, cache, tombstones), by index
    /// look-ups; None where the snapshot does not know it.
    pub fn load_mailbox(&self, mailbox: &str) -> Result<Option<MailboxRecord>, SnapshotError> {
        self.read_counted(
            || format!("loading mailbox {mailbox:?}"),
            |conn, o, read| load::mailbox(conn, o, mailbox, read),
        )
    }

    /// One mailbox without a row per message (but its pending expunges):
    /// its row and tombstones; its pairs come with [`Snapshot::load_pairs`],
    /// a side's cache rows with [`Snapshot::each_cached`] or
    /// [`Snapshot::side_cache`], where the run needs them. None where the
    /// snapshot does not know it.
    pub fn load_mailbox_lean(&self, mailbox: &str) -> Result<Option<MailboxRecord>, SnapshotError> {
        self.read_counted(
            || format!("loading mailbox {mailbox:?}"),
            |conn, o, read| load::mailbox_lean(conn, o, mailbox, read),
        )
    }

    /// The pairs of `mailbox`, in UID order.
    pub fn load_pairs(&self, mailbox: &str) -> Result<Vec<PairRecord>, SnapshotError> {
        self.read_counted(
            || format!("loading the pairs of mailbox {mailbox:?}"),
            |conn, o, read| load::pairs_of(conn, o, mailbox, read),
        )
    }

    /// Hands `f` the cache rows of `side` of `mailbox` under `uidvalidity`
    /// in UID order as they are read, keeping none: a full listing is
    /// matched to them row by row.
    pub fn each_cached(
        &self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        mut f: impl FnMut(Uid, &CachedMessage),
    ) -> Result<(), SnapshotError> {
        self.read_counted(
            || format!("reading the cache of mailbox {mailbox:?} on side {side}"),
            |conn, o, read| load::each_cached(conn, o, mailbox, side, uidvalidity, read, &mut f),
        )
    }

    /// One side's whole cache of `mailbox`, loaded (empty where the
    /// snapshot does not know the mailbox).
    pub fn side_cache(&self, mailbox: &str, side: Side) -> Result<SideCache, SnapshotError> {
        self.read_counted(
            || format!("loading the cache of mailbox {mailbox:?} on side {side}"),
            |conn, o, read| load::side_cache(conn, o, mailbox, side, read),
        )
    }

    /// One mailbox's changed subset, by index look-ups: its own row, the
    /// pairs holding the UIDs `touched` names on either side, the cache
    /// rows of those UIDs and of those pairs' partners (under each side's
    /// saved UIDVALIDITY) and its tombstones; None where the snapshot does
    /// not know it. For a mailbox settled at its mark
    /// ([`crate::reconcile::MailboxBase::subset_of`]).
    pub fn load_subset(
        &self,
        mailbox: &str,
        touched: [Touched<'_>; 2],
    ) -> Result<Option<MailboxRecord>, SnapshotError> {
        self.read_counted(
            || format!("loading what changed in mailbox {mailbox:?}"),
            |conn, o, read| subset::subset(conn, o, mailbox, touched, read),
        )
    }

    /// Replaces, in one transaction, the pairs `old` of `mailbox` by
    /// `pairs` and sets its watermarks: what a run that read the mailbox's
    /// changed subset writes, row by row, instead of rewriting every pair
    /// ([`Snapshot::rebase_mailbox`]).
    pub fn rebase_pairs(
        &mut self,
        mailbox: &str,
        sides: [Option<(&str, &MailboxStatus)>; 2],
        old: &[[Uid; 2]],
        pairs: impl IntoIterator<Item = impl Borrow<PairRecord>>,
    ) -> Result<(), SnapshotError> {
        self.rebase(mailbox, sides, Some(old), pairs)
    }

    /// In one transaction: sets the settled marks of these mailboxes, or
    /// with None forgets them (see [`MailboxRecord::settled`]). A mailbox
    /// the snapshot does not hold is left out.
    pub fn record_settled(
        &mut self,
        marks: &[(String, Option<[SettledMark; 2]>)],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("recording {} settled mark(s)", marks.len()),
            |tx, o| {
                let mut stmt = tx.prepare_cached(
                    "UPDATE mailbox SET a_settled = ?2, b_settled = ?3 WHERE name = ?1",
                )?;
                for (name, mark) in marks {
                    let [a, b] = match mark {
                        Some(m) => o.pair(*m).map(|m| Some(m.to_sql())),
                        None => [None, None],
                    };
                    stmt.execute(rusqlite::params![name, a, b])?;
                }
                Ok(())
            },
        )
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
    /// The pairs are written as the iterator gives them (apply's rebase
    /// makes each from the plan's pair as it is written: a million pairs
    /// were held twice, ~112 bytes each, while a repair wrote them).
    pub fn rebase_mailbox(
        &mut self,
        mailbox: &str,
        sides: [Option<(&str, &MailboxStatus)>; 2],
        pairs: impl IntoIterator<Item = impl Borrow<PairRecord>>,
    ) -> Result<(), SnapshotError> {
        self.rebase(mailbox, sides, None, pairs)
    }

    /// Watermarks, then the pairs `old` (None: every pair) replaced by
    /// `pairs`, in one transaction.
    fn rebase(
        &mut self,
        mailbox: &str,
        sides: [Option<(&str, &MailboxStatus)>; 2],
        old: Option<&[[Uid; 2]]>,
        pairs: impl IntoIterator<Item = impl Borrow<PairRecord>>,
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("checkpointing mailbox {mailbox:?}"),
            |tx, o| {
                let id = write::set_sides(tx, o, mailbox, sides)?;
                match old {
                    Some(old) => write::remove_pairs(tx, o, id, old)?,
                    None => write::delete_pairs(tx, id)?,
                }
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
        self.read_counted(|| "reading unresolved intents".into(), load::intents)
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
    pub fn update_cache<'m>(
        &mut self,
        mailbox: &str,
        side: Side,
        uidvalidity: u32,
        upsert: impl IntoIterator<Item = &'m MessageMeta>,
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

    /// After the run's own writes to a side: sets its saved UIDNEXT and
    /// HIGHESTMODSEQ from `from` (what the run listed and saved before
    /// writing, checked here) to `to` (what the server says now), and the
    /// flags of its cache rows to the ones `judge` returns — but only if
    /// `judge`, given the side's cache rows (UID → flags), finds that the
    /// server shows nothing but those writes. Else nothing changes and the
    /// reason is returned: the next run reads the side's history from
    /// `from`, and sees what another client did meanwhile.
    pub fn advance_past_writes(
        &mut self,
        mailbox: &str,
        side: Side,
        from: &MailboxStatus,
        to: &MailboxStatus,
        judge: impl FnOnce(&dyn CachedFlags) -> Judged,
    ) -> Result<Result<(), String>, SnapshotError> {
        self.write(
            || format!("recording what was seen of {mailbox:?} on side {side}"),
            |tx, o| advance::advance(tx, o, mailbox, side, [from, to], judge),
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

    /// Forgets the tombstones of these contents in `mailbox`: `undo` moved
    /// them back there, so they are mail again, never proof of a deletion.
    pub fn forget_tombstones(
        &mut self,
        mailbox: &str,
        contents: &[Fingerprint],
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("forgetting {} tombstone(s) of {mailbox:?}", contents.len()),
            |tx, _| {
                let Some(id) = write::existing_mailbox_id(tx, mailbox)? else {
                    return Ok(());
                };
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM tombstone WHERE mailbox = ?1 AND fingerprint = ?2",
                )?;
                for f in contents {
                    stmt.execute(rusqlite::params![id, &f.0[..]])?;
                }
                Ok(())
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
        self.read_counted(
            || "reading message statuses".into(),
            |c, o, read| load::statuses(c, o, None, read),
        )
    }

    /// Every message a server refused (status `refused`): what a run reads
    /// of the statuses each time, not the others (pending expunges,
    /// unstorable flags), which may be many.
    pub fn refused_messages(&self) -> Result<Vec<MessageStatusRecord>, SnapshotError> {
        self.read_counted(
            || "reading earlier refusals".into(),
            |c, o, read| load::statuses(c, o, Some(MessageStatus::Refused), read),
        )
    }

    /// The rows this snapshot's loads have read since it was opened.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.get()
    }

    /// [`Snapshot::read`] by a load that counts the rows it reads.
    fn read_counted<T>(
        &self,
        context: impl FnOnce() -> String,
        f: impl FnOnce(&Connection, Orientation, &mut u64) -> rusqlite::Result<T>,
    ) -> Result<T, SnapshotError> {
        let mut rows = 0;
        let value = self.read(context, |conn, o| f(conn, o, &mut rows));
        self.rows_read.set(self.rows_read.get() + rows);
        load::count(rows);
        value
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
