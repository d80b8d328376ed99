//! What became of each planned action of a `sync`, for `sync --json`:
//! done, refused (with the server's words), skipped (and why), or not
//! attempted (an earlier error in its mailbox stopped the run there, or
//! the connection was lost).
//!
//! Apply notes what it did in a [`Ledger`], one call per action or batch;
//! [`outcomes`] then walks the Plan and looks every action up, so an action
//! apply never reached is reported as not attempted rather than left out.
//! The ledger is the only record of what apply did: the counts of the
//! report ([`Ledger::made`]) are taken from it too.

use crate::model::{Side, Uid};
use crate::plan::{Copy, Plan};
use serde::Serialize;
use std::collections::HashMap;

/// One planned action, as apply and the report name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateMailbox,
    RenameMailbox,
    DeleteMailbox,
    /// A message copied *to* the side, named by its UID on the source.
    Copy,
    /// A flag change on the side, by the message's UID there.
    Flags,
    /// An expunge (or `\Deleted`) on the side, by the message's UID there.
    Expunge,
    Subscribe,
    Unsubscribe,
}

/// How an action ended, as apply saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Done,
    /// The server refused it (or the command failed): the error, with the
    /// server's words where it gave some.
    Refused(String),
    Skipped(String),
    /// Done by another action, with no command of its own (a mailbox that
    /// moved with its renamed parent): reported as done, not counted as a
    /// change apply made.
    Implied,
    /// The server did it, but what had to follow failed (recording it in
    /// the snapshot, checking it): reported as refused with that error,
    /// counted as a change apply made.
    Unrecorded(String),
}

impl Status {
    /// Done, or refused with the error.
    pub fn of<T>(result: &Result<T, String>) -> Status {
        match result {
            Ok(_) => Status::Done,
            Err(e) => Status::Refused(e.clone()),
        }
    }

    /// Whether apply changed the server by a command of its own.
    fn made(&self) -> bool {
        matches!(self, Status::Done | Status::Unrecorded(_))
    }
}

type Key = (String, Action, Side, Option<Uid>);

/// What apply did, per action.
#[derive(Debug, Clone, Default)]
pub struct Ledger(HashMap<Key, Status>);

impl Ledger {
    /// Records a mailbox-level action (create, rename, delete, subscribe).
    pub fn mailbox(&mut self, mailbox: &str, action: Action, side: Side, status: Status) {
        self.0
            .insert((mailbox.to_string(), action, side, None), status);
    }

    /// Records an action on these messages of `side` (flags, expunge).
    pub fn messages(
        &mut self,
        mailbox: &str,
        action: Action,
        side: Side,
        uids: &[Uid],
        status: &Status,
    ) {
        for uid in uids {
            let key = (mailbox.to_string(), action, side, Some(*uid));
            self.0.insert(key, status.clone());
        }
    }

    /// Records these copies (to the other side of their source).
    pub fn copies(&mut self, mailbox: &str, copies: &[&Copy], status: &Status) {
        for c in copies {
            let key = (
                mailbox.to_string(),
                Action::Copy,
                c.from.other(),
                Some(c.uid),
            );
            self.0.insert(key, status.clone());
        }
    }

    /// How an action on one message of `side` ended, if it was recorded.
    pub fn status(&self, mailbox: &str, action: Action, side: Side, uid: Uid) -> Option<&Status> {
        self.0.get(&(mailbox.to_string(), action, side, Some(uid)))
    }

    /// Adds what another part of the same apply recorded (mailboxes
    /// applied at once each keep their own ledger).
    pub fn extend(&mut self, other: Ledger) {
        self.0.extend(other.0);
    }

    /// Per side, how many of these actions apply made on the server.
    pub fn made(&self, action: Action) -> [usize; 2] {
        let mut made = [0, 0];
        for ((_, a, side, _), status) in &self.0 {
            if *a == action && status.made() {
                made[side.index()] += 1;
            }
        }
        made
    }

