//! Copies that must not or will not be sent, taken out of the Plan before it
//! is printed or applied: messages larger than `--max-size`, larger than the
//! target's APPENDLIMIT (RFC 7889: the server's, or the mailbox's own where
//! the server limits per mailbox), or refused by the target on an earlier
//! run (recorded in the snapshot with the server's words, see
//! [`crate::apply`]).
//!
//! Each becomes a [`Skipped`] entry of its mailbox's plan, reported per
//! message with its reason. It is never sent; and since it was never paired,
//! its absence on the target proves nothing, so it is never taken as a
//! deletion (SCENARIOS.md E10, I11).
//!
//! A refused message is tried again when it changes (another UID, other
//! flags: the snapshot forgets the refusal then), when the source mailbox's
//! UIDVALIDITY changes, or when the operator says `--retry-refused`. Size
//! limits are judged afresh every run, so raising `--max-size` copies what
//! it skipped before.

use crate::model::{Side, Uid};
use crate::plan::{ExpungeReason, Plan, SkipReason, Skipped};
use crate::reconcile::agreement::MailboxAgreement;
use crate::reconcile::ReconcileInput;
use crate::snapshot::{MessageStatus, MessageStatusRecord};
use std::collections::HashMap;

/// What limits copies on this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyLimits {
    /// `--max-size`, in bytes, for both directions.
    pub max_size: Option<u64>,
    /// Per target side ([A, B]): the APPENDLIMIT that server announced.
    pub append_limit: [Option<u64>; 2],
    /// Per (mailbox, target side): the mailbox's own APPENDLIMIT (STATUS),
    /// from servers that limit per mailbox; it wins over `append_limit`.
    pub mailbox_limit: HashMap<(String, Side), u64>,
    /// `--retry-refused`: try earlier refusals again.
    pub retry_refused: bool,
}

/// Why a copy of a message to the other side is not to be sent: the limits
/// of this run and the refusals the snapshot remembers.
struct Unsendable<'a> {
    limits: &'a CopyLimits,
    /// (mailbox, source side, UIDVALIDITY, UID) → the target's words.
    refused: HashMap<(&'a str, Side, u32, Uid), &'a str>,
}

impl<'a> Unsendable<'a> {
    fn new(limits: &'a CopyLimits, statuses: &'a [MessageStatusRecord]) -> Unsendable<'a> {
        let mut refused = HashMap::new();
        if !limits.retry_refused {
            for s in statuses
                .iter()
                .filter(|s| s.status == MessageStatus::Refused)
            {
                let why = s.reason.as_deref().unwrap_or("no reason recorded");
                refused.insert((s.mailbox.as_str(), s.side, s.uidvalidity, s.uid), why);
            }
        }
        Unsendable { limits, refused }
    }

    /// Why the message `uid` of `mailbox` on `from` would not be copied to
    /// the other side, if it would not.
    fn why(
        &self,
        mailbox: &str,
        from: Side,
        uidvalidity: u32,
        uid: Uid,
        size: u32,
    ) -> Option<(SkipReason, String)> {
        let target = from.other();
        let size = u64::from(size);
        if let Some(max) = self.limits.max_size.filter(|m| size > *m) {
            return Some((
                SkipReason::MaxSize,
                format!("larger than --max-size ({max} bytes)"),
            ));
        }
        if let Some(limit) = self
            .limits
            .mailbox_limit
            .get(&(mailbox.to_string(), target))
            .copied()
            .or(self.limits.append_limit[target.index()])
            .filter(|l| size > *l)
        {
            return Some((
                SkipReason::AppendLimit,
                format!("larger than {target}'s APPENDLIMIT ({limit} bytes)"),
            ));
        }
        self.refused
            .get(&(mailbox, from, uidvalidity, uid))
            .map(|words| {
                (
                    SkipReason::Refused,
                    format!(
                        "{target} refused it on an earlier run: {words} \
                         (tried again when it changes, or with --retry-refused)"
                    ),
                )
            })
    }
}

