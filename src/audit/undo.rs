//! What undoing one run takes (`imapmend undo --run ID`), decided without
//! a server from the run's log lines and what the servers hold now
//! ([`Facts`]): which quarantined messages go back to the mailbox they came
//! from, which flag deltas are reverted (only where the flags the run set
//! are still as it left them), and, one line each, what cannot be undone
//! and why, and what undo leaves by design (copies, mailbox changes).

use super::message_of;
use crate::action_log::{Action, Answer, Entry, Logged, LoggedMessage};
use crate::model::{FlagDelta, FlagSet, Side, Uid};
use std::collections::{BTreeMap, HashMap};

/// What a server says now about a mailbox an undo touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxNow {
    pub uidvalidity: u32,
    /// HIGHESTMODSEQ when the flags were read (CONDSTORE), for the revert's
    /// UNCHANGEDSINCE.
    pub highestmodseq: Option<u64>,
    /// The flags of the UIDs asked about that are still there.
    pub flags: HashMap<Uid, FlagSet>,
}

/// Per side and mailbox name (as logged), what the servers say now; a
/// mailbox absent here does not exist (or could not be opened).
pub type Facts = HashMap<(Side, String), MailboxNow>;

/// What an undo needs to learn from the servers: per side and mailbox
/// (as logged), the UIDs whose presence and flags matter. A quarantine is
/// logged by its name on the wire (`to` of a move); other mailboxes by
/// the name reports give them.
pub fn questions(run: &[&Logged]) -> BTreeMap<(Side, String), Vec<Uid>> {
    let mut ask: BTreeMap<(Side, String), Vec<Uid>> = BTreeMap::new();
    for w in run {
        let (i, Some(o)) = (&w.intent, &w.outcome) else {
            continue;
        };
        match i.action {
            Action::Move => {
                ask.entry((i.side, i.mailbox.clone())).or_default();
                if let Some(to) = &i.to {
                    let uids = ask.entry((i.side, to.clone())).or_default();
                    uids.extend(&o.to_uids);
                }
            }
            Action::Store => {
                let uids = ask.entry((i.side, i.mailbox.clone())).or_default();
                uids.extend(&o.uids);
            }
            _ => {}
        }
    }
    for uids in ask.values_mut() {
        uids.sort_unstable();
        uids.dedup();
    }
    ask
}

/// One write an undo sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Move `uids` of the quarantine `from` (its name on the wire) back
    /// into `to` (as logged) on `side`.
    MoveBack {
        side: Side,
        from: String,
        uidvalidity: u32,
        uids: Vec<Uid>,
        to: String,
        messages: Vec<LoggedMessage>,
    },
    /// Apply `delta` (the run's delta reversed) to `uids` of `mailbox` (as
    /// logged), unchanged since `modseq` where known.
    Revert {
        side: Side,
        mailbox: String,
        uidvalidity: u32,
        uids: Vec<Uid>,
        delta: FlagDelta,
        modseq: Option<u64>,
        /// What the run's log line said of each (fingerprint, size).
        messages: Vec<LoggedMessage>,
    },
}

/// What undoing a run does, and what it leaves and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UndoPlan {
    pub steps: Vec<Step>,
    /// What cannot be undone, one line each, plainly.
    pub cannot: Vec<String>,
    /// What undo leaves as it is by design (copies, mailbox changes).
    pub left: Vec<String>,
}

/// Moves back grouped by side, quarantine, its UIDVALIDITY and mailbox.
type MoveKey = (Side, String, u32, String);
/// Reverts grouped by side, mailbox, UIDVALIDITY and delta.
type RevertKey = (Side, String, u32, FlagDelta);
/// A revert's UIDs, the mod-sequence they were checked at, what the log
/// said of each.
type Reverting = (Vec<Uid>, Option<u64>, Vec<LoggedMessage>);

