//! Changes to the mailbox tree and its subscriptions: RENAME and CREATE of a
//! mailbox plan before anything is copied into it, the deletion of a mailbox
//! the other side deleted (checked unchanged first, done last), and
//! SUBSCRIBE / UNSUBSCRIBE with the agreed subscriptions recorded after.
//! Not the order these run in (that is [`super`]'s).

use super::logged::{as_sent, logged};
use super::{ActionFailure, ApplyOutcome, MailboxRun};
use crate::action_log::{self, Write};
use crate::imap::Connection;
use crate::model::{MailboxStatus, Side};
use crate::outcome::{Action, Status};
use crate::plan::{MailboxPlan, MailboxRename, Plan};
use crate::reconcile::subscriptions::{agreed, SubscriptionInput};
use crate::snapshot::Snapshot;
use std::collections::HashSet;

impl MailboxRun<'_, '_> {
    /// RENAME as the other side did (an implied one moved with its parent),
    /// moves the snapshot record to the new name, and checks that the
    /// mailbox kept its UIDVALIDITY (else its UIDs are not the listed ones).
    /// Notes in the ledger whether the RENAME was made.
    pub(super) async fn rename(&mut self, r: &MailboxRename) -> Result<(), String> {
        let wire = self.wire(r.side).to_string();
        if !r.implied {
            let conn = &mut self.conns[r.side.index()];
            let write = Write {
                to: Some(&self.mb.name),
                ..Write::mailbox(r.side, &r.from, action_log::Action::Rename)
            };
            let peer = conn.peer().clone();
            let send = conn.rename_mailbox(&r.from_wire, &wire);
            let sent = logged(&peer, write, send, as_sent).await;
            let sent = sent.map_err(|e| e.to_string());
            if sent.is_err() {
                self.note(Action::RenameMailbox, r.side, Status::of(&sent));
                return sent;
            }
        }
        let followed = self.follow_rename(r, &wire).await;
        let status = match (&followed, r.implied) {
            (Ok(()), false) => Status::Done,
            (Ok(()), true) => Status::Implied,
            (Err(e), false) => Status::Unrecorded(e.clone()),
            (Err(e), true) => Status::Refused(e.clone()),
        };
        self.note(Action::RenameMailbox, r.side, status);
        followed
    }

