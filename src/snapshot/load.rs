//! Reading the snapshot back into values, mirrored into the run's view of
//! A and B. Only reads; every query runs inside one read transaction so the
//! state is one consistent checkpoint.

use super::schema::{
    fingerprint_from_blob, flags_from_text, modseq_from_sql, side_from_text, side_prefix,
};
use super::store::Orientation;
use super::{
    CachedMessage, MailboxRecord, MessageStatus, MessageStatusRecord, PairRecord, PendingIntent,
    SideCache, SideRecord, SnapshotState, Tombstone,
};
use crate::fingerprint::NORMALISATION_VERSION;
use crate::model::{Fingerprint, InternalDate, PairLevel, Side};
use rusqlite::{Connection, Row};
use std::collections::{BTreeMap, HashMap};
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

/// Every mailbox with its watermarks, pairs and fingerprint cache.
pub fn state(conn: &Connection, o: Orientation, read: &mut u64) -> rusqlite::Result<SnapshotState> {
    let mut by_id: HashMap<i64, (String, MailboxRecord)> = HashMap::new();

    let mut stmt = conn.prepare(&mailbox_query())?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        *read += 1;
        let id: i64 = row.get(0)?;
        let name: String = row.get(1)?;
        let stored = [side_record(row, 2)?, side_record(row, 2 + SIDE_COLUMNS)?];
        let record = MailboxRecord {
            sides: o.pair(stored),
            ..MailboxRecord::default()
        };
        by_id.insert(id, (name, record));
    }

    let mut stmt = conn.prepare(
        "SELECT mailbox, uid_a, uid_b, fingerprint, flags, unconfirmed, level, fingerprint_b FROM pair",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        *read += 1;
        let Some((_, record)) = by_id.get_mut(&row.get::<_, i64>(0)?) else {
            continue;
        };
        let flags: Option<String> = row.get(4)?;
        let stored_a = fingerprint_from_blob(3, &row.get::<_, Vec<u8>>(3)?)?;
        let stored_b = optional_fingerprint(row, 7)?.unwrap_or(stored_a);
        let [fp_a, fp_b] = o.pair([stored_a, stored_b]);
        record.pairs.push(PairRecord {
            uid: o.pair([row.get(1)?, row.get(2)?]),
            fingerprint: fp_a,
            flags: flags.as_deref().map(flags_from_text),
            unconfirmed: match row.get::<_, Option<String>>(5)? {
                Some(side) => Some(o.side(side_from_text(5, &side)?)),
                None => None,
            },
            level: level_from_sql(row, 6)?,
            fingerprint_b: Some(fp_b).filter(|b| *b != fp_a),
        });
    }

    let mut stmt = conn.prepare(
        "SELECT mailbox, side, uidvalidity, uid, size, internal_date, internal_date_offset, fingerprint, flags,
                fingerprint_read_back, status, normalised_fingerprint, normalised_version
         FROM message",
    )?;
    let mut rows = stmt.query([])?;
    // Per side, by mailbox id: the rows, sorted into each cache at the end.
    let mut entries: [HashMap<i64, Vec<_>>; 2] = Default::default();
    while let Some(row) = rows.next()? {
        *read += 1;
        let record_id = row.get::<_, i64>(0)?;
        if !by_id.contains_key(&record_id) {
            continue;
        }
        let side = o.side(side_from_text(1, &row.get::<_, String>(1)?)?);
        let cached = CachedMessage {
            size: row.get(4)?,
            internal_date: InternalDate {
                unix: row.get(5)?,
                offset_minutes: row.get(6)?,
            },
            fingerprint: fingerprint_from_blob(7, &row.get::<_, Vec<u8>>(7)?)?,
            // Made by other rules than this build's: not known.
            normalised: optional_fingerprint(row, 11)?.filter(|_| {
                row.get::<_, Option<u32>>(12).ok().flatten() == Some(NORMALISATION_VERSION)
            }),
            flags: flags_from_text(&row.get::<_, String>(8)?),
            read_back: row.get(9)?,
            status: row
                .get::<_, Option<String>>(10)?
                .as_deref()
                .and_then(MessageStatus::from_sql),
        };
        entries[side.index()]
            .entry(record_id)
            .or_default()
            .push(((row.get(2)?, row.get(3)?), cached));
    }
    for (id, (_, record)) in by_id.iter_mut() {
        for (i, side) in entries.iter_mut().enumerate() {
            if let Some(rows) = side.remove(id) {
                record.cache[i] = SideCache::from_entries(rows);
            }
        }
    }

    let mut stmt = conn.prepare(
        "SELECT mailbox, fingerprint, expunged_at, normalised_fingerprint FROM tombstone
         WHERE mailbox IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        *read += 1;
        let Some((_, record)) = by_id.get_mut(&row.get::<_, i64>(0)?) else {
            continue;
        };
        let tombstone = Tombstone {
            fingerprint: fingerprint_from_blob(1, &row.get::<_, Vec<u8>>(1)?)?,
            normalised: optional_fingerprint(row, 3)?,
        };
        record.tombstones.push((tombstone, row.get(2)?));
    }

    let mut mailboxes = BTreeMap::new();
    for (_, (name, mut record)) in by_id {
        // The file's pair order depends on its orientation; the run's must not.
        record.pairs.sort_by_key(|p| p.uid);
        record.pairs.shrink_to_fit(); // held while both servers are listed
        mailboxes.insert(name, record);
    }

    let mut stmt =
        conn.prepare("SELECT name, agreed FROM subscription WHERE agreed IS NOT NULL")?;
    let subscriptions: BTreeMap<String, bool> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    *read += subscriptions.len() as u64;
    Ok(SnapshotState {
        mailboxes,
        subscriptions,
    })
}

/// A nullable fingerprint column.
pub(super) fn optional_fingerprint(row: &Row, idx: usize) -> rusqlite::Result<Option<Fingerprint>> {
    row.get::<_, Option<Vec<u8>>>(idx)?
        .map(|blob| fingerprint_from_blob(idx, &blob))
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

fn mailbox_query() -> String {
    let side_columns = |s: Side| {
        let p = side_prefix(s);
        format!(
            "{p}_wire_name, {p}_uidvalidity, {p}_uidnext, {p}_highestmodseq, {p}_seen_uidnext, \
             {p}_seen_highestmodseq, {p}_permanent_flags"
        )
    };
    format!(
        "SELECT id, name, {}, {} FROM mailbox",
        side_columns(Side::A),
        side_columns(Side::B)
    )
}

/// How many columns [`mailbox_query`] reads per side.
const SIDE_COLUMNS: usize = 7;

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
    read: &mut u64,
) -> rusqlite::Result<Vec<MessageStatusRecord>> {
    let mut stmt = conn.prepare(
        "SELECT mailbox.name, message.side, message.uidvalidity, message.uid, message.status, message.status_reason
         FROM message JOIN mailbox ON mailbox.id = message.mailbox
         WHERE message.status IS NOT NULL",
    )?;
    let mut records = stmt
        .query_map([], |row| {
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
