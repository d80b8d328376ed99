//! Reading the snapshot back into values, mirrored into the run's view of
//! A and B. Only reads; every query runs inside one read transaction so the
//! state is one consistent checkpoint.
//!
//! A run reads the index first ([`index`]: each mailbox's own row, nothing
//! per message), then a mailbox whole ([`mailbox`]) only where it must
//! look at its messages; [`state`] reads everything (tests, tools).

use super::schema::{
    fingerprint_from_blob, flags_from_text, modseq_from_sql, side_from_text, side_prefix,
};
use super::store::Orientation;
use super::{
    CacheEntry, CachedMessage, MailboxRecord, MessageStatus, MessageStatusRecord, PairRecord,
    PendingIntent, SettledMark, SideCache, SideRecord, SnapshotState, Tombstone,
};
use crate::fingerprint::NORMALISATION_VERSION;
use crate::model::{Fingerprint, InternalDate, PairLevel, Side, Uid};
use rusqlite::{Connection, Row};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows this process has read from snapshot files through the loads
/// below (`-v` prints it: what a run costs in the snapshot).
static ROWS_READ: AtomicU64 = AtomicU64::new(0);

/// The rows this process has read so far (see [`ROWS_READ`]).
pub fn rows_read() -> u64 {
    ROWS_READ.load(Ordering::Relaxed)
}

/// Adds `rows` to the process's count.
pub(super) fn count(rows: u64) {
    ROWS_READ.fetch_add(rows, Ordering::Relaxed);
}

/// Cache rows this process has loaded whole into memory, a side's cache
/// at a time ([`mailbox`], [`side_cache`]); a full listing matched to the
/// rows as they are read ([`each_cached`]) holds none (`-v` prints it).
static ROWS_HELD: AtomicU64 = AtomicU64::new(0);

/// The cache rows this process has held whole so far (see [`ROWS_HELD`]).
pub fn rows_held() -> u64 {
    ROWS_HELD.load(Ordering::Relaxed)
}

/// Every mailbox with its watermarks, pairs and fingerprint cache.
pub fn state(conn: &Connection, o: Orientation, read: &mut u64) -> rusqlite::Result<SnapshotState> {
    let mut mailboxes = BTreeMap::new();
    for (id, name, mut record) in mailbox_rows(conn, o, read)? {
        fill(conn, o, id, &mut record, read)?;
        mailboxes.insert(name, record);
    }
    Ok(SnapshotState {
        mailboxes,
        subscriptions: subscriptions(conn, read)?,
    })
}

/// Every mailbox's own row (watermarks, settled marks, the highest UID
/// known per side, pending intents) and the subscriptions: nothing per
/// message. A mailbox's pairs, cache and tombstones come with [`mailbox`].
pub fn index(conn: &Connection, o: Orientation, read: &mut u64) -> rusqlite::Result<SnapshotState> {
    let mailboxes = mailbox_rows(conn, o, read)?
        .into_iter()
        .map(|(_, name, record)| (name, record))
        .collect();
    Ok(SnapshotState {
        mailboxes,
        subscriptions: subscriptions(conn, read)?,
    })
}

/// One mailbox, whole: its row, pairs, cache and tombstones (None where the
/// snapshot does not know it), read by index look-ups on its id.
pub fn mailbox(
    conn: &Connection,
    o: Orientation,
    name: &str,
    read: &mut u64,
) -> rusqlite::Result<Option<MailboxRecord>> {
    named_then(conn, o, name, read, fill)
}

/// The mailbox `name`'s own row, then the rest `then` reads into it.
fn named_then(
    conn: &Connection,
    o: Orientation,
    name: &str,
    read: &mut u64,
    then: fn(&Connection, Orientation, i64, &mut MailboxRecord, &mut u64) -> rusqlite::Result<()>,
) -> rusqlite::Result<Option<MailboxRecord>> {
    let Some((id, mut record)) = mailbox_named(conn, o, name, read)? else {
        return Ok(None);
    };
    then(conn, o, id, &mut record, read)?;
    Ok(Some(record))
}

