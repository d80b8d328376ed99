//! The writes, each a step inside a transaction the caller (`Snapshot`)
//! opens and commits: a checkpoint either lands whole or not at all.
//!
//! Every function takes the run's view of A and B and mirrors it into the
//! file's through the `Orientation`.

use super::schema::{modseq_to_sql, side_prefix, side_text};
use super::store::Orientation;
use super::{MessageStatus, PairRecord, Tombstone};
use crate::model::{Fingerprint, MailboxStatus, MessageMeta, PairLevel, Side, Uid};
use rusqlite::{params, OptionalExtension, Transaction};

/// The id of a logical mailbox, creating its row (sides unknown) if needed.
pub fn mailbox_id(tx: &Transaction, name: &str) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO mailbox (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [name],
    )?;
    tx.query_row("SELECT id FROM mailbox WHERE name = ?1", [name], |r| {
        r.get(0)
    })
}

/// The id of a mailbox that must exist already; None if it does not.
pub fn existing_mailbox_id(tx: &Transaction, name: &str) -> rusqlite::Result<Option<i64>> {
    tx.query_row("SELECT id FROM mailbox WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

/// Where a cache row's fingerprint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Computed from the body this side served.
    ReadBack,
    /// Taken from the copy's source; this side's body was not read.
    Copied,
}

/// Upserts cache rows. A status already recorded is kept (but `refused` is
/// forgotten when the flags change: the message is tried again); a cached
/// normalised fingerprint is kept only while the fingerprint is unchanged
/// and no new one is given; a new one is written with the current version.
/// A row stays marked as copied (not read back) until a read-back
/// fingerprint is written for it.
pub fn cache_messages<'m>(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    uidvalidity: u32,
    messages: impl IntoIterator<Item = &'m MessageMeta>,
    provenance: Provenance,
) -> rusqlite::Result<()> {
    // Before the statement is compiled: see `Unchecked`.
    let _unchecked = Unchecked::on(tx)?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO message (mailbox, side, uidvalidity, uid, size, internal_date, internal_date_offset,
                              fingerprint, flags, fingerprint_read_back, normalised_fingerprint,
                              normalised_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN ?11 IS NOT NULL THEN ?12 END)
         ON CONFLICT (mailbox, side, uidvalidity, uid) DO UPDATE SET
             size = excluded.size,
             internal_date = excluded.internal_date,
             internal_date_offset = excluded.internal_date_offset,
             normalised_fingerprint = CASE
                 WHEN excluded.normalised_fingerprint IS NOT NULL THEN excluded.normalised_fingerprint
                 WHEN fingerprint = excluded.fingerprint THEN normalised_fingerprint END,
             normalised_version = CASE
                 WHEN excluded.normalised_fingerprint IS NOT NULL THEN excluded.normalised_version
                 WHEN fingerprint = excluded.fingerprint THEN normalised_version END,
             fingerprint_read_back = CASE WHEN fingerprint = excluded.fingerprint
                                          THEN max(fingerprint_read_back, excluded.fingerprint_read_back)
                                          ELSE excluded.fingerprint_read_back END,
             -- a scrub's verification holds for the content it read
             verified_at = CASE WHEN fingerprint = excluded.fingerprint THEN verified_at END,
             fingerprint = excluded.fingerprint,
             -- a refused message whose flags changed is tried again
             status = CASE WHEN status = 'refused' AND flags != excluded.flags
                           THEN NULL ELSE status END,
             status_reason = CASE WHEN status = 'refused' AND flags != excluded.flags
                                  THEN NULL ELSE status_reason END,
             flags = excluded.flags",
    )?;
    let side = side_text(o.side(side));
    let read_back = provenance == Provenance::ReadBack;
    for m in messages {
        let normalised = m.normalised();
        stmt.execute(params![
            mailbox,
            side,
            uidvalidity,
            m.uid,
            m.size,
            m.internal_date.unix(),
            m.internal_date.offset_minutes(),
            &m.fingerprint.0[..],
            m.flags.to_wire(),
            read_back,
            normalised.as_ref().map(|n| &n.0[..]),
            crate::fingerprint::NORMALISATION_VERSION,
        ])?;
    }
    Ok(())
}

