//! Moving a side's saved watermarks past the run's own writes
//! ([`super::Snapshot::advance_past_writes`]): in one transaction, only
//! from the watermarks the run saved before writing, only when the
//! caller's judgement of the side's cache rows says the server shows
//! nothing else, and with the cache brought to what the server showed.

use super::schema::{flags_from_text, modseq_from_sql, modseq_to_sql, side_prefix, side_text};
use super::store::Orientation;
use super::write::raise_seen;
use crate::model::{FlagSet, MailboxStatus, Side, Uid};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::HashMap;

/// The flags to record per UID, or why the watermarks stay where they are.
pub type Judged = Result<Vec<(Uid, FlagSet)>, String>;

/// See [`super::Snapshot::advance_past_writes`].
pub fn advance(
    tx: &Transaction,
    o: Orientation,
    mailbox: &str,
    side: Side,
    [from, to]: [&MailboxStatus; 2],
    judge: impl FnOnce(&HashMap<Uid, FlagSet>) -> Judged,
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
    let rows: HashMap<Uid, FlagSet> = {
        let mut stmt = tx.prepare_cached(
            "SELECT uid, flags FROM message WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3",
        )?;
        let rows = stmt.query_map(params![id, side_text, from.uidvalidity], |row| {
            Ok((row.get::<_, Uid>(0)?, row.get::<_, String>(1)?))
        })?;
        rows.map(|r| r.map(|(uid, flags)| (uid, flags_from_text(&flags))))
            .collect::<rusqlite::Result<_>>()?
    };
    let updates = match judge(&rows) {
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
