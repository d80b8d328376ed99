//! Where a mailbox of the run may have gone: the UIDVALIDITY of the
//! mailboxes left out of the run (`--folder`, `--include`, `--exclude`), on
//! a side that lost a mailbox the snapshot knew on both sides. A mailbox
//! renamed into a left-out name keeps its UIDVALIDITY on the servers that
//! matter, so reconcile can tell the rename from a deletion
//! ([`crate::reconcile::mailboxes::moved_out_of_run`]).
//!
//! Left-out mailboxes are never selected or fetched: their UIDVALIDITY
//! comes with the LIST where the server has LIST-STATUS, else from
//! `STATUS (UIDVALIDITY)`, asked only when such a loss is in view.

use crate::imap::{Connection, ListedStatus};
use crate::model::Side;
use crate::reconcile::mailboxes::{MailboxPairing, SetAside};
use crate::snapshot::SnapshotState;
use std::collections::HashMap;

/// Per side, the left-out mailboxes with their UIDVALIDITY, only on a side
/// that lacks a selected mailbox the snapshot knew on both sides: taken
/// from the LIST-STATUS answer (`listed`, by wire name) where the server
/// gave one, else asked by STATUS. A mailbox whose STATUS fails is left out
/// (then the loss reads as a deletion, as it would without this).
pub async fn uidvalidities(
    conns: &mut [Connection; 2],
    selected: &[MailboxPairing],
    left_out: &[MailboxPairing],
    listed: &[HashMap<String, ListedStatus>; 2],
    state: &SnapshotState,
) -> [Vec<SetAside>; 2] {
    let mut found: [Vec<SetAside>; 2] = Default::default();
    for side in Side::BOTH {
        let lost_one = selected.iter().any(|p| {
            p.wire[side.index()].is_none()
                && state
                    .mailboxes
                    .get(&p.name)
                    .is_some_and(|r| r.sides.iter().all(Option::is_some))
        });
        if !lost_one {
            continue;
        }
        let conn = &mut conns[side.index()];
        for p in left_out {
            let Some(wire) = &p.wire[side.index()] else {
                continue;
            };
            let known = listed[side.index()].get(wire).map(|s| s.uidvalidity);
            let asked = match known {
                Some(uidvalidity) => Ok(uidvalidity),
                None => conn.uidvalidity_of(wire).await,
            };
            match asked {
                Ok(uidvalidity) => found[side.index()].push(SetAside {
                    name: p.name.clone(),
                    uidvalidity,
                }),
                Err(e) => tracing::warn!("{}: its UIDVALIDITY is not known ({e})", p.name),
            }
        }
    }
    found
}