/// `PRAGMA ignore_check_constraints` on while it lives, for the cache rows'
/// upsert alone ([`cache_messages`]). The table's CHECK on `status` (one of
/// five words) makes SQLite build a temporary index for every row it
/// inserts, checked or not: about half of what a cache row cost, and the
/// cache rows were most of a repair's time beyond reading the bodies
/// (issue 18). That statement holds its checks by construction: it writes
/// no status (a conflict keeps one or clears it), the side is
/// [`side_text`]'s, each fingerprint 32 bytes by its type. A flag pragma
/// expires every prepared statement, so statements compiled while it is on
/// leave the checks out and the cached ones are compiled again, with them,
/// once it is off; `snapshot verify`'s integrity check still checks every
/// row against them.
struct Unchecked<'c>(&'c rusqlite::Connection);

impl<'c> Unchecked<'c> {
    fn on(tx: &'c rusqlite::Connection) -> rusqlite::Result<Unchecked<'c>> {
        tx.execute_batch("PRAGMA ignore_check_constraints = ON")?;
        Ok(Unchecked(tx))
    }
}

impl Drop for Unchecked<'_> {
    fn drop(&mut self) {
        // Cannot fail but on a closed connection, which runs nothing more.
        let _ = self
            .0
            .execute_batch("PRAGMA ignore_check_constraints = OFF");
    }
}

/// Sets (or, with None, forgets) one side's watermarks. A new UIDVALIDITY
/// makes the side's cache rows of other UIDVALIDITYs meaningless: the UIDs
/// they name are gone, so they are dropped with their statuses.
pub fn set_side(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    record: Option<(&str, &MailboxStatus)>,
) -> rusqlite::Result<()> {
    let stored = o.side(side);
    let p = side_prefix(stored);
    let sql = format!(
        "UPDATE mailbox SET {p}_wire_name = ?2, {p}_uidvalidity = ?3, {p}_uidnext = ?4, {p}_highestmodseq = ?5
         WHERE id = ?1"
    );
    // What was seen under another UIDVALIDITY (or before the side was
    // forgotten) says nothing now.
    let old_uidvalidity: Option<u32> = tx.query_row(
        &format!("SELECT {p}_uidvalidity FROM mailbox WHERE id = ?1"),
        [mailbox],
        |row| row.get(0),
    )?;
    if old_uidvalidity != record.map(|(_, st)| st.uidvalidity) {
        clear_seen(tx, o, mailbox, side)?;
    }
    match record {
        Some((wire_name, status)) => {
            tx.execute(
                &sql,
                params![
                    mailbox,
                    wire_name,
                    status.uidvalidity,
                    status.uidnext,
                    status.highestmodseq.map(modseq_to_sql)
                ],
            )?;
            // Only a SELECT knows them; an EXAMINE's None keeps what it said.
            if let Some(flags) = &status.permanent_flags {
                tx.execute(
                    &format!("UPDATE mailbox SET {p}_permanent_flags = ?2 WHERE id = ?1"),
                    params![mailbox, flags.join(" ")],
                )?;
            }
            tx.execute(
                "DELETE FROM message WHERE mailbox = ?1 AND side = ?2 AND uidvalidity != ?3",
                params![mailbox, side_text(stored), status.uidvalidity],
            )?;
            raise_seen(tx, o, mailbox, side, status.uidnext, status.highestmodseq)?;
        }
        None => {
            tx.execute(
                &sql,
                params![
                    mailbox,
                    None::<String>,
                    None::<u32>,
                    None::<u32>,
                    None::<i64>
                ],
            )?;
        }
    }
    Ok(())
}

