//! `imapmend undo --apply`: the writes of an undo plan
//! ([`crate::audit::undo`]), out through the action log's door like every
//! write: a quarantined message moved back to the mailbox it came from
//! (the same MOVE, or COPY + `\Deleted` + UID EXPUNGE, as `--expunge-to`),
//! and a flag delta reversed with `UNCHANGEDSINCE` the mod-sequence the
//! flags were checked at, where the server offers CONDSTORE, so a change
//! made in between is left alone (`[MODIFIED]`) and named.

use super::logged::logged;
use super::quarantine;
use crate::action_log::{self, Write};
use crate::audit::undo::Step;
use crate::imap::{Connection, HistorySupport, ImapError};
use crate::model::{Side, Uid};
use crate::pool::Lane;

/// What one step did: done, or done except for the UIDs changed meanwhile.
pub enum Undone {
    Done,
    /// A flag revert skipped these UIDs: their flags changed after they
    /// were checked (`[MODIFIED]`).
    Modified(Vec<Uid>),
}

/// Sends one step of an undo plan.
pub async fn undo_step(
    lane: &mut Lane,
    step: &Step,
    to_wire: &dyn Fn(Side, &str) -> String,
) -> Result<Undone, ImapError> {
    match step {
        Step::MoveBack {
            side,
            from,
            uidvalidity,
            uids,
            to,
            messages,
        } => {
            let conn = &mut lane[side.index()];
            let (from, to) = (to_wire(*side, from), to_wire(*side, to));
            let to_uidvalidity = conn.uidvalidity_of(&to).await?;
            let status = conn.select(&from, false).await?;
            same_uidvalidity(conn, &from, status.uidvalidity, *uidvalidity)?;
            let write = Write {
                uidvalidity: Some(*uidvalidity),
                uids,
                messages: messages.clone(),
                ..Write::mailbox(*side, &from, action_log::Action::Move)
            };
            quarantine::move_to(conn, write, uids, &to, to_uidvalidity).await?;
            Ok(Undone::Done)
        }
        Step::Revert {
            side,
            mailbox,
            uidvalidity,
            uids,
            delta,
            modseq,
            messages,
        } => {
            let conn = &mut lane[side.index()];
            let status = conn.select(&to_wire(*side, mailbox), false).await?;
            same_uidvalidity(conn, mailbox, status.uidvalidity, *uidvalidity)?;
            let write = Write {
                uidvalidity: Some(*uidvalidity),
                uids,
                flags: Some(delta),
                messages: messages.clone(),
                ..Write::mailbox(*side, mailbox, action_log::Action::Store)
            };
            let peer = conn.peer().clone();
            let conditional = modseq.filter(|_| conn.history_support() != HistorySupport::None);
            let modified = match conditional {
                Some(modseq) => {
                    let send = conn.store_unchanged_since(uids, delta, modseq);
                    let send = async { send.await.map(|o| o.modified) };
                    let stored = super::logged::stored_but_modified(uids);
                    logged(&peer, write, send, stored).await?
                }
                None => {
                    logged(
                        &peer,
                        write,
                        conn.store(uids, delta),
                        super::logged::as_sent,
                    )
                    .await?;
                    Vec::new()
                }
            };
            Ok(if modified.is_empty() {
                Undone::Done
            } else {
                Undone::Modified(modified)
            })
        }
    }
}

/// The mailbox is still the one the plan was made for.
fn same_uidvalidity(
    conn: &Connection,
    name: &str,
    now: u32,
    planned: u32,
) -> Result<(), ImapError> {
    if now == planned {
        return Ok(());
    }
    Err(ImapError::Invalid {
        peer: conn.peer().clone(),
        detail: format!(
            "{name}: UIDVALIDITY is {now}, not {planned} as when undo looked: nothing sent"
        ),
    })
}
