//! Copies that must not or will not be sent, decided inside the core so the
//! Plan that is printed is the Plan that is applied: messages larger than
//! `--max-size`, larger than the target's APPENDLIMIT (RFC 7889: the
//! server's, or the mailbox's own where the server limits per mailbox), or
//! refused by the target on an earlier run (recorded in the snapshot with
//! the server's words, see [`crate::apply`]).
//!
//! Each becomes a [`Skipped`] entry of its mailbox's plan, reported per
//! message with its reason. It is never sent; and since it was never paired,
//! its absence on the target proves nothing, so it is never taken as a
//! deletion (docs/SCENARIOS.md E10, I11).
//!
//! A refused message is tried again when it changes (another UID, other
//! flags: the snapshot forgets the refusal then), when the source mailbox's
//! UIDVALIDITY changes, or when the operator says `--retry-refused`. Size
//! limits are judged afresh every run, so raising `--max-size` copies what
//! it skipped before.
//!
//! A mailbox's own APPENDLIMIT comes with the listing where the server can
//! say (LIST-STATUS); where it cannot, [`limits_to_ask`] names the
//! mailboxes that will receive copies, the caller asks those, and the core
//! runs again with the answers.

use super::agreement::MailboxAgreement;
use super::ReconcileInput;
use crate::model::{Side, Uid};
use crate::plan::{ExpungeReason, MailboxPlan, Plan, SkipReason, Skipped};
use std::collections::{BTreeMap, HashMap};

/// What limits copies on this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyLimits {
    /// `--max-size`, in bytes, for both directions.
    pub max_size: Option<u64>,
    /// Per target side ([A, B]): the APPENDLIMIT that server announced.
    pub append_limit: [Option<u64>; 2],
    /// Per side: the server limits per mailbox (a bare `APPENDLIMIT`), so
    /// a mailbox's own limit is to be known before copying into it.
    pub per_mailbox: [bool; 2],
    /// Per (mailbox, target side): the mailbox's own APPENDLIMIT where it is
    /// known (None: no limit), from servers that limit per mailbox; a limit
    /// wins over `append_limit`. A mailbox missing here was not asked.
    pub mailbox_limit: BTreeMap<(String, Side), Option<u64>>,
    /// `--retry-refused`: try earlier refusals again.
    pub retry_refused: bool,
}

/// A copy the target refused on an earlier run, as the snapshot recorded it
/// against the message on its source side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Logical mailbox name.
    pub mailbox: String,
    /// The side the message is on (the copy's source).
    pub side: Side,
    pub uidvalidity: u32,
    pub uid: Uid,
    /// The target's words.
    pub reason: String,
}

/// A mailbox whose own APPENDLIMIT is to be asked before the Plan is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitQuery {
    /// Logical name.
    pub mailbox: String,
    /// The side that would receive copies.
    pub side: Side,
    /// Its wire name on that side.
    pub wire: String,
}

/// Why a copy of a message to the other side is not to be sent: the limits
/// of this run and the refusals the snapshot remembers.
struct Unsendable<'a> {
    limits: &'a CopyLimits,
    /// (mailbox, source side, UIDVALIDITY, UID) → the target's words.
    refused: HashMap<(&'a str, Side, u32, Uid), &'a str>,
}

