//! `--expunge-to`: a proven expunge moved into the quarantine mailbox on
//! the same side instead of expunged (docs/AUDIT.md). The mailbox is made
//! on first use; the move goes out through the action log's door like
//! every write, logged with where each message landed (COPYUID), which is
//! what a later `undo` reads. Which messages go is the plan's decision.

use super::logged::logged;
use crate::action_log::{self, Confirmed, Write};
use crate::imap::{Connection, ImapError, Moved};
use crate::model::{Side, Uid};

/// The UIDVALIDITY of the quarantine `name` (wire) on this side, made
/// first if it does not exist yet.
pub(super) async fn ensure(
    conn: &mut Connection,
    side: Side,
    name: &str,
) -> Result<u32, ImapError> {
    match conn.uidvalidity_of(name).await {
        Ok(v) => return Ok(v),
        Err(ImapError::No { .. }) => {}
        Err(e) => return Err(e),
    }
    let peer = conn.peer().clone();
    let write = Write::mailbox(side, name, action_log::Action::Create);
    logged(&peer, write, conn.create(name), |_| Confirmed::default()).await?;
    conn.uidvalidity_of(name).await
}

/// Moves `uids` of the selected mailbox into the quarantine `to`,
/// `write` describing them (as an expunge would be logged).
pub(super) async fn move_to(
    conn: &mut Connection,
    write: Write<'_>,
    uids: &[Uid],
    to: &str,
    to_uidvalidity: u32,
) -> Result<(), ImapError> {
    let peer = conn.peer().clone();
    let write = Write {
        action: action_log::Action::Move,
        to: Some(to),
        to_uidvalidity: Some(to_uidvalidity),
        ..write
    };
    let landed = |m: &Moved| Confirmed {
        to_uids: m
            .uids
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        ..Confirmed::default()
    };
    logged(&peer, write, conn.uid_move(uids, to), landed)
        .await
        .map(|_| ())
}
