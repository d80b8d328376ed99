//! Moving a side's saved watermarks past the run's own writes
//! ([`super::Snapshot::advance_past_writes`]): in one transaction, only
//! from the watermarks the run saved before writing, only when the
//! caller's judgement of the side's cache rows says the server shows
//! nothing else, and with the cache brought to what the server showed.
//!
//! The judgement reads the rows it asks about ([`CachedFlags`]: a UID's
//! flags, whether a range of UIDs holds one, how many there are), each an
//! indexed look-up, never the side's whole cache: at a million messages
//! an incremental run's read-back costs what it changed.

use super::schema::{flags_from_text, modseq_from_sql, modseq_to_sql, side_prefix, side_text};
use super::store::Orientation;
use super::write::raise_seen;
use crate::model::{FlagSet, MailboxStatus, Side, Uid};
use rusqlite::{params, OptionalExtension, Transaction};
use std::cell::{Cell, RefCell};

/// The flags to record per UID, or why the watermarks stay where they are.
pub type Judged = Result<Vec<(Uid, FlagSet)>, String>;

/// A side's cache rows of one mailbox under one UIDVALIDITY, as a
/// judgement asks about them: row by row, not loaded whole.
pub trait CachedFlags {
    /// The flags cached for `uid`; None where no row holds that UID.
    fn flags(&self, uid: Uid) -> Option<FlagSet>;
    /// The lowest cached UID in `lo..=hi`, if any.
    fn first_in(&self, lo: Uid, hi: Uid) -> Option<Uid>;
    /// How many rows there are.
    fn count(&self) -> usize;
}

/// [`CachedFlags`] by indexed queries in the advance's transaction. A
/// query that fails answers None (the judgement then keeps the
/// watermarks) and its error is returned by the advance.
struct Rows<'t> {
    tx: &'t Transaction<'t>,
    key: (i64, &'static str, u32),
    error: RefCell<Option<rusqlite::Error>>,
    read: Cell<u64>,
}

impl Rows<'_> {
    fn query<T>(
        &self,
        sql: &str,
        extra: &[&dyn rusqlite::ToSql],
        get: impl FnOnce(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let (id, side, uidvalidity) = self.key;
        let mut args: Vec<&dyn rusqlite::ToSql> = vec![&id, &side, &uidvalidity];
        args.extend_from_slice(extra);
        let found = self
            .tx
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row(args.as_slice(), get).optional());
        match found {
            Ok(found) => {
                self.read.set(self.read.get() + u64::from(found.is_some()));
                found
            }
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
}

const WHERE_SIDE: &str = "mailbox = ?1 AND side = ?2 AND uidvalidity = ?3";

impl CachedFlags for Rows<'_> {
    fn flags(&self, uid: Uid) -> Option<FlagSet> {
        let sql = format!("SELECT flags FROM message WHERE {WHERE_SIDE} AND uid = ?4");
        self.query(&sql, &[&uid], |row| row.get::<_, String>(0))
            .map(|text| flags_from_text(&text))
    }

    fn first_in(&self, lo: Uid, hi: Uid) -> Option<Uid> {
        let sql = format!(
            "SELECT uid FROM message WHERE {WHERE_SIDE} AND uid BETWEEN ?4 AND ?5 ORDER BY uid LIMIT 1"
        );
        self.query(&sql, &[&lo, &hi], |row| row.get(0))
    }

    fn count(&self) -> usize {
        let sql = format!("SELECT COUNT(*) FROM message WHERE {WHERE_SIDE}");
        self.query(&sql, &[], |row| row.get::<_, i64>(0))
            .map_or(0, |n| n as usize)
    }
}

/// See [`super::Snapshot::advance_past_writes`].
pub fn advance(
    tx: &Transaction,
    o: Orientation,
    mailbox: &str,
    side: Side,
    [from, to]: [&MailboxStatus; 2],
    judge: impl FnOnce(&dyn CachedFlags) -> Judged,
) -> rusqlite::Result<Result<(), String>> {
    let stored = o.side(side);
    let p = side_prefix(stored);
    let saved: Option<(i64, Option<u32>, Option<i64>)> = tx
        .query_row(
            &format!("SELECT id, {p}_uidvalidity, {p}_highestmodseq FROM mailbox WHERE name = ?1"),
            [mailbox],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((id, uidvalidity, modseq)) = saved else {
        return Ok(Err("the snapshot has no record of the mailbox".into()));
    };
    // (Not UIDNEXT: the copier raises its own as it appends.)
    let saved_as = (uidvalidity, modseq.map(modseq_from_sql));
    if from.highestmodseq.is_none() || saved_as != (Some(from.uidvalidity), from.highestmodseq) {
        return Ok(Err(
            "the saved watermarks are not the ones the run wrote from".into(),
        ));
    }
    if to.uidvalidity != from.uidvalidity || to.highestmodseq.is_none() {
        return Ok(Err("the mailbox is not the one written to".into()));
    }
    let side_text = side_text(stored);
    let rows = Rows {
        tx,
        key: (id, side_text, from.uidvalidity),
        error: RefCell::new(None),
        read: Cell::new(0),
    };
    let judged = judge(&rows);
    super::load::count(rows.read.get());
    if let Some(e) = rows.error.into_inner() {
        return Err(e);
    }
    let updates = match judged {
        Ok(updates) => updates,
        Err(why) => return Ok(Err(why)),
    };
    let mut stmt = tx.prepare_cached(
        "UPDATE message SET flags = ?5
         WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3 AND uid = ?4",
    )?;
    for (uid, flags) in &updates {
        stmt.execute(params![
            id,
            side_text,
            from.uidvalidity,
            uid,
            flags.to_wire()
        ])?;
    }
    tx.execute(
        &format!("UPDATE mailbox SET {p}_uidnext = ?2, {p}_highestmodseq = ?3 WHERE id = ?1"),
        params![id, to.uidnext, to.highestmodseq.map(modseq_to_sql)],
    )?;
    raise_seen(tx, o, id, side, to.uidnext, to.highestmodseq)?;
    Ok(Ok(()))
}