impl<'a> Unsendable<'a> {
    fn new(limits: &'a CopyLimits, refusals: &'a [Refusal]) -> Unsendable<'a> {
        let mut refused = HashMap::new();
        if !limits.retry_refused {
            for r in refusals {
                refused.insert(
                    (r.mailbox.as_str(), r.side, r.uidvalidity, r.uid),
                    r.reason.as_str(),
                );
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
        let own = self
            .limits
            .mailbox_limit
            .get(&(mailbox.to_string(), target))
            .copied()
            .flatten();
        if let Some(limit) = own
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

/// The last step of [`super::reconcile`]: takes the copies that are not to
/// be sent out of the plans and keeps the restored side's extras that could
/// not have been copied.
pub(super) fn apply(plans: &mut [MailboxPlan], input: &ReconcileInput) {
    let unsendable = Unsendable::new(&input.limits, &input.refusals);
    skip_copies(plans, &unsendable);
    keep_uncopyable_extras(plans, input, &unsendable);
}

/// Moves the copies that are not to be sent from `copies` to `skipped`.
/// Only refusals on the copy's source side, same UIDVALIDITY and UID, count.
fn skip_copies(plans: &mut [MailboxPlan], unsendable: &Unsendable<'_>) {
    for mb in plans {
        // In place: a first sync's plan copies every message, and moving
        // them into a vector grown by pushing held them twice.
        let (name, uidvalidity, skipped) = (&mb.name, mb.uidvalidity, &mut mb.skipped);
        mb.copies.retain(|copy| {
            let uidvalidity = uidvalidity[copy.from.index()].unwrap_or(0);
            match unsendable.why(name, copy.from, uidvalidity, copy.uid, copy.size) {
                Some((why, reason)) => {
                    skipped.push(Skipped {
                        from: copy.from,
                        uid: copy.uid,
                        fingerprint: copy.fingerprint,
                        size: copy.size,
                        why,
                        reason,
                    });
                    false
                }
                None => true,
            }
        });
    }
}

/// `--drop-restored-extras` takes a message found only on a restored side
/// for one deleted since the backup — reasoning that it would be on the
/// other side otherwise. A message that could never be copied there (too
/// large for it, or refused by it) is only on one side for that reason: its
/// absence proves nothing, so it is kept, and the plan says why.
fn keep_uncopyable_extras(
    plans: &mut [MailboxPlan],
    input: &ReconcileInput,
    unsendable: &Unsendable<'_>,
) {
    for mb in plans {
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

/// The mailboxes whose own APPENDLIMIT this plan still needs: on a side
/// that limits per mailbox (and announced no limit for the whole server),
/// each existing mailbox that is to receive copies — or whose copies were
/// skipped for an earlier refusal, which its limit may explain better, or
/// that holds a restored extra of the other side to be dropped (the limit
/// may keep it) — and whose limit is not known yet. A mailbox created or
/// renamed on that side by this plan does not exist there yet: it is not
/// asked (nor was it before the Plan became one value).
pub fn limits_to_ask(plan: &Plan, limits: &CopyLimits) -> Vec<LimitQuery> {
    let mut wanted = Vec::new();
    for mb in &plan.mailboxes {
        for target in Side::BOTH {
            let receives = mb.copies.iter().any(|c| c.from != target)
                || mb
                    .skipped
                    .iter()
                    .any(|s| s.from != target && s.why == SkipReason::Refused)
                || mb
                    .expunges
                    .iter()
                    .any(|e| e.side != target && e.reason == ExpungeReason::RestoredExtra);
            let asked = limits
                .mailbox_limit
                .contains_key(&(mb.name.clone(), target));
            let renamed_here = mb.rename.as_ref().is_some_and(|r| r.side == target);
            let unknown = limits.per_mailbox[target.index()]
                && limits.append_limit[target.index()].is_none()
                && !asked;
            let exists = !renamed_here && mb.create != Some(target);
            if let (Some(wire), true) = (&mb.wire[target.index()], receives && unknown && exists) {
                wanted.push(LimitQuery {
                    mailbox: mb.name.clone(),
                    side: target,
                    wire: wire.clone(),
                });
            }
        }
    }
    wanted
}

/// `check`: a message the other side refused on an earlier sync is a
/// known divergence, not a difference. Each one still listed (same side,
/// UIDVALIDITY and UID) moves from its verdict's surplus to `refused`.
pub(super) fn known_refusals(verdicts: &mut [MailboxAgreement], input: &ReconcileInput) {
    for verdict in verdicts.iter_mut() {
        let Some(mb) = input.mailboxes.iter().find(|m| m.name == verdict.name) else {
            continue;
        };
        for r in input.refusals.iter().filter(|r| r.mailbox == verdict.name) {
            let Some(listing) = mb.sides[r.side.index()]
                .as_ref()
                .filter(|l| l.status.uidvalidity == r.uidvalidity)
            else {
                continue;
            };
            let Some(m) = listing.messages.iter().find(|m| m.uid == r.uid) else {
                continue;
            };
            let Some(at) = verdict
                .surplus
                .iter()
                .position(|x| x.side == r.side && x.fingerprint == m.fingerprint)
            else {
                continue;
            };
            verdict.surplus[at].count -= 1;
            if verdict.surplus[at].count == 0 {
                verdict.surplus.remove(at);
            }
            verdict.refused.push((r.side, r.uid));
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
            internal_date: InternalDate::new(0, 0),
            flags: FlagSet::new(),
            agreed: FlagSet::new(),
            normalised: None,
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
        }
    }

    fn refused(side: Side, uidvalidity: u32, uid: Uid) -> Refusal {
        Refusal {
            mailbox: "INBOX".into(),
            side,
            uidvalidity,
            uid,
            reason: "NO [LIMIT] too large".into(),
        }
    }

    fn skip_copies(p: &mut Plan, limits: &CopyLimits, refusals: &[Refusal]) {
        super::skip_copies(&mut p.mailboxes, &Unsendable::new(limits, refusals));
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
            mailbox_limit: [(("INBOX".to_string(), Side::B), Some(100))].into(),
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