/// One mailbox without a row per message: its row and tombstones, and of
/// the cache only the rows of pending expunges (which the decision takes
/// as they are); its pairs come with [`pairs_of`], a side's cache rows
/// where they are needed, with [`each_cached`] or [`side_cache`]. None
/// where the snapshot does not know it.
pub fn mailbox_lean(
    conn: &Connection,
    o: Orientation,
    name: &str,
    read: &mut u64,
) -> rusqlite::Result<Option<MailboxRecord>> {
    named_then(conn, o, name, read, |conn, o, id, record, read| {
        // Answered from the partial index of rows with a status.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CACHE_COLUMNS} FROM message WHERE +mailbox = ?1 AND status = ?2"
        ))?;
        let pending = MessageStatus::PendingExpunge.as_sql();
        let entries = by_side(stmt.query(rusqlite::params![id, pending])?, o, read)?;
        record.cache = entries.map(SideCache::from_entries);
        record.tombstones = tombstones(conn, id, read)?;
        Ok(())
    })
}

/// The pairs of mailbox `name`, in UID order (none where the snapshot
/// does not know it).
pub fn pairs_of(
    conn: &Connection,
    o: Orientation,
    name: &str,
    read: &mut u64,
) -> rusqlite::Result<Vec<PairRecord>> {
    let record = named_then(conn, o, name, read, pairs)?;
    Ok(record.map(|r| r.pairs).unwrap_or_default())
}

/// The cache rows of one side of mailbox `name` under `uidvalidity`, in
/// UID order (the primary key's), each handed to `f` as it is read and
/// none kept. Nothing where the snapshot does not know the mailbox.
pub fn each_cached(
    conn: &Connection,
    o: Orientation,
    name: &str,
    side: Side,
    uidvalidity: u32,
    read: &mut u64,
    f: &mut dyn FnMut(Uid, &CachedMessage),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CACHE_COLUMNS} FROM message
         WHERE mailbox = (SELECT id FROM mailbox WHERE name = ?1) AND side = ?2 AND uidvalidity = ?3
         ORDER BY uid"
    ))?;
    let stored = super::schema::side_text(o.side(side));
    let mut rows = stmt.query(rusqlite::params![name, stored, uidvalidity])?;
    while let Some(row) = rows.next()? {
        *read += 1;
        let (_, ((_, uid), cached)) = cache_row(row, o)?;
        f(uid, &cached);
    }
    Ok(())
}

/// One side's whole cache of mailbox `name` (every UIDVALIDITY), loaded:
/// for a side rebuilt from its change history, which starts from every
/// row.
pub fn side_cache(
    conn: &Connection,
    o: Orientation,
    name: &str,
    side: Side,
    read: &mut u64,
) -> rusqlite::Result<SideCache> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CACHE_COLUMNS} FROM message
         WHERE mailbox = (SELECT id FROM mailbox WHERE name = ?1) AND side = ?2"
    ))?;
    let stored = super::schema::side_text(o.side(side));
    let mut rows = stmt.query(rusqlite::params![name, stored])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        *read += 1;
        entries.push(cache_row(row, o)?.1);
    }
    ROWS_HELD.fetch_add(entries.len() as u64, Ordering::Relaxed);
    Ok(SideCache::from_entries(entries))
}

/// One mailbox's own row, by name: its id and its record without pairs,
/// cache or tombstones.
pub(super) fn mailbox_named(
    conn: &Connection,
    o: Orientation,
    name: &str,
    read: &mut u64,
) -> rusqlite::Result<Option<(i64, MailboxRecord)>> {
    let mut stmt = conn.prepare(&mailbox_query("WHERE name = ?1"))?;
    let mut rows = stmt.query([name])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    *read += 1;
    let (id, _, record) = mailbox_row(row, o)?;
    Ok(Some((id, record)))
}

fn mailbox_rows(
    conn: &Connection,
    o: Orientation,
    read: &mut u64,
) -> rusqlite::Result<Vec<(i64, String, MailboxRecord)>> {
    let mut stmt = conn.prepare(&mailbox_query(""))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        *read += 1;
        out.push(mailbox_row(row, o)?);
    }
    Ok(out)
}

