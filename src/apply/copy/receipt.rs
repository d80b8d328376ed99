//! Confirming the receipts of a batch just appended: the UIDs APPENDUID
//! named are listed on the target (one `UID FETCH` of their metadata), and
//! only those the server shows are recorded as confirmed pairs. A server
//! may name a UID it never shows (Gmail drops an APPEND of a message it
//! already holds); such a pair stays an unconfirmed receipt, which proves
//! no expunge (docs/SCENARIOS.md E14) until a later listing shows it.

use crate::imap::{Connection, ImapError};
use crate::model::Uid;
use std::collections::HashSet;

/// The target mailbox as the copier's session has it open for listing.
#[derive(Default)]
pub(super) struct Target {
    /// Selected already on the target's session during this copy.
    open: bool,
}

impl Target {
    /// Which of `uids` (named by APPENDUID) the target lists now. An error
    /// leaves them all unconfirmed: the next run's listing decides.
    pub(super) async fn listed(
        &mut self,
        conn: &mut Connection,
        wire: &str,
        uids: &[Uid],
    ) -> Result<HashSet<Uid>, ImapError> {
        if !self.open {
            // SELECT, not EXAMINE: the next batch is appended on this
            // session, and some servers (Courier) refuse an APPEND into
            // the mailbox a session holds read-only.
            conn.select(wire, false).await?;
            self.open = true;
        }
        let listed = conn.fetch_meta(uids).await?;
        Ok(listed.into_iter().map(|m| m.uid).collect())
    }
}