/// Moves the copies that are not to be sent from `copies` to `skipped`.
/// `statuses` are the snapshot's message statuses (only `refused` ones on
/// the copy's source side, same UIDVALIDITY and UID, count).
pub fn skip_copies(plan: &mut Plan, limits: &CopyLimits, statuses: &[MessageStatusRecord]) {
    let unsendable = Unsendable::new(limits, statuses);
    for mb in &mut plan.mailboxes {
        let copies = std::mem::take(&mut mb.copies);
        for copy in copies {
            let uidvalidity = mb.uidvalidity[copy.from.index()].unwrap_or(0);
            match unsendable.why(&mb.name, copy.from, uidvalidity, copy.uid, copy.size) {
                Some((why, reason)) => mb.skipped.push(Skipped {
                    from: copy.from,
                    uid: copy.uid,
                    fingerprint: copy.fingerprint,
                    size: copy.size,
                    why,
                    reason,
                }),
                None => mb.copies.push(copy),
            }
        }
    }
}

/// `--drop-restored-extras` takes a message found only on a restored side
/// for one deleted since the backup — reasoning that it would be on the
/// other side otherwise. A message that could never be copied there (too
/// large for it, or refused by it) is only on one side for that reason: its
/// absence proves nothing, so it is kept, and the plan says why.
pub fn keep_uncopyable_extras(
    plan: &mut Plan,
    input: &ReconcileInput,
    limits: &CopyLimits,
    statuses: &[MessageStatusRecord],
) {
    let unsendable = Unsendable::new(limits, statuses);
    for mb in &mut plan.mailboxes {
        let Some(listed) = input.mailboxes.iter().find(|m| m.name == mb.name) else {
            continue;
        };
        let mut kept = Vec::new();
        mb.expunges.retain(|e| {
            if e.reason != ExpungeReason::RestoredExtra {
                return true;
            }
            let Some(listing) = listed.sides[e.side.index()].as_ref() else {
                return true;
            };
            let size = listing
                .messages
                .iter()
                .find(|m| m.uid == e.uid)
                .map_or(0, |m| m.size);
            let uidvalidity = listing.status.uidvalidity;
            match unsendable.why(&mb.name, e.side, uidvalidity, e.uid, size) {
                Some((_, reason)) => {
                    kept.push(format!(
                        "UID {} only on restored {} kept despite --drop-restored-extras: {reason}, \
                         so its absence on {} proves nothing",
                        e.uid,
                        e.side,
                        e.side.other()
                    ));
                    false
                }
                None => true,
            }
        });
        mb.notes.extend(kept);
    }
}