/// Sets both sides' watermarks of a mailbox (see [`set_side`]), creating
/// its row if needed; returns its id.
pub fn set_sides(
    tx: &Transaction,
    o: Orientation,
    mailbox: &str,
    sides: [Option<(&str, &MailboxStatus)>; 2],
) -> rusqlite::Result<i64> {
    let id = mailbox_id(tx, mailbox)?;
    for side in Side::BOTH {
        set_side(tx, o, id, side, sides[side.index()])?;
    }
    Ok(id)
}

/// Inserts pairs. With `replace`, a pair already holding one of the UIDs
/// gives way: the newest evidence (a copy just made) wins.
pub fn insert_pairs(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    pairs: impl IntoIterator<Item = impl std::borrow::Borrow<PairRecord>>,
    replace: bool,
) -> rusqlite::Result<()> {
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let mut stmt = tx.prepare_cached(&format!(
        "{verb} INTO pair (mailbox, uid_a, uid_b, fingerprint, flags, unconfirmed, level, fingerprint_b)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?;
    for pair in pairs {
        let pair = pair.borrow();
        let [uid_a, uid_b] = o.pair(pair.uid);
        let [fp_a, fp_b] = o.pair([pair.fingerprint, pair.fingerprint_on(Side::B)]);
        // NULL for the exact level and for the same content: what a
        // version-1 file holds means what it always meant.
        let level = Some(pair.level)
            .filter(|l| *l != PairLevel::Exact)
            .map(PairLevel::as_str);
        stmt.execute(params![
            mailbox,
            uid_a,
            uid_b,
            &fp_a.0[..],
            pair.flags.as_ref().map(|f| f.to_wire()),
            pair.unconfirmed.map(|side| side_text(o.side(side))),
            level,
            Some(fp_b).filter(|b| *b != fp_a).map(|b| b.0.to_vec()),
        ])?;
    }
    Ok(())
}

pub fn delete_pairs(tx: &Transaction, mailbox: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM pair WHERE mailbox = ?1", [mailbox])?;
    Ok(())
}

/// Sets agreed flags of existing pairs; updates naming no pair are ignored.
pub fn set_pair_flags(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    updates: &[([Uid; 2], crate::model::FlagSet)],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE pair SET flags = ?4 WHERE mailbox = ?1 AND uid_a = ?2 AND uid_b = ?3",
    )?;
    for (uid, flags) in updates {
        let [uid_a, uid_b] = o.pair(*uid);
        stmt.execute(params![mailbox, uid_a, uid_b, flags.to_wire()])?;
    }
    Ok(())
}

/// Records an intent and its items in order; returns its id.
#[allow(clippy::too_many_arguments)]
pub fn record_intent(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    target: Side,
    uidvalidity: u32,
    uidnext: u32,
    items: &[(Fingerprint, Option<u32>)],
    now: i64,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO intent (mailbox, target, uidvalidity, uidnext, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![mailbox, side_text(o.side(target)), uidvalidity, uidnext, now],
    )?;
    let id = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO intent_item (intent, seq, fingerprint, size) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (seq, (fingerprint, size)) in items.iter().enumerate() {
        stmt.execute(params![id, seq as i64, &fingerprint.0[..], size])?;
    }
    Ok(id)
}

/// The size of a message with this fingerprint on `side` of the mailbox,
/// from the cache, if any is cached.
pub fn cached_size(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    fingerprint: &Fingerprint,
) -> rusqlite::Result<Option<u32>> {
    tx.prepare_cached(
        "SELECT size FROM message WHERE mailbox = ?1 AND side = ?2 AND fingerprint = ?3 ORDER BY uidvalidity DESC LIMIT 1",
    )?
    .query_row(params![mailbox, side_text(o.side(side)), &fingerprint.0[..]], |r| r.get(0))
    .optional()
}

/// The run's target side of an intent, if it still exists.
pub fn intent_target(
    tx: &Transaction,
    o: Orientation,
    intent: i64,
) -> rusqlite::Result<Option<Side>> {
    let target: Option<String> = tx
        .query_row("SELECT target FROM intent WHERE id = ?1", [intent], |r| {
            r.get(0)
        })
        .optional()?;
    target
        .map(|t| super::schema::side_from_text(0, &t).map(|s| o.side(s)))
        .transpose()
}

pub fn delete_intent(tx: &Transaction, intent: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM intent WHERE id = ?1", [intent])?;
    Ok(())
}

/// Sets (None: clears) the status of a cached message.
pub fn set_status(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    uidvalidity: u32,
    uid: Uid,
    status: Option<(MessageStatus, Option<&str>)>,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE message SET status = ?5, status_reason = ?6
         WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3 AND uid = ?4",
        params![
            mailbox,
            side_text(o.side(side)),
            uidvalidity,
            uid,
            status.map(|(s, _)| s.as_sql()),
            status.and_then(|(_, reason)| reason)
        ],
    )?;
    Ok(())
}