fn subscriptions(conn: &Connection, read: &mut u64) -> rusqlite::Result<BTreeMap<String, bool>> {
    let mut stmt =
        conn.prepare("SELECT name, agreed FROM subscription WHERE agreed IS NOT NULL")?;
    let subscriptions: BTreeMap<String, bool> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    *read += subscriptions.len() as u64;
    Ok(subscriptions)
}

/// A mailbox's pairs, cache and tombstones, into its record.
fn fill(
    conn: &Connection,
    o: Orientation,
    id: i64,
    record: &mut MailboxRecord,
    read: &mut u64,
) -> rusqlite::Result<()> {
    pairs(conn, o, id, record, read)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CACHE_COLUMNS} FROM message WHERE mailbox = ?1"
    ))?;
    let entries = by_side(stmt.query([id])?, o, read)?;
    ROWS_HELD.fetch_add(
        (entries[0].len() + entries[1].len()) as u64,
        Ordering::Relaxed,
    );
    record.cache = entries.map(SideCache::from_entries);

    record.tombstones = tombstones(conn, id, read)?;
    Ok(())
}

/// The cache rows `rows` (of [`CACHE_COLUMNS`]) gives, per side.
fn by_side(
    mut rows: rusqlite::Rows<'_>,
    o: Orientation,
    read: &mut u64,
) -> rusqlite::Result<[Vec<CacheEntry>; 2]> {
    let mut entries: [Vec<_>; 2] = Default::default();
    while let Some(row) = rows.next()? {
        *read += 1;
        let (side, entry) = cache_row(row, o)?;
        entries[side.index()].push(entry);
    }
    Ok(entries)
}

/// A mailbox's pairs, into its record, in UID order.
fn pairs(
    conn: &Connection,
    o: Orientation,
    id: i64,
    record: &mut MailboxRecord,
    read: &mut u64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS} FROM pair WHERE mailbox = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    while let Some(row) = rows.next()? {
        *read += 1;
        record.pairs.push(pair_row(row, o)?);
    }
    // The file's pair order depends on its orientation; the run's must not.
    record.pairs.sort_by_key(|p| p.uid);
    record.pairs.shrink_to_fit(); // held while both servers are listed
    Ok(())
}

/// The columns [`pair_row`] reads.
pub(super) const PAIR_COLUMNS: &str =
    "uid_a, uid_b, fingerprint, flags, unconfirmed, level, fingerprint_b";

/// One pair, read with [`PAIR_COLUMNS`].
pub(super) fn pair_row(row: &Row, o: Orientation) -> rusqlite::Result<PairRecord> {
    // Read in place (`get_ref`), not copied out: a full path reads every
    // pair of a mailbox, a million of them.
    let flags = row.get_ref(3)?.as_str_or_null()?;
    let stored_a = fingerprint_from_blob(2, row.get_ref(2)?.as_blob()?)?;
    let stored_b = optional_fingerprint(row, 6)?.unwrap_or(stored_a);
    let [fp_a, fp_b] = o.pair([stored_a, stored_b]);
    Ok(PairRecord {
        uid: o.pair([row.get(0)?, row.get(1)?]),
        fingerprint: fp_a,
        flags: flags.map(flags_from_text),
        unconfirmed: match row.get_ref(4)?.as_str_or_null()? {
            Some(side) => Some(o.side(side_from_text(4, side)?)),
            None => None,
        },
        level: level_from_sql(row, 5)?,
        fingerprint_b: Some(fp_b).filter(|b| *b != fp_a),
    })
}

/// The columns [`cache_row`] reads.
pub(super) const CACHE_COLUMNS: &str =
    "side, uidvalidity, uid, size, internal_date, internal_date_offset, fingerprint, flags,
     fingerprint_read_back, status, normalised_fingerprint, normalised_version";