/// `check`: a message the other side refused on an earlier sync is a
/// known divergence, not a difference. Each one still listed (same side,
/// UIDVALIDITY and UID) moves from its verdict's surplus to `refused`.
pub fn known_refusals(
    verdicts: &mut [MailboxAgreement],
    input: &ReconcileInput,
    statuses: &[MessageStatusRecord],
) {
    for verdict in verdicts.iter_mut() {
        let Some(mb) = input.mailboxes.iter().find(|m| m.name == verdict.name) else {
            continue;
        };
        for s in statuses
            .iter()
            .filter(|s| s.status == MessageStatus::Refused && s.mailbox == verdict.name)
        {
            let Some(listing) = mb.sides[s.side.index()]
                .as_ref()
                .filter(|l| l.status.uidvalidity == s.uidvalidity)
            else {
                continue;
            };
            let Some(m) = listing.messages.iter().find(|m| m.uid == s.uid) else {
                continue;
            };
            let Some(at) = verdict
                .surplus
                .iter()
                .position(|x| x.side == s.side && x.fingerprint == m.fingerprint)
            else {
                continue;
            };
            verdict.surplus[at].count -= 1;
            if verdict.surplus[at].count == 0 {
                verdict.surplus.remove(at);
            }
            verdict.refused.push((s.side, s.uid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate};
    use crate::plan::{Copy, MailboxPlan};

    fn copy(from: Side, uid: Uid, size: u32) -> Copy {
        Copy {
            from,
            uid,
            fingerprint: Some(Fingerprint([uid as u8; 32])),
            size,
            internal_date: InternalDate {
                unix: 0,
                offset_minutes: 0,
            },
            flags: FlagSet::new(),
            agreed: FlagSet::new(),
        }
    }

    fn plan(copies: Vec<Copy>) -> Plan {
        Plan {
            schema_version: crate::plan::SCHEMA_VERSION,
            mailboxes: vec![MailboxPlan {
                name: "INBOX".into(),
                uidvalidity: [Some(7), Some(9)],
                copies,
                ..MailboxPlan::default()
            }],
            notes: Vec::new(),
            subscriptions: Vec::new(),
            subscriptions_agreed: Vec::new(),
        }
    }

    fn refused(side: Side, uidvalidity: u32, uid: Uid) -> MessageStatusRecord {
        MessageStatusRecord {
            mailbox: "INBOX".into(),
            side,
            uidvalidity,
            uid,
            status: MessageStatus::Refused,
            reason: Some("NO [LIMIT] too large".into()),
        }
    }

    fn kept(p: &Plan) -> Vec<Uid> {
        p.mailboxes[0].copies.iter().map(|c| c.uid).collect()
    }

    fn skipped(p: &Plan) -> Vec<(Uid, SkipReason)> {
        let mb = &p.mailboxes[0];
        mb.skipped.iter().map(|s| (s.uid, s.why)).collect()
    }

    #[test]
    fn max_size_applies_both_ways_and_only_above_the_limit() {
        let mut p = plan(vec![
            copy(Side::A, 1, 100),
            copy(Side::A, 2, 101),
            copy(Side::B, 3, 5000),
        ]);
        let limits = CopyLimits {
            max_size: Some(100),
            ..CopyLimits::default()
        };
        skip_copies(&mut p, &limits, &[]);
        assert_eq!(kept(&p), vec![1]);
        assert_eq!(
            skipped(&p),
            vec![(2, SkipReason::MaxSize), (3, SkipReason::MaxSize)]
        );
        assert!(p.mailboxes[0].skipped[0].reason.contains("100 bytes"));
    }

    #[test]
    fn appendlimit_is_the_targets() {
        let mut p = plan(vec![copy(Side::A, 1, 500), copy(Side::B, 2, 500)]);
        let limits = CopyLimits {
            append_limit: [None, Some(400)],
            ..CopyLimits::default()
        };
        skip_copies(&mut p, &limits, &[]);
        // A→B is over B's limit; B→A has no limit.
        assert_eq!(kept(&p), vec![2]);
        assert_eq!(skipped(&p), vec![(1, SkipReason::AppendLimit)]);
        assert!(p.mailboxes[0].skipped[0].reason.contains("B's APPENDLIMIT"));
    }

    #[test]
    fn a_mailbox_s_own_appendlimit_wins_over_the_server_s() {
        let mut p = plan(vec![copy(Side::A, 1, 500), copy(Side::A, 2, 50)]);
        let limits = CopyLimits {
            append_limit: [None, Some(10)],
            mailbox_limit: [(("INBOX".to_string(), Side::B), 100)].into(),
            ..CopyLimits::default()
        };
        skip_copies(&mut p, &limits, &[]);
        assert_eq!(kept(&p), vec![2]);
        assert_eq!(skipped(&p), vec![(1, SkipReason::AppendLimit)]);
        assert!(p.mailboxes[0].skipped[0].reason.contains("(100 bytes)"));
    }

    #[test]
    fn an_earlier_refusal_is_skipped_unless_retried_or_changed() {
        let statuses = [
            refused(Side::A, 7, 1),
            // Another UIDVALIDITY: the mailbox was recreated; try again.
            refused(Side::A, 6, 2),
            // The other side's UID 3 is not this copy's source.
            refused(Side::B, 9, 3),
        ];
        let copies = vec![
            copy(Side::A, 1, 10),
            copy(Side::A, 2, 10),
            copy(Side::A, 3, 10),
        ];
        let mut p = plan(copies.clone());
        skip_copies(&mut p, &CopyLimits::default(), &statuses);
        assert_eq!(kept(&p), vec![2, 3]);
        assert_eq!(skipped(&p), vec![(1, SkipReason::Refused)]);
        assert!(p.mailboxes[0].skipped[0]
            .reason
            .contains("NO [LIMIT] too large"));

        let mut p = plan(copies);
        let retry = CopyLimits {
            retry_refused: true,
            ..CopyLimits::default()
        };
        skip_copies(&mut p, &retry, &statuses);
        assert_eq!(kept(&p), vec![1, 2, 3]);
        assert!(skipped(&p).is_empty());
    }

    #[test]
    fn a_plan_with_only_skipped_copies_has_nothing_to_do() {
        let mut p = plan(vec![copy(Side::A, 1, 1000)]);
        let limits = CopyLimits {
            max_size: Some(10),
            ..CopyLimits::default()
        };
        skip_copies(&mut p, &limits, &[]);
        assert!(!p.has_actions());
    }
}