/// Marks the snapshot as written now.
pub fn touch(tx: &Transaction, now: i64) -> rusqlite::Result<()> {
    tx.execute("UPDATE meta SET updated_at = ?1 WHERE id = 1", [now])?;
    Ok(())
}

/// Forgets cache rows (with their statuses) of UIDs gone from a side.
pub fn forget_messages(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    uidvalidity: u32,
    uids: &[Uid],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM message WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3 AND uid = ?4",
    )?;
    let side = side_text(o.side(side));
    for uid in uids {
        stmt.execute(params![mailbox, side, uidvalidity, uid])?;
    }
    Ok(())
}

/// Removes pairs by [uid A, uid B].
pub fn remove_pairs(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    pairs: &[[Uid; 2]],
) -> rusqlite::Result<()> {
    let mut stmt =
        tx.prepare_cached("DELETE FROM pair WHERE mailbox = ?1 AND uid_a = ?2 AND uid_b = ?3")?;
    for pair in pairs {
        let [uid_a, uid_b] = o.pair(*pair);
        stmt.execute(params![mailbox, uid_a, uid_b])?;
    }
    Ok(())
}

/// Remembers fingerprints whose expunge was proven and propagated.
pub fn add_tombstones(
    tx: &Transaction,
    mailbox: i64,
    tombstones: &[Tombstone],
    now: i64,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO tombstone (fingerprint, mailbox, expunged_at, normalised_fingerprint)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for t in tombstones {
        stmt.execute(params![
            &t.fingerprint.0[..],
            mailbox,
            now,
            t.normalised.as_ref().map(|n| &n.0[..])
        ])?;
    }
    Ok(())
}

/// Raises a side's seen UIDNEXT / HIGHESTMODSEQ, never lowering them. The
/// modseqs are compared as u64 here, not in SQL (they are stored bit-cast).
pub fn raise_seen(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
    uidnext: u32,
    highestmodseq: Option<u64>,
) -> rusqlite::Result<()> {
    let p = side_prefix(o.side(side));
    let (old_uidnext, old_modseq): (Option<u32>, Option<i64>) = tx.query_row(
        &format!("SELECT {p}_seen_uidnext, {p}_seen_highestmodseq FROM mailbox WHERE id = ?1"),
        [mailbox],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let uidnext = old_uidnext.map_or(uidnext, |old| old.max(uidnext));
    let old_modseq = old_modseq.map(super::schema::modseq_from_sql);
    let modseq = match (old_modseq, highestmodseq) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    tx.execute(
        &format!(
            "UPDATE mailbox SET {p}_seen_uidnext = ?2, {p}_seen_highestmodseq = ?3 WHERE id = ?1"
        ),
        params![mailbox, uidnext, modseq.map(modseq_to_sql)],
    )?;
    Ok(())
}

/// Forgets a side's seen UIDNEXT / HIGHESTMODSEQ.
pub fn clear_seen(
    tx: &Transaction,
    o: Orientation,
    mailbox: i64,
    side: Side,
) -> rusqlite::Result<()> {
    let p = side_prefix(o.side(side));
    tx.execute(
        &format!("UPDATE mailbox SET {p}_seen_uidnext = NULL, {p}_seen_highestmodseq = NULL WHERE id = ?1"),
        [mailbox],
    )?;
    Ok(())
}