    fn get(&self, mailbox: &str, action: Action, side: Side, uid: Option<Uid>) -> Option<&Status> {
        self.0.get(&(mailbox.to_string(), action, side, uid))
    }
}

/// One action's outcome in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub mailbox: String,
    pub action: Action,
    /// The side the action changes (for a copy: the side copied to).
    pub side: Side,
    /// The message: its UID on `side`, or for a copy on the source side.
    pub uid: Option<Uid>,
    /// `done`, `refused`, `skipped` or `not_attempted`.
    pub status: &'static str,
    /// Why refused or skipped.
    pub detail: Option<String>,
    /// Which apply attempt of the run this was (1 = the first): a lost
    /// connection makes the run list, plan and apply again.
    pub attempt: u32,
    /// Apply changed the server by a command of its own (as
    /// [`Ledger::made`] counts), whatever `status` says.
    #[serde(skip)]
    pub made: bool,
}

/// Per side, how many of these actions apply made on the server.
pub fn made(actions: &[ActionOutcome], action: Action) -> [usize; 2] {
    let mut made = [0, 0];
    for a in actions.iter().filter(|a| a.action == action && a.made) {
        made[a.side.index()] += 1;
    }
    made
}

/// How many actions ended each way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub done: usize,
    pub refused: usize,
    pub skipped: usize,
    pub not_attempted: usize,
}

impl Totals {
    fn count(&mut self, status: &str) {
        *match status {
            "done" => &mut self.done,
            "refused" => &mut self.refused,
            "skipped" => &mut self.skipped,
            _ => &mut self.not_attempted,
        } += 1;
    }
}

/// Every planned action with its outcome, in plan order, and the totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub actions: Vec<ActionOutcome>,
    pub totals: Totals,
}

impl Outcomes {
    /// What this attempt reached (done, refused or skipped), numbered
    /// `attempt`: kept when the connection is lost, since the next attempt
    /// plans afresh and no longer lists what was done.
    pub fn reached(self, attempt: u32) -> Vec<ActionOutcome> {
        self.actions
            .into_iter()
            .filter(|a| a.status != "not_attempted")
            .map(|a| ActionOutcome { attempt, ..a })
            .collect()
    }

    /// The final attempt's outcomes (numbered `attempt`) after what the
    /// earlier attempts reached, with totals over all of them.
    pub fn after(mut self, earlier: &[ActionOutcome], attempt: u32) -> Outcomes {
        // In place: a first sync's outcomes are one per message, and
        // moving them into a vector grown by pushing held them twice.
        for a in &mut self.actions {
            a.attempt = attempt;
        }
        for a in earlier {
            self.totals.count(a.status);
        }
        if !earlier.is_empty() {
            self.actions.splice(0..0, earlier.iter().cloned());
        }
        self
    }
}

const WITHHELD: &str = "withheld by the mass-deletion guard";