/// One row of the fingerprint cache, read with [`CACHE_COLUMNS`]: its
/// side (the run's) and its entry.
pub(super) fn cache_row(row: &Row, o: Orientation) -> rusqlite::Result<(Side, CacheEntry)> {
    // In place, as `pair_row`: a full path reads every row of a mailbox.
    let side = o.side(side_from_text(0, row.get_ref(0)?.as_str()?)?);
    let cached = CachedMessage {
        size: row.get(3)?,
        internal_date: InternalDate::new(row.get(4)?, row.get(5)?),
        fingerprint: fingerprint_from_blob(6, row.get_ref(6)?.as_blob()?)?,
        // Made by other rules than this build's: not known.
        normalised: optional_fingerprint(row, 10)?.filter(|_| {
            row.get::<_, Option<u32>>(11).ok().flatten() == Some(NORMALISATION_VERSION)
        }),
        flags: flags_from_text(row.get_ref(7)?.as_str()?),
        read_back: row.get(8)?,
        status: row
            .get_ref(9)?
            .as_str_or_null()?
            .and_then(MessageStatus::from_sql),
    };
    Ok((side, ((row.get(1)?, row.get(2)?), cached)))
}

/// A mailbox's tombstones, with when, by its index.
pub(super) fn tombstones(
    conn: &Connection,
    id: i64,
    read: &mut u64,
) -> rusqlite::Result<Vec<(Tombstone, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fingerprint, expunged_at, normalised_fingerprint FROM tombstone WHERE mailbox = ?1",
    )?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        *read += 1;
        let tombstone = Tombstone {
            fingerprint: fingerprint_from_blob(0, &row.get::<_, Vec<u8>>(0)?)?,
            normalised: optional_fingerprint(row, 2)?,
        };
        out.push((tombstone, row.get(1)?));
    }
    Ok(out)
}

/// A nullable fingerprint column.
pub(super) fn optional_fingerprint(row: &Row, idx: usize) -> rusqlite::Result<Option<Fingerprint>> {
    row.get_ref(idx)?
        .as_blob_or_null()?
        .map(|blob| fingerprint_from_blob(idx, blob))
        .transpose()
}

/// A pair's level: NULL is exact (every pair of a version-1 file).
pub(super) fn level_from_sql(row: &Row, idx: usize) -> rusqlite::Result<PairLevel> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(PairLevel::Exact),
        Some(text) => PairLevel::from_sql(&text).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                rusqlite::types::Type::Text,
                format!("pair level {text:?}").into(),
            )
        }),
    }
}

/// The mailbox rows `filter` selects (a WHERE clause, or ""), with per
/// side the highest UID the cache knows (an index look-up each) and whether
/// an intent is pending.
fn mailbox_query(filter: &str) -> String {
    let side_columns = |s: Side| {
        let p = side_prefix(s);
        let side = super::schema::side_text(s);
        format!(
            "{p}_wire_name, {p}_uidvalidity, {p}_uidnext, {p}_highestmodseq, {p}_seen_uidnext, \
             {p}_seen_highestmodseq, {p}_permanent_flags, {p}_settled, \
             (SELECT max(uid) FROM message m WHERE m.mailbox = mailbox.id AND m.side = '{side}' \
              AND m.uidvalidity = mailbox.{p}_uidvalidity)"
        )
    };
    format!(
        "SELECT id, name, {}, {}, EXISTS (SELECT 1 FROM intent WHERE intent.mailbox = mailbox.id) \
         FROM mailbox {filter}",
        side_columns(Side::A),
        side_columns(Side::B)
    )
}

/// How many columns [`mailbox_query`] reads per side.
const SIDE_COLUMNS: usize = 9;

/// One row of [`mailbox_query`]: id, name and the record without pairs,
/// cache or tombstones.
fn mailbox_row(row: &Row, o: Orientation) -> rusqlite::Result<(i64, String, MailboxRecord)> {
    let at = |side: usize| 2 + side * SIDE_COLUMNS;
    let stored = [side_record(row, at(0))?, side_record(row, at(1))?];
    let settled = [0, 1].map(|s| {
        row.get::<_, Option<String>>(at(s) + 7)
            .ok()
            .flatten()
            .and_then(|t| SettledMark::from_sql(&t))
    });
    let known = [0, 1].map(|s| {
        row.get::<_, Option<u32>>(at(s) + 8)
            .ok()
            .flatten()
            .map_or(0, |uid| uid.saturating_add(1))
    });
    let record = MailboxRecord {
        sides: o.pair(stored),
        settled: o.pair(settled),
        known_uidnext: o.pair(known),
        intents: row.get(at(2))?,
        ..MailboxRecord::default()
    };
    Ok((row.get(0)?, row.get(1)?, record))
}

