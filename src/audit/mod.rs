//! What the action log means for the quarantine, decided without a
//! server: which messages of a quarantine imapmend itself moved there and
//! when, and which of them `--quarantine-days` purges now. The caller
//! reads the log ([`crate::action_log`]) and lists the quarantine; this
//! module never talks to a server and never reads a clock
//! (docs/AUDIT.md). What undoing a run takes is [`undo`]'s.

use crate::action_log::{parse_utc, Action, Answer, Entry, Logged, LoggedMessage};
use crate::model::{Side, Uid};
use std::collections::BTreeMap;

pub mod undo;

/// A message imapmend moved into a quarantine, as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its UID in the quarantine (COPYUID).
    pub uid: Uid,
    /// When the move was confirmed (Unix seconds, the outcome line's time).
    pub moved_at: i64,
    /// The run that moved it.
    pub run: String,
    /// The mailbox it came from, its UIDVALIDITY and UID there.
    pub from: String,
    pub from_uid: Option<Uid>,
    /// What the log knows of it (fingerprint, size, Message-ID).
    pub message: LoggedMessage,
}

/// The messages imapmend moved into `quarantine` (its name on `side`, as
/// logged) while it had `uidvalidity`, and has not taken out again (purged
/// or moved back), by UID in the quarantine. Only confirmed moves count,
/// with the UIDs the server named (COPYUID): a message put there by anyone
/// else, or whose move was never confirmed, is never in this list.
pub fn held(writes: &[Logged], side: Side, quarantine: &str, uidvalidity: u32) -> Vec<Held> {
    let mut held: BTreeMap<Uid, Held> = BTreeMap::new();
    for w in writes {
        let (i, Some(o)) = (&w.intent, &w.outcome) else {
            continue;
        };
        if i.side != side || !matches!(o.outcome, Some(Answer::Done | Answer::Partial)) {
            continue;
        }
        let into_quarantine = i.action == Action::Move
            && i.to.as_deref() == Some(quarantine)
            && i.to_uidvalidity == Some(uidvalidity)
            && o.to_uids.len() == i.uids.len();
        if into_quarantine {
            let moved_at = parse_utc(&o.time).unwrap_or(i64::MAX);
            for (at, &uid) in o.to_uids.iter().enumerate() {
                let message = message_of(i, i.uids.get(at).copied());
                held.insert(
                    uid,
                    Held {
                        uid,
                        moved_at,
                        run: i.run.clone(),
                        from: i.mailbox.clone(),
                        from_uid: i.uids.get(at).copied(),
                        message,
                    },
                );
            }
        }
        // Taken out again: purged, or moved back by an undo.
        let out_of_quarantine = matches!(i.action, Action::Move | Action::Expunge)
            && i.flags.is_none()
            && i.mailbox == quarantine
            && i.uidvalidity == Some(uidvalidity);
        if out_of_quarantine {
            for uid in &o.uids {
                held.remove(uid);
            }
        }
    }
    held.into_values().collect()
}

/// What the log says of the message that had `uid` in the write `entry`.
pub(super) fn message_of(entry: &Entry, uid: Option<Uid>) -> LoggedMessage {
    entry
        .messages
        .iter()
        .find(|m| m.uid.is_some() && m.uid == uid)
        .cloned()
        .unwrap_or(LoggedMessage {
            uid,
            ..LoggedMessage::default()
        })
}

/// What a purge of one quarantine does now: the messages due (moved at
/// least `days` days before `now`, and still there), unless the guard
/// withholds them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purge<'h> {
    pub due: Vec<&'h Held>,
    /// More are due than the guard allows (`limit`): none is purged.
    pub withheld: bool,
    pub limit: u64,
}

/// Chooses what to purge of `held` from a quarantine that now holds
/// `present` (its UIDs), the guard allowing `limit` deletions.
pub fn purge<'h>(held: &'h [Held], present: &[Uid], now: i64, days: u32, limit: u64) -> Purge<'h> {
    let before = now - i64::from(days) * 86_400;
    let due: Vec<&Held> = held
        .iter()
        .filter(|h| h.moved_at <= before && present.binary_search(&h.uid).is_ok())
        .collect();
    Purge {
        withheld: due.len() as u64 > limit,
        due,
        limit,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::action_log::Phase;

    pub(crate) fn entry(seq: u64, phase: Phase, action: Action) -> Entry {
        Entry {
            time: "2026-12-01T10:00:00Z".into(),
            run: "r1".into(),
            seq,
            phase,
            side: Side::B,
            mailbox: "INBOX".into(),
            uidvalidity: Some(5),
            action,
            uids: vec![3, 4],
            to: Some("Quarantine".into()),
            to_uids: vec![],
            to_uidvalidity: Some(9),
            flags: None,
            messages: vec![],
            outcome: None,
            error: None,
        }
    }

    pub(crate) fn moved(seq: u64, to_uids: Vec<Uid>) -> Logged {
        Logged {
            intent: entry(seq, Phase::Intent, Action::Move),
            outcome: Some(Entry {
                to_uids,
                outcome: Some(Answer::Done),
                ..entry(seq, Phase::Outcome, Action::Move)
            }),
        }
    }

    #[test]
    fn only_confirmed_moves_with_copyuid_are_held_and_a_purge_takes_them_out() {
        let mut unconfirmed = moved(2, vec![]);
        unconfirmed.outcome = None;
        let purged = Logged {
            intent: Entry {
                mailbox: "Quarantine".into(),
                uidvalidity: Some(9),
                uids: vec![7],
                to: None,
                ..entry(3, Phase::Intent, Action::Expunge)
            },
            outcome: Some(Entry {
                mailbox: "Quarantine".into(),
                uidvalidity: Some(9),
                uids: vec![7],
                outcome: Some(Answer::Done),
                ..entry(3, Phase::Outcome, Action::Expunge)
            }),
        };
        let log = [moved(1, vec![7, 8]), unconfirmed, purged];
        let held = held(&log, Side::B, "Quarantine", 9);
        assert_eq!(held.iter().map(|h| h.uid).collect::<Vec<_>>(), vec![8]);
        assert_eq!(held[0].from_uid, Some(4));
        assert!(super::held(&log, Side::A, "Quarantine", 9).is_empty());
        assert!(super::held(&log, Side::B, "Quarantine", 10).is_empty());
        // Due after `days`; an operator's own message (UID 20) never is.
        let at = parse_utc("2026-12-01T10:00:00Z").unwrap();
        let p = purge(&held, &[8, 20], at + 3 * 86_400, 3, 10);
        assert_eq!((p.due.len(), p.withheld), (1, false));
        assert!(purge(&held, &[8, 20], at + 2 * 86_400, 3, 10)
            .due
            .is_empty());
        assert!(purge(&held, &[8, 20], at + 9 * 86_400, 3, 0).withheld);
    }
}