/// Walks the plan and looks each action up in what apply recorded.
pub fn outcomes(plan: &Plan, ledger: &Ledger) -> Outcomes {
    let mut out = Outcomes::default();
    let mut push = |mailbox: &str, action, side, uid, forced: Option<String>| {
        let found = match forced {
            Some(why) => Some(Status::Skipped(why)),
            None => ledger.get(mailbox, action, side, uid).cloned(),
        };
        let made = found.as_ref().is_some_and(Status::made);
        let (status, detail) = match found {
            Some(Status::Done | Status::Implied) => ("done", None),
            Some(Status::Refused(e) | Status::Unrecorded(e)) => ("refused", Some(e)),
            Some(Status::Skipped(why)) => ("skipped", Some(why)),
            None => ("not_attempted", None),
        };
        out.totals.count(status);
        out.actions.push(ActionOutcome {
            mailbox: mailbox.to_string(),
            action,
            side,
            uid,
            status,
            detail,
            attempt: 1,
            made,
        });
    };
    for mb in &plan.mailboxes {
        let name = mb.name.as_str();
        let problem =
            (!mb.problems.is_empty()).then(|| format!("not applied: {}", mb.problems.join("; ")));
        let skip = || problem.clone();
        if let Some(r) = &mb.rename {
            push(name, Action::RenameMailbox, r.side, None, skip());
        }
        if let Some(side) = mb.create {
            push(name, Action::CreateMailbox, side, None, skip());
        }
        if let Some(d) = &mb.delete {
            let why = skip().or_else(|| d.withheld.then(|| WITHHELD.to_string()));
            push(name, Action::DeleteMailbox, d.side, None, why);
        }
        for c in &mb.copies {
            push(name, Action::Copy, c.from.other(), Some(c.uid), skip());
        }
        // Not copied on purpose (size limits, an earlier refusal).
        for c in &mb.skipped {
            let why = skip().unwrap_or_else(|| c.reason.clone());
            push(name, Action::Copy, c.from.other(), Some(c.uid), Some(why));
        }
        for f in &mb.flag_changes {
            let uid = Some(f.pair[f.side.index()]);
            push(name, Action::Flags, f.side, uid, skip());
        }
        for e in &mb.expunges {
            push(name, Action::Expunge, e.side, Some(e.uid), skip());
        }
        for e in &mb.withheld {
            let why = skip().unwrap_or_else(|| WITHHELD.to_string());
            push(name, Action::Expunge, e.side, Some(e.uid), Some(why));
        }
    }
    for s in &plan.subscriptions {
        let action = if s.subscribe {
            Action::Subscribe
        } else {
            Action::Unsubscribe
        };
        push(&s.name, action, s.side, None, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate};
    use crate::plan::{Expunge, ExpungeMode, MailboxPlan};

    fn copy(uid: Uid) -> Copy {
        Copy {
            from: Side::A,
            uid,
            fingerprint: Some(Fingerprint([uid as u8; 32])),
            size: 10,
            internal_date: InternalDate::new(0, 0),
            flags: FlagSet::new(),
            agreed: FlagSet::new(),
            normalised: None,
        }
    }

    fn expunge(uid: Uid) -> Expunge {
        Expunge {
            side: Side::B,
            uid,
            pair: [uid, uid],
            fingerprint: Fingerprint([0; 32]),
            base: None,
            mode: ExpungeMode::Expunge,
            reason: crate::plan::ExpungeReason::Proven,
            level: crate::model::PairLevel::Exact,
            normalised: None,
            partner: None,
        }
    }

    #[test]
    fn outcome_of_every_planned_action_with_totals() {
        let inbox = MailboxPlan {
            name: "INBOX".into(),
            copies: vec![copy(1), copy(2), copy(3)],
            expunges: vec![expunge(7)],
            withheld: vec![expunge(8)],
            ..MailboxPlan::default()
        };
        let bad = MailboxPlan {
            name: "Bad".into(),
            create: Some(Side::B),
            copies: vec![copy(4)],
            problems: vec!["a level holds the other side's delimiter".into()],
            ..MailboxPlan::default()
        };
        let plan = Plan {
            schema_version: crate::plan::SCHEMA_VERSION,
            mailboxes: vec![inbox, bad],
            notes: Vec::new(),
            subscriptions: Vec::new(),
        };
        let mut ledger = Ledger::default();
        let (c1, c2) = (copy(1), copy(2));
        ledger.copies("INBOX", &[&c1], &Status::Done);
        ledger.copies(
            "INBOX",
            &[&c2],
            &Status::Refused("NO [LIMIT] too big".into()),
        );
        let got = outcomes(&plan, &ledger);
        let status: Vec<(&str, Action, Option<Uid>, &str)> = got
            .actions
            .iter()
            .map(|a| (a.mailbox.as_str(), a.action, a.uid, a.status))
            .collect();
        assert_eq!(
            status,
            [
                ("INBOX", Action::Copy, Some(1), "done"),
                ("INBOX", Action::Copy, Some(2), "refused"),
                ("INBOX", Action::Copy, Some(3), "not_attempted"),
                ("INBOX", Action::Expunge, Some(7), "not_attempted"),
                ("INBOX", Action::Expunge, Some(8), "skipped"),
                ("Bad", Action::CreateMailbox, None, "skipped"),
                ("Bad", Action::Copy, Some(4), "skipped"),
            ]
        );
        assert_eq!(got.actions[1].detail.as_deref(), Some("NO [LIMIT] too big"));
        assert_eq!(
            got.actions[0].side,
            Side::B,
            "a copy is named by its target"
        );
        assert_eq!(
            got.totals,
            Totals {
                done: 1,
                refused: 1,
                skipped: 3,
                not_attempted: 2
            }
        );
    }

    /// The counts come from the ledger: what the server did counts, even
    /// when recording it failed (reported as refused); a mailbox that moved
    /// with its parent is reported as done but was no RENAME of its own.
    #[test]
    fn made_counts_what_the_server_did_in_this_and_earlier_attempts() {
        let plan = Plan {
            schema_version: crate::plan::SCHEMA_VERSION,
            mailboxes: vec![MailboxPlan {
                name: "INBOX".into(),
                copies: vec![copy(1), copy(2), copy(3), copy(4)],
                ..MailboxPlan::default()
            }],
            notes: Vec::new(),
            subscriptions: Vec::new(),
        };
        let mut ledger = Ledger::default();
        let (c1, c2, c3) = (copy(1), copy(2), copy(3));
        ledger.copies("INBOX", &[&c1], &Status::Done);
        let unrecorded = Status::Unrecorded("recording the pairs failed".into());
        ledger.copies("INBOX", &[&c2], &unrecorded);
        ledger.copies("INBOX", &[&c3], &Status::Refused("NO".into()));
        ledger.mailbox("Child", Action::RenameMailbox, Side::B, Status::Implied);
        assert_eq!(ledger.made(Action::Copy), [0, 2]);
        assert_eq!(ledger.made(Action::RenameMailbox), [0, 0]);

        let reached = outcomes(&plan, &ledger).reached(1);
        let seen: Vec<(Option<Uid>, &str, bool)> =
            reached.iter().map(|a| (a.uid, a.status, a.made)).collect();
        assert_eq!(
            seen,
            [
                (Some(1), "done", true),
                (Some(2), "refused", true),
                (Some(3), "refused", false)
            ]
        );
        assert_eq!(made(&reached, Action::Copy), [0, 2]);
    }

    #[test]
    fn earlier_attempts_keep_what_they_reached_and_are_numbered() {
        let plan_of = |uids: &[Uid]| Plan {
            schema_version: crate::plan::SCHEMA_VERSION,
            mailboxes: vec![MailboxPlan {
                name: "INBOX".into(),
                copies: uids.iter().map(|&u| copy(u)).collect(),
                ..MailboxPlan::default()
            }],
            notes: Vec::new(),
            subscriptions: Vec::new(),
        };
        let done = |uid: Uid| {
            let mut ledger = Ledger::default();
            ledger.copies("INBOX", &[&copy(uid)], &Status::Done);
            ledger
        };
        // Attempt 1 copied 1 of 1, 2, 3; attempt 2 copied 2 of 2, 3; the
        // last attempt copied 3.
        let mut earlier = outcomes(&plan_of(&[1, 2, 3]), &done(1)).reached(1);
        earlier.extend(outcomes(&plan_of(&[2, 3]), &done(2)).reached(2));
        let got = outcomes(&plan_of(&[3]), &done(3)).after(&earlier, 3);
        let seen: Vec<(Option<Uid>, &str, u32)> = got
            .actions
            .iter()
            .map(|a| (a.uid, a.status, a.attempt))
            .collect();
        assert_eq!(
            seen,
            [
                (Some(1), "done", 1),
                (Some(2), "done", 2),
                (Some(3), "done", 3)
            ]
        );
        assert_eq!(got.totals.done, 3);
        assert_eq!(got.totals.not_attempted, 0);
    }
}