/// A side's columns from `first`; None unless the side was synced.
fn side_record(row: &Row, first: usize) -> rusqlite::Result<Option<SideRecord>> {
    let wire_name: Option<String> = row.get(first)?;
    let uidvalidity: Option<u32> = row.get(first + 1)?;
    let uidnext: Option<u32> = row.get(first + 2)?;
    let highestmodseq: Option<i64> = row.get(first + 3)?;
    let seen_uidnext: Option<u32> = row.get(first + 4)?;
    let seen_highestmodseq: Option<i64> = row.get(first + 5)?;
    let permanent_flags: Option<String> = row.get(first + 6)?;
    Ok(match (wire_name, uidvalidity, uidnext) {
        (Some(wire_name), Some(uidvalidity), Some(uidnext)) => Some(SideRecord {
            wire_name,
            uidvalidity,
            uidnext,
            highestmodseq: highestmodseq.map(modseq_from_sql),
            seen_uidnext,
            seen_highestmodseq: seen_highestmodseq.map(modseq_from_sql),
            permanent_flags: permanent_flags.map(|f| {
                f.split(' ')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
        }),
        _ => None,
    })
}

/// Intents not yet resolved, oldest first, items in append order.
pub fn intents(
    conn: &Connection,
    o: Orientation,
    read: &mut u64,
) -> rusqlite::Result<Vec<PendingIntent>> {
    let mut stmt = conn.prepare(
        "SELECT intent.id, mailbox.name, intent.target, intent.uidvalidity, intent.uidnext, intent.created_at
         FROM intent JOIN mailbox ON mailbox.id = intent.mailbox ORDER BY intent.id",
    )?;
    let mut intents = stmt
        .query_map([], |row| {
            Ok(PendingIntent {
                id: row.get(0)?,
                mailbox: row.get(1)?,
                target: o.side(side_from_text(2, &row.get::<_, String>(2)?)?),
                uidvalidity: row.get(3)?,
                uidnext: row.get(4)?,
                created_at: row.get(5)?,
                items: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut items =
        conn.prepare("SELECT fingerprint, size FROM intent_item WHERE intent = ?1 ORDER BY seq")?;
    for intent in &mut intents {
        intent.items = items
            .query_map([intent.id], |row| {
                Ok((
                    fingerprint_from_blob(0, &row.get::<_, Vec<u8>>(0)?)?,
                    row.get(1)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        *read += intent.items.len() as u64;
    }
    *read += intents.len() as u64;
    Ok(intents)
}

/// Every message with a status, ordered by mailbox, side, UIDVALIDITY, UID.
pub fn statuses(
    conn: &Connection,
    o: Orientation,
    only: Option<MessageStatus>,
    read: &mut u64,
) -> rusqlite::Result<Vec<MessageStatusRecord>> {
    // Both forms are answered from the partial index of rows with a status.
    let mut stmt = conn.prepare(
        "SELECT mailbox.name, message.side, message.uidvalidity, message.uid, message.status, message.status_reason
         FROM message JOIN mailbox ON mailbox.id = message.mailbox
         WHERE message.status IS NOT NULL AND (?1 IS NULL OR message.status = ?1)",
    )?;
    let mut records = stmt
        .query_map([only.map(MessageStatus::as_sql)], |row| {
            let status_text = &row.get::<_, String>(4)?;
            let status = MessageStatus::from_sql(status_text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    format!("message status {status_text:?}").into(),
                )
            })?;
            Ok(MessageStatusRecord {
                mailbox: row.get(0)?,
                side: o.side(side_from_text(1, &row.get::<_, String>(1)?)?),
                uidvalidity: row.get(2)?,
                uid: row.get(3)?,
                status,
                reason: row.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    *read += records.len() as u64;
    records.sort_by(|a, b| {
        (&a.mailbox, a.side, a.uidvalidity, a.uid).cmp(&(&b.mailbox, b.side, b.uidvalidity, b.uid))
    });
    Ok(records)
}