    /// After a RENAME (or a parent's): the mailbox under its new name, in
    /// the snapshot too, with the UIDVALIDITY it was listed with.
    async fn follow_rename(&mut self, r: &MailboxRename, wire: &str) -> Result<(), String> {
        let conn = &mut self.conns[r.side.index()];
        let now = conn.select(wire, true).await.map_err(|e| e.to_string())?;
        self.snapshot
            .borrow_mut()
            .rename_mailbox(&r.from, &self.mb.name)
            .map_err(|e| e.to_string())?;
        let listed = self.statuses[r.side.index()].as_ref();
        if listed.map(|l| l.uidvalidity) != Some(now.uidvalidity) {
            return Err(
                "renamed, but its UIDVALIDITY changed; the next run pairs its messages by content"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// CREATE, then SELECT (read-write: the copies go into it next, and
    /// nothing is appended into a mailbox the session holds read-only) for
    /// its UIDVALIDITY.
    pub(super) async fn create(&mut self, side: Side) -> Result<(), String> {
        let wire = self.wire(side).to_string();
        let conn = &mut self.conns[side.index()];
        let write = Write::mailbox(side, &self.mb.name, action_log::Action::Create);
        let peer = conn.peer().clone();
        let send = conn.create(&wire);
        logged(&peer, write, send, as_sent)
            .await
            .map_err(|e| e.to_string())?;
        let status = conn.select(&wire, false).await.map_err(|e| e.to_string())?;
        self.statuses[side.index()] = Some(status);
        Ok(())
    }
}

/// SUBSCRIBE / UNSUBSCRIBE once every mailbox exists, then records the
/// agreed subscription of every mailbox whose change went through.
pub(super) async fn subscribe(
    plan: &Plan,
    listed: &SubscriptionInput,
    conns: &mut [Connection; 2],
    snapshot: &mut Snapshot,
    out: &mut ApplyOutcome,
) {
    let mut failed: HashSet<&str> = HashSet::new();
    for c in &plan.subscriptions {
        let conn = &mut conns[c.side.index()];
        let (action, logged_as) = if c.subscribe {
            (Action::Subscribe, action_log::Action::Subscribe)
        } else {
            (Action::Unsubscribe, action_log::Action::Unsubscribe)
        };
        let write = Write::mailbox(c.side, &c.name, logged_as);
        let peer = conn.peer().clone();
        let done = if c.subscribe {
            logged(&peer, write, conn.subscribe(&c.wire), as_sent).await
        } else {
            logged(&peer, write, conn.unsubscribe(&c.wire), as_sent).await
        };
        let result = done.as_ref().map_err(|e| e.to_string());
        out.ledger
            .mailbox(&c.name, action, c.side, Status::of(&result));
        if let Err(e) = done {
            failed.insert(&c.name);
            out.failures.push(ActionFailure {
                mailbox: c.name.clone(),
                side: c.side,
                action: if c.subscribe {
                    "subscribe"
                } else {
                    "unsubscribe"
                }
                .into(),
                error: e.to_string(),
            });
        }
    }
    let agreed: Vec<(String, bool)> = agreed(listed, &plan.mailboxes, &plan.subscriptions)
        .into_iter()
        .filter(|(name, _)| !failed.contains(name.as_str()))
        .collect();
    if let Err(e) = snapshot.record_subscriptions(&agreed) {
        out.failures.push(ActionFailure {
            mailbox: String::new(),
            side: Side::A,
            action: "record subscriptions in the snapshot".into(),
            error: e.to_string(),
        });
    }
}

/// Deletes a mailbox the other side deleted since the last sync, unless it
/// changed since it was listed (new mail would be lost), then forgets it.
pub(super) async fn delete_mailbox(
    mb: &MailboxPlan,
    side: Side,
    listed: Option<&MailboxStatus>,
    conns: &mut [Connection; 2],
    snapshot: &mut Snapshot,
    out: &mut ApplyOutcome,
) {
    let Some(wire) = mb.wire[side.index()].as_deref() else {
        return;
    };
    let fail = |out: &mut ApplyOutcome, action: &str, error: String| {
        out.failures.push(ActionFailure {
            mailbox: mb.name.clone(),
            side,
            action: action.to_string(),
            error,
        })
    };
    let conn = &mut conns[side.index()];
    match conn.select(wire, true).await {
        Ok(now) if listed.is_some_and(|l| l.uidnext == now.uidnext && l.exists == now.exists) => {}
        Ok(_) => {
            let why = "it changed since it was listed; the next run decides again";
            out.notes
                .push(format!("{}: not deleted on {side}: {why}", mb.name));
            let skipped = Status::Skipped(why.into());
            out.ledger
                .mailbox(&mb.name, Action::DeleteMailbox, side, skipped);
            return;
        }
        Err(e) => return fail(out, "open the mailbox before deleting it", e.to_string()),
    }
    let write = Write {
        uidvalidity: listed.map(|l| l.uidvalidity),
        ..Write::mailbox(side, &mb.name, action_log::Action::Delete)
    };
    let peer = conn.peer().clone();
    let deleted = logged(&peer, write, conn.delete_mailbox(wire), as_sent).await;
    let deleted = deleted.map_err(|e| e.to_string());
    out.ledger
        .mailbox(&mb.name, Action::DeleteMailbox, side, Status::of(&deleted));
    if let Err(e) = deleted {
        return fail(out, "delete mailbox", e);
    }
    if let Err(e) = snapshot.forget_mailbox(&mb.name) {
        fail(
            out,
            "forget the deleted mailbox in the snapshot",
            e.to_string(),
        );
    }
}