/// What undoing the writes of one run (`run`, in log order) takes, given
/// the whole log (`all`, to tell a purged message from one gone otherwise)
/// and what the servers hold now.
pub fn undo(run: &[&Logged], all: &[Logged], facts: &Facts) -> UndoPlan {
    let mut out = UndoPlan::default();
    let mut back: BTreeMap<MoveKey, Vec<(Uid, LoggedMessage)>> = BTreeMap::new();
    let mut reverts: BTreeMap<RevertKey, Reverting> = BTreeMap::new();
    let mut copies: BTreeMap<(Side, String), usize> = BTreeMap::new();
    // Latest first: a later write of the run is undone before an earlier one.
    for w in run.iter().rev() {
        let i = &w.intent;
        let Some(o) = w
            .outcome
            .as_ref()
            .filter(|o| matches!(o.outcome, Some(Answer::Done | Answer::Partial)))
        else {
            if w.outcome.is_none() {
                out.cannot.push(format!(
                    "{} {} on {} {} UIDs {}: never confirmed (the run died before the answer); \
                     see what the mailbox holds now",
                    i.action.as_str(),
                    what(i),
                    i.side,
                    i.mailbox,
                    uids(&i.uids)
                ));
            }
            continue;
        };
        match i.action {
            Action::Move => {
                let to = i.to.clone().unwrap_or_default();
                let quarantine = facts.get(&(i.side, to.clone()));
                let source = facts.get(&(i.side, i.mailbox.clone()));
                for (at, from_uid) in i.uids.iter().enumerate() {
                    let message = message_of(i, Some(*from_uid));
                    let Some(&q_uid) = o.to_uids.get(at) else {
                        out.cannot.push(format!(
                            "{} {} UID {from_uid}{}: moved to {to}, but the server did not say \
                             under which UID; move it back with any client",
                            i.side,
                            i.mailbox,
                            described(&message)
                        ));
                        continue;
                    };
                    let there = quarantine.is_some_and(|q| {
                        Some(q.uidvalidity) == i.to_uidvalidity && q.flags.contains_key(&q_uid)
                    });
                    if !there {
                        let why = match purged_by(all, i, q_uid) {
                            Some(p) => format!("purged from {to} by run {} at {}", p.run, p.time),
                            None => format!("no longer in {to} (moved or deleted since)"),
                        };
                        out.cannot.push(format!(
                            "{} {} UID {from_uid}{}: {why}",
                            i.side,
                            i.mailbox,
                            described(&message)
                        ));
                        continue;
                    }
                    if source.is_none() {
                        out.cannot.push(format!(
                            "{} {} UID {from_uid}{}: the mailbox no longer exists; it stays in \
                             {to} UID {q_uid}",
                            i.side,
                            i.mailbox,
                            described(&message)
                        ));
                        continue;
                    }
                    let uidvalidity = i.to_uidvalidity.unwrap_or_default();
                    back.entry((i.side, to.clone(), uidvalidity, i.mailbox.clone()))
                        .or_default()
                        .push((q_uid, message));
                }
            }
            Action::Store => {
                let Some(delta) = &i.flags else { continue };
                let now = facts
                    .get(&(i.side, i.mailbox.clone()))
                    .filter(|m| Some(m.uidvalidity) == i.uidvalidity);
                for &uid in &o.uids {
                    let message = message_of(i, Some(uid));
                    match now.and_then(|m| m.flags.get(&uid)) {
                        None => out.cannot.push(format!(
                            "{} {} UID {uid}{}: flags {} not reverted: the message is no longer \
                             there",
                            i.side,
                            i.mailbox,
                            described(&message),
                            delta_text(delta)
                        )),
                        Some(flags) if as_left(flags, delta) => {
                            let modseq = now.and_then(|m| m.highestmodseq);
                            let revert = reverts
                                .entry((
                                    i.side,
                                    i.mailbox.clone(),
                                    i.uidvalidity.unwrap_or_default(),
                                    FlagDelta {
                                        add: delta.remove.clone(),
                                        remove: delta.add.clone(),
                                    },
                                ))
                                .or_insert_with(|| (Vec::new(), modseq, Vec::new()));
                            revert.0.push(uid);
                            revert.2.push(message);
                        }
                        Some(flags) => out.cannot.push(format!(
                            "{} {} UID {uid}{}: flags {} not reverted: changed since the run \
                             (now {})",
                            i.side,
                            i.mailbox,
                            described(&message),
                            delta_text(delta),
                            if flags.is_empty() {
                                "none".to_string()
                            } else {
                                flags.to_string()
                            }
                        )),
                    }
                }
            }
            Action::Expunge => out.cannot.push(format!(
                "{} {} UIDs {}: expunged without a quarantine (--expunge-to): gone for good{}",
                i.side,
                i.mailbox,
                uids(&i.uids),
                i.messages
                    .iter()
                    .filter_map(|m| m.message_id.as_deref())
                    .map(|id| format!(" {id}"))
                    .collect::<String>()
            )),
            Action::Append => {
                *copies.entry((i.side, i.mailbox.clone())).or_default() += o.uids.len();
            }
            Action::Create
            | Action::Rename
            | Action::Delete
            | Action::Subscribe
            | Action::Unsubscribe => out.left.push(format!(
                "{} {}{} on {}: mailbox changes are not undone",
                i.action.as_str(),
                i.mailbox,
                i.to.as_deref()
                    .map(|t| format!(" to {t}"))
                    .unwrap_or_default(),
                i.side
            )),
        }
    }
    for ((side, mailbox), n) in copies {
        out.left.push(format!(
            "{n} message(s) the run copied into {mailbox} on {side} are left in place \
             (undo never deletes mail)"
        ));
    }
    for ((side, from, uidvalidity, to), moved) in back {
        let (uids, messages) = moved.into_iter().unzip();
        out.steps.push(Step::MoveBack {
            side,
            from,
            uidvalidity,
            uids,
            to,
            messages,
        });
    }
    for ((side, mailbox, uidvalidity, delta), (uids, modseq, messages)) in reverts {
        out.steps.push(Step::Revert {
            side,
            mailbox,
            uidvalidity,
            uids,
            delta,
            modseq,
            messages,
        });
    }
    out
}

