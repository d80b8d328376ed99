//! `--quarantine-days N`: at the end of a sync, each side's quarantine
//! (`--expunge-to`) is purged of the messages imapmend itself moved there
//! at least N days ago, as the action log recorded the moves
//! ([`crate::audit::held`]); a message someone else put there is never
//! touched. The purge is `UID EXPUNGE` of exactly those UIDs, out through
//! the action log's door, under the mass-deletion guard: more due than
//! `--max-delete` allows of the quarantine and none is purged (exit 4).
//! A rerun after a crash finds what was purged gone and purges the rest.

use super::logged::{as_sent, logged};
use super::{ActionFailure, ApplyOutcome};
use crate::action_log::{self, LoggedMessage, Write};
use crate::audit;
use crate::imap::{Connection, ImapError};
use crate::model::{MaxDelete, Side, Uid};
use crate::pool::Pool;
use std::path::Path;

/// What a purge needs to know.
pub struct Purging<'a> {
    /// The quarantine's name on each side (under its prefix).
    pub names: &'a [String; 2],
    pub days: u32,
    pub max_delete: MaxDelete,
    /// The action log, where the moves are recorded.
    pub log: &'a Path,
    /// Unix seconds.
    pub now: i64,
}

/// Purges both sides' quarantines; notes what it did in `out`. True when
/// the guard withheld a purge (exit 4).
pub async fn purge_quarantines(
    pool: &mut Pool,
    purging: &Purging<'_>,
    out: &mut ApplyOutcome,
) -> bool {
    let writes = match action_log::read(purging.log) {
        Ok((entries, _)) => action_log::writes(entries),
        Err(e) => {
            for side in Side::BOTH {
                out.failures.push(failure(
                    purging,
                    side,
                    format!("cannot read the action log: {e}"),
                ));
            }
            return false;
        }
    };
    let mut withheld = false;
    let lane = pool.first();
    for side in Side::BOTH {
        let conn = &mut lane[side.index()];
        match purge_side(conn, side, purging, &writes).await {
            Ok(Done::Nothing) => {}
            Ok(Done::Purged(n)) => out.notes.push(format!(
                "purged {n} message(s) from {} on {side}: moved there by imapmend at least {} day(s) ago",
                purging.names[side.index()],
                purging.days
            )),
            Ok(Done::Withheld { due, limit }) => {
                withheld = true;
                out.notes.push(format!(
                    "WITHHELD purge of {due} message(s) from {} on {side}: more than the \
                     mass-deletion guard allows ({limit}); to allow it, rerun with \
                     --max-delete {due} (or a larger share, e.g. --max-delete 100%)",
                    purging.names[side.index()]
                ));
            }
            Err(e) => out.failures.push(failure(purging, side, e.to_string())),
        }
    }
    withheld
}

enum Done {
    Nothing,
    Purged(usize),
    Withheld { due: usize, limit: u64 },
}

async fn purge_side(
    conn: &mut Connection,
    side: Side,
    purging: &Purging<'_>,
    writes: &[action_log::Logged],
) -> Result<Done, ImapError> {
    let name = &purging.names[side.index()];
    // Not made yet on this side: nothing was ever moved there.
    let uidvalidity = match conn.uidvalidity_of(name).await {
        Ok(v) => v,
        Err(ImapError::No { .. }) => return Ok(Done::Nothing),
        Err(e) => return Err(e),
    };
    let held = audit::held(writes, side, name, uidvalidity);
    if held.is_empty() {
        return Ok(Done::Nothing);
    }
    let status = conn.select(name, false).await?;
    let present = conn.uid_list().await?;
    let limit = purging.max_delete.limit(present.len() as u64);
    let chosen = audit::purge(&held, &present, purging.now, purging.days, limit);
    if chosen.due.is_empty() {
        return Ok(Done::Nothing);
    }
    if chosen.withheld {
        return Ok(Done::Withheld {
            due: chosen.due.len(),
            limit,
        });
    }
    let uids: Vec<Uid> = chosen.due.iter().map(|h| h.uid).collect();
    let write = Write {
        uidvalidity: Some(status.uidvalidity),
        uids: &uids,
        messages: chosen
            .due
            .iter()
            .map(|h| LoggedMessage {
                uid: Some(h.uid),
                ..h.message.clone()
            })
            .collect(),
        ..Write::mailbox(side, name, action_log::Action::Expunge)
    };
    let peer = conn.peer().clone();
    logged(&peer, write, conn.uid_expunge(&uids), as_sent).await?;
    Ok(Done::Purged(uids.len()))
}

fn failure(purging: &Purging<'_>, side: Side, error: String) -> ActionFailure {
    ActionFailure {
        mailbox: purging.names[side.index()].clone(),
        side,
        action: format!("purge the quarantine (--quarantine-days {})", purging.days),
        error,
    }
}
