//! The changed subset of one mailbox ([`super::Snapshot::load_subset`]):
//! its own row, the pairs holding the UIDs a run's change history showed
//! (by UID, and by range for VANISHED), the cache rows of those UIDs and of
//! the pairs' partners, and its tombstones — index look-ups only, so the
//! rows read grow with what changed, not with the mailbox.

use super::load::{cache_row, mailbox_named, pair_row, tombstones, CACHE_COLUMNS, PAIR_COLUMNS};
use super::schema::side_text;
use super::store::Orientation;
use super::{MailboxRecord, SideCache};
use crate::model::{Side, Uid};
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, BTreeSet};

/// What one side's change history showed: the UIDs changed or new, and
/// the UIDs expunged (inclusive ranges, as VANISHED gives them; they may
/// cover UIDs never used).
#[derive(Debug, Clone, Copy, Default)]
pub struct Touched<'a> {
    pub changed: &'a [Uid],
    pub vanished: &'a [(Uid, Uid)],
}

/// See [`super::Snapshot::load_subset`].
pub fn subset(
    conn: &Connection,
    o: Orientation,
    name: &str,
    touched: [Touched<'_>; 2],
    read: &mut u64,
) -> rusqlite::Result<Option<MailboxRecord>> {
    let Some((id, mut record)) = mailbox_named(conn, o, name, read)? else {
        return Ok(None);
    };
    let mut pairs = BTreeMap::new();
    for side in Side::BOTH {
        let column = match o.side(side) {
            Side::A => "uid_a",
            Side::B => "uid_b",
        };
        let t = touched[side.index()];
        let mut by_range = conn.prepare_cached(&format!(
            "SELECT {PAIR_COLUMNS} FROM pair WHERE mailbox = ?1 AND {column} BETWEEN ?2 AND ?3"
        ))?;
        let single = t.changed.iter().map(|uid| (*uid, *uid));
        for (lo, hi) in single.chain(t.vanished.iter().copied()) {
            let mut rows = by_range.query(params![id, lo, hi])?;
            while let Some(row) = rows.next()? {
                *read += 1;
                let pair = pair_row(row, o)?;
                pairs.insert(pair.uid, pair);
            }
        }
    }
    for side in Side::BOTH {
        let Some(uidvalidity) = record.sides[side.index()].as_ref().map(|s| s.uidvalidity) else {
            continue;
        };
        let t = touched[side.index()];
        let uids: BTreeSet<Uid> = (t.changed.iter().copied())
            .chain(pairs.keys().map(|uid| uid[side.index()]))
            .collect();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CACHE_COLUMNS} FROM message
             WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3 AND uid BETWEEN ?4 AND ?5"
        ))?;
        let single = uids.into_iter().map(|uid| (uid, uid));
        let mut entries = Vec::new();
        for (lo, hi) in single.chain(t.vanished.iter().copied()) {
            let stored = side_text(o.side(side));
            let mut rows = stmt.query(params![id, stored, uidvalidity, lo, hi])?;
            while let Some(row) = rows.next()? {
                *read += 1;
                entries.push(cache_row(row, o)?.1);
            }
        }
        record.cache[side.index()] = SideCache::from_entries(entries);
    }
    record.pairs = pairs.into_values().collect();
    record.tombstones = tombstones(conn, id, read)?;
    Ok(Some(record))
}