/// The flags still read as the run left them: what it added is there, what
/// it removed is not. Other flags may have changed meanwhile; they are not
/// the run's and are left alone.
fn as_left(flags: &FlagSet, delta: &FlagDelta) -> bool {
    delta.add.iter().all(|f| flags.contains(f)) && !delta.remove.iter().any(|f| flags.contains(f))
}

/// The later write of the log that purged `uid` from where `moved` put it.
fn purged_by<'a>(all: &'a [Logged], moved: &Entry, uid: Uid) -> Option<&'a Entry> {
    all.iter()
        .filter(|w| w.answer() == "done")
        .map(|w| &w.intent)
        .find(|i| {
            i.action == Action::Expunge
                && i.side == moved.side
                && Some(&i.mailbox) == moved.to.as_ref()
                && i.uidvalidity == moved.to_uidvalidity
                && i.uids.contains(&uid)
        })
}

fn what(entry: &Entry) -> String {
    entry
        .flags
        .as_ref()
        .map(delta_text)
        .or_else(|| entry.to.as_ref().map(|t| format!("to {t}")))
        .unwrap_or_default()
}

/// ` (<id@host>, 1234 bytes)` as far as the log knows.
fn described(m: &LoggedMessage) -> String {
    let parts: Vec<String> = m
        .message_id
        .iter()
        .cloned()
        .chain(m.size.map(|s| format!("{s} bytes")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

pub fn delta_text(delta: &FlagDelta) -> String {
    let mut parts = Vec::new();
    if !delta.add.is_empty() {
        parts.push(format!("+{}", delta.add));
    }
    if !delta.remove.is_empty() {
        parts.push(format!("-{}", delta.remove));
    }
    parts.join(" ")
}

fn uids(uids: &[Uid]) -> String {
    uids.iter()
        .map(Uid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action_log::Phase;
    use crate::audit::tests::{entry, moved};

    #[test]
    fn undo_moves_back_what_is_still_there_and_names_the_rest() {
        let store = Logged {
            intent: Entry {
                flags: Some(FlagDelta {
                    add: FlagSet::from_wire(["\\Seen"]),
                    remove: FlagSet::new(),
                }),
                to: None,
                uids: vec![1, 2],
                ..entry(2, Phase::Intent, Action::Store)
            },
            outcome: Some(Entry {
                uids: vec![1, 2],
                outcome: Some(Answer::Done),
                ..entry(2, Phase::Outcome, Action::Store)
            }),
        };
        let log = [moved(1, vec![7, 8]), store];
        let run: Vec<&Logged> = log.iter().collect();
        let ask = questions(&run);
        assert_eq!(ask[&(Side::B, "Quarantine".to_string())], vec![7, 8]);
        assert_eq!(ask[&(Side::B, "INBOX".to_string())], vec![1, 2]);
        let mut facts = Facts::new();
        facts.insert(
            (Side::B, "Quarantine".into()),
            MailboxNow {
                uidvalidity: 9,
                highestmodseq: None,
                flags: [(7, FlagSet::new())].into(),
            },
        );
        facts.insert(
            (Side::B, "INBOX".into()),
            MailboxNow {
                uidvalidity: 5,
                highestmodseq: Some(40),
                flags: [
                    (1, FlagSet::from_wire(["\\Seen", "\\Flagged"])),
                    (2, FlagSet::new()),
                ]
                .into(),
            },
        );
        let plan = undo(&run, &log, &facts);
        assert_eq!(plan.steps.len(), 2, "{plan:#?}");
        assert!(
            matches!(&plan.steps[0], Step::MoveBack { uids, to, .. } if uids == &[7] && to == "INBOX")
        );
        assert!(
            matches!(&plan.steps[1], Step::Revert { uids, delta, .. } if uids == &[1] && delta.remove == FlagSet::from_wire(["\\Seen"]))
        );
        assert_eq!(plan.cannot.len(), 2, "{plan:#?}");
        assert!(plan.cannot[0].contains("UID 2") && plan.cannot[0].contains("changed since"));
        assert!(plan.cannot[1].contains("UID 4") && plan.cannot[1].contains("no longer in"));
    }
}
