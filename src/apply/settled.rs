//! The settled mark a sync sets after its own writes
//! ([`crate::reconcile::settled`] is the one a sync sets where it finds
//! nothing to do): so that the first run after a sync that copied,
//! stored or expunged skips the mailbox too, instead of reading every row
//! of it to find what this one already knew.
//!
//! A mark says: at these watermarks (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
//! MESSAGES per side), every message of each side is paired, both sides
//! of each pair hold the flags the snapshot records for it, and the cache
//! rows are the side's messages. A later run that finds LIST-STATUS at the
//! mark reads nothing of the mailbox; so a wrong mark hides a difference
//! until the mailbox changes. [`proven`] therefore sets one only from what
//! it can prove, each step of it, and otherwise says why not:
//!
//! - the plan was computed from whole, healthy listings of both sides (or
//!   a side this run created), left nothing aside (no skipped copy,
//!   withheld deletion or flag, conflict, note, problem, rename, refusal
//!   remembered, pending `\Deleted`), and every action it planned for the
//!   mailbox is in the ledger as done (a `[MODIFIED]` store is not), with
//!   no failure and no stop;
//! - after those actions every listed message is accounted for: paired
//!   (flags then equal to the pair's agreed flags on both sides, and those
//!   recorded), copied (flags sent as the source holds them), or expunged
//!   by `UID EXPUNGE`; each side's count is its listing's, less its
//!   expunges, plus the copies it received;
//!   A mailbox read as its changed subset (`MailboxBase::subset_of`: it
//!   was settled at its mark, and the history listed every UID that
//!   changed since) counts its messages not listed as paired and agreed;
//! - each side written to was read back and showed nothing but this run's
//!   writes (`super::advance`: its watermarks moved): its mark is what
//!   that read-back showed. A side not written to is marked at its
//!   listing; anything another client did there since changes its
//!   LIST-STATUS, so the mark no longer matches.

use crate::model::{FlagDelta, FlagSet, MailboxStatus, Side, Uid};
use crate::outcome::{Action, Ledger, Status};
use crate::plan::{ExpungeMode, MailboxPlan};
use crate::reconcile::{MailboxBase, SideListing};
use crate::snapshot::SettledMark;
use std::collections::{HashMap, HashSet};

/// What applying one mailbox's plan did, as [`proven`] needs it.
pub(super) struct Applied<'a> {
    pub plan: &'a MailboxPlan,
    /// Per side, the listing the plan was made from.
    pub listings: [Option<&'a SideListing>; 2],
    /// What the snapshot held when the run began.
    pub base: Option<&'a MailboxBase>,
    /// An earlier refusal of a copy in this mailbox is remembered.
    pub refused: bool,
    /// A copy's UID was named by APPENDUID but not shown by any listing
    /// yet: only a later listing can confirm it.
    pub unconfirmed: bool,
    pub ledger: &'a Ledger,
    /// Something failed in this mailbox, or a stop signal came.
    pub failed: bool,
    /// Per side, the status now: a side written to, as read back where
    /// its watermarks moved past this run's writes (None where they did
    /// not); a side not written to, as listed.
    pub now: [Option<&'a MailboxStatus>; 2],
}

/// The marks to record for the mailbox, or why it is not proven settled.
pub(super) fn proven(run: &Applied) -> Result<[SettledMark; 2], String> {
    let mb = run.plan;
    if run.failed {
        return Err("something planned failed or was not done".into());
    }
    if run.base.is_some_and(|b| b.settled) {
        return Err("it was read as settled".into());
    }
    if run.refused {
        return Err("a refused copy is remembered".into());
    }
    if run.unconfirmed {
        return Err("a copy's receipt is not confirmed by a listing yet".into());
    }
    let aside = [
        (
            mb.rename.is_some() || mb.delete.is_some(),
            "a rename or deletion",
        ),
        (!mb.skipped.is_empty(), "a skipped copy"),
        (!mb.withheld.is_empty(), "a withheld expunge"),
        (!mb.withheld_flags.is_empty(), "a withheld flag removal"),
        (!mb.conflicts.is_empty(), "a conflict"),
        (!mb.notes.is_empty(), "a note"),
        (!mb.problems.is_empty(), "a problem"),
        (
            run.base
                .is_some_and(|b| b.pending_expunge.iter().any(|s| !s.is_empty())),
            "a pending expunge",
        ),
    ];
    if let Some((_, what)) = aside.iter().find(|(is, _)| *is) {
        return Err(format!("the plan holds {what}"));
    }
    let done =
        |action, side, uid| run.ledger.status(&mb.name, action, side, uid) == Some(&Status::Done);
    if let Some(c) = mb
        .copies
        .iter()
        .find(|c| !done(Action::Copy, c.from.other(), c.uid))
    {
        return Err(format!(
            "the copy of UID {} from {} was not done",
            c.uid, c.from
        ));
    }
    if let Some(c) = mb.copies.iter().find(|c| c.flags != c.agreed) {
        return Err(format!("UID {} was copied without all its flags", c.uid));
    }
    if let Some(f) =
        (mb.flag_changes.iter()).find(|f| !done(Action::Flags, f.side, f.pair[f.side.index()]))
    {
        return Err(format!(
            "the flags of UID {} on {} were not stored",
            f.pair[f.side.index()],
            f.side
        ));
    }
    if let Some(e) = (mb.expunges.iter())
        .find(|e| e.mode != ExpungeMode::Expunge || !done(Action::Expunge, e.side, e.uid))
    {
        return Err(format!("UID {} on {} was not expunged", e.uid, e.side));
    }
    let changed: HashSet<[Uid; 2]> = mb.flag_changes.iter().map(|f| f.pair).collect();
    if let Some(p) = (mb.pairs.iter())
        .find(|p| !changed.contains(&p.uid) && p.base_before.as_ref() != Some(&p.agreed))
    {
        return Err(format!(
            "the agreed flags of pair {:?} are not recorded",
            p.uid
        ));
    }
    let mut marks = Vec::with_capacity(2);
    for side in Side::BOTH {
        marks.push(side_mark(run, side)?);
    }
    Ok([marks[0], marks[1]])
}

/// One side's mark: every message listed accounted for, the count after
/// the writes as the plan makes it, and a status that vouches for it.
fn side_mark(run: &Applied, side: Side) -> Result<SettledMark, String> {
    let (mb, i) = (run.plan, side.index());
    let listed: HashMap<Uid, &FlagSet> = match run.listings[i] {
        None if mb.create == Some(side) => HashMap::new(),
        None => return Err(format!("{side} was not listed")),
        Some(l) => {
            let whole = l.evidence.is_healthy()
                && l.status.highestmodseq.is_some()
                && l.damaged.is_empty()
                && l.unreadable.is_empty();
            if !whole {
                return Err(format!("{side}'s listing proves less than all"));
            }
            let all = l.messages.iter().map(|m| (m.uid, &m.flags));
            all.chain(l.unread.iter().map(|m| (m.uid, &m.flags)))
                .collect()
        }
    };
    let deltas: HashMap<Uid, &FlagDelta> = (mb.flag_changes.iter())
        .filter(|f| f.side == side)
        .map(|f| (f.pair[i], &f.delta))
        .collect();
    let mut accounted: HashSet<Uid> = HashSet::with_capacity(listed.len());
    for p in &mb.pairs {
        let uid = p.uid[i];
        let Some(flags) = listed.get(&uid) else {
            return Err(format!("UID {uid} of a pair is not listed on {side}"));
        };
        let now = match deltas.get(&uid) {
            Some(d) => flags.union(&d.add).minus(&d.remove),
            None => (*flags).clone(),
        };
        if now != p.agreed || !accounted.insert(uid) {
            return Err(format!(
                "UID {uid} on {side} does not end with its pair's flags"
            ));
        }
    }
    for c in mb.copies.iter().filter(|c| c.from == side) {
        if listed.get(&c.uid) != Some(&&c.agreed) || !accounted.insert(c.uid) {
            return Err(format!("UID {} on {side} was not copied as listed", c.uid));
        }
    }
    let expunged = mb.expunges.iter().filter(|e| e.side == side);
    let mut gone = 0;
    for e in expunged {
        if !listed.contains_key(&e.uid) || !accounted.insert(e.uid) {
            return Err(format!("UID {} expunged on {side} was not listed", e.uid));
        }
        gone += 1;
    }
    if accounted.len() != listed.len() {
        return Err(format!(
            "a message on {side} is neither paired, copied nor expunged"
        ));
    }
    let received = mb.copies.iter().filter(|c| c.from != side).count();
    let Some(now) = run.now[i] else {
        return Err(format!("{side} showed more than this run's writes"));
    };
    let listed_exists = run.listings[i].map_or(0, |l| l.status.exists as usize);
    // Read as its changed subset (`gather::subset`): the messages not
    // listed were paired and agreed at the mark, and the history listed
    // every one that changed since, so they are accounted for unread.
    let untouched = match run.base.and_then(|b| b.subset_of) {
        Some(_) => listed_exists.saturating_sub(listed.len()),
        None => 0,
    };
    let expected = listed.len() + untouched - gone + received;
    if listed_exists != listed.len() + untouched || now.exists as usize != expected {
        return Err(format!(
            "{side} holds {} message(s) where this run makes {expected}",
            now.exists
        ));
    }
    let highestmodseq = now
        .highestmodseq
        .ok_or(format!("{side} has no HIGHESTMODSEQ"))?;
    Ok(SettledMark {
        uidvalidity: now.uidvalidity,
        uidnext: now.uidnext,
        highestmodseq,
        messages: now.exists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, InternalDate, ListedMessage, MessageMeta, PairLevel};
    use crate::plan::{Conflict, Copy, Expunge, ExpungeReason, FlagChange, PlannedPair};
    use crate::reconcile::Evidence;
    use proptest::prelude::*;

    fn flags(list: &[&str]) -> FlagSet {
        FlagSet::from_wire(list.iter().copied())
    }

    fn status(exists: u32, uidnext: u32, modseq: u64) -> MailboxStatus {
        MailboxStatus {
            uidvalidity: 7,
            uidnext,
            exists,
            highestmodseq: Some(modseq),
            permanent_flags: None,
        }
    }

    fn meta(uid: Uid, f: &[&str]) -> MessageMeta {
        MessageMeta {
            uid,
            size: 10,
            internal_date: InternalDate::new(0, 0),
            flags: flags(f),
            fingerprint: Fingerprint([uid as u8; 32]),
            normalised: crate::model::Normalised::UNKNOWN,
        }
    }

    fn pair(uid: [Uid; 2], before: Option<&[&str]>, agreed: &[&str]) -> PlannedPair {
        PlannedPair {
            uid,
            fingerprint: Fingerprint([uid[0] as u8; 32]),
            fingerprint_b: None,
            level: PairLevel::Exact,
            base_before: before.map(flags),
            agreed: flags(agreed),
        }
    }

    /// One mailbox run that settles it: A lists 1 (\Seen), 2, 3
    /// (\Flagged, unread: a deferred body) and 4; B lists 10 and 11. Pair
    /// 1–10 gets \Seen stored on B, pair 2–11 agrees and is recorded, 3 is
    /// copied to B, 4 is expunged from A (its partner gone from B). Both
    /// sides read back at 3 messages.
    struct Case {
        plan: MailboxPlan,
        listings: [SideListing; 2],
        base: MailboxBase,
        refused: bool,
        unconfirmed: bool,
        ledger: Ledger,
        failed: bool,
        now: [Option<MailboxStatus>; 2],
    }

    impl Case {
        fn new() -> Case {
            let listing = |exists, messages: Vec<MessageMeta>| SideListing {
                status: status(exists, 20, 100),
                messages,
                evidence: Evidence::Healthy,
                ..SideListing::default()
            };
            let mut a = listing(4, vec![meta(1, &["\\Seen"]), meta(2, &[]), meta(4, &[])]);
            a.unread.push(ListedMessage {
                uid: 3,
                size: 10,
                internal_date: meta(3, &[]).internal_date,
                flags: flags(&["\\Flagged"]),
            });
            let b = listing(2, vec![meta(10, &[]), meta(11, &[])]);
            let plan = MailboxPlan {
                name: "INBOX".into(),
                pairs: vec![
                    pair([1, 10], Some(&[]), &["\\Seen"]),
                    pair([2, 11], Some(&[]), &[]),
                ],
                copies: vec![Copy {
                    from: Side::A,
                    uid: 3,
                    fingerprint: None,
                    normalised: None,
                    size: 10,
                    internal_date: meta(3, &[]).internal_date,
                    flags: flags(&["\\Flagged"]),
                    agreed: flags(&["\\Flagged"]),
                }],
                flag_changes: vec![FlagChange {
                    side: Side::B,
                    pair: [1, 10],
                    delta: FlagDelta {
                        add: flags(&["\\Seen"]),
                        remove: FlagSet::new(),
                    },
                }],
                expunges: vec![Expunge {
                    side: Side::A,
                    uid: 4,
                    pair: [4, 12],
                    fingerprint: Fingerprint([4; 32]),
                    base: Some(FlagSet::new()),
                    mode: ExpungeMode::Expunge,
                    reason: ExpungeReason::Proven,
                    level: PairLevel::Exact,
                    partner: None,
                    normalised: None,
                }],
                ..MailboxPlan::default()
            };
            let mut ledger = Ledger::default();
            ledger.copies("INBOX", &[&plan.copies[0]], &Status::Done);
            ledger.messages("INBOX", Action::Flags, Side::B, &[10], &Status::Done);
            ledger.messages("INBOX", Action::Expunge, Side::A, &[4], &Status::Done);
            Case {
                plan,
                listings: [a, b],
                base: MailboxBase::default(),
                refused: false,
                unconfirmed: false,
                ledger,
                failed: false,
                now: [Some(status(3, 20, 101)), Some(status(3, 22, 103))],
            }
        }

        fn proven(&self) -> Result<[SettledMark; 2], String> {
            proven(&Applied {
                plan: &self.plan,
                listings: [Some(&self.listings[0]), Some(&self.listings[1])],
                base: Some(&self.base),
                refused: self.refused,
                unconfirmed: self.unconfirmed,
                ledger: &self.ledger,
                failed: self.failed,
                now: [self.now[0].as_ref(), self.now[1].as_ref()],
            })
        }
    }

    /// Each way a run can fall short of what the mark claims.
    const SHORTFALLS: usize = 23;

    fn fall_short(case: &mut Case, which: usize) {
        let not_done = Status::Refused("NO".into());
        let p = &mut case.plan;
        match which {
            0 => case.ledger.copies("INBOX", &[&p.copies[0]], &not_done),
            1 => {
                let modified = Status::Skipped("changed on the server during the run".into());
                (case.ledger).messages("INBOX", Action::Flags, Side::B, &[10], &modified)
            }
            2 => (case.ledger).messages("INBOX", Action::Expunge, Side::A, &[4], &not_done),
            3 => p.expunges[0].mode = ExpungeMode::FlagOnly,
            4 => case.now[0] = None,
            5 => case.now[1] = None,
            6 => {
                if let Some(now) = case.now[1].as_mut() {
                    now.exists += 1;
                }
            }
            7 => {
                // a message on B no action accounts for
                case.listings[1].messages.push(meta(13, &[]));
                case.listings[1].status.exists += 1;
            }
            8 => p.copies[0].flags = FlagSet::new(),
            9 => p.pairs[1].base_before = None,
            10 => case.failed = true,
            11 => case.refused = true,
            12 => p.notes.push("a note".into()),
            13 => p.conflicts.push(Conflict {
                pair: [1, 10],
                description: "both changed".into(),
            }),
            14 => p.problems.push("a problem".into()),
            15 => {
                case.base.pending_expunge[1].insert(11);
            }
            16 => case.base.settled = true,
            17 => case.listings[0].evidence = Evidence::Restored("regressed".into()),
            18 => {
                case.listings[0].damaged.insert(2);
            }
            19 => case.listings[1].status.highestmodseq = None,
            20 => p.flag_changes[0].delta.add = flags(&["\\Flagged"]),
            21 => {
                // a pair whose A side the listing does not show
                case.listings[0].messages.retain(|m| m.uid != 2);
                case.listings[0].status.exists -= 1;
            }
            22 => case.unconfirmed = true,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_run_that_did_all_it_planned_and_read_back_only_its_writes_is_marked() {
        let marks = Case::new().proven().expect("settled");
        let mark = |exists, uidnext, highestmodseq| SettledMark {
            uidvalidity: 7,
            uidnext,
            highestmodseq,
            messages: exists,
        };
        assert_eq!(marks, [mark(3, 20, 101), mark(3, 22, 103)]);
    }

    #[test]
    fn each_shortfall_alone_leaves_the_mailbox_unmarked() {
        for which in 0..SHORTFALLS {
            let mut case = Case::new();
            fall_short(&mut case, which);
            assert!(case.proven().is_err(), "shortfall {which} was marked");
        }
    }

    #[test]
    fn a_side_not_written_to_is_marked_at_its_listing_and_a_created_one_counts_from_nothing() {
        // Only copies from A to a B this run created: A is marked as listed.
        let mut case = Case::new();
        let p = &mut case.plan;
        p.pairs.clear();
        p.flag_changes.clear();
        p.expunges.clear();
        p.create = Some(Side::B);
        case.listings[0].messages.clear();
        case.listings[0].status.exists = 1;
        case.now = [Some(case.listings[0].status.clone()), Some(status(1, 2, 5))];
        let applied = Applied {
            plan: &case.plan,
            listings: [Some(&case.listings[0]), None],
            base: None,
            refused: false,
            unconfirmed: false,
            ledger: &case.ledger,
            failed: false,
            now: [case.now[0].as_ref(), case.now[1].as_ref()],
        };
        let [a, b] = proven(&applied).expect("settled");
        assert_eq!((a.messages, a.highestmodseq, b.messages), (1, 100, 1));
        // B not created, yet not listed: not proven.
        let uncreated = MailboxPlan {
            create: None,
            ..case.plan.clone()
        };
        let applied = Applied {
            plan: &uncreated,
            ..applied
        };
        assert!(proven(&applied).is_err());
    }

    /// The same run on the changed subset of a mailbox of 1,000 more
    /// messages, paired and agreed at the mark: marked, counting them; the
    /// same listings not read as a subset are not (a message is missing).
    #[test]
    fn a_subset_run_counts_the_messages_it_did_not_list() {
        let mut case = Case::new();
        for listing in &mut case.listings {
            listing.status.exists += 1000;
        }
        for now in case.now.iter_mut().flatten() {
            now.exists += 1000;
        }
        assert!(
            case.proven().is_err(),
            "a listing short of EXISTS was marked"
        );
        case.base.subset_of = Some(1002);
        let [a, b] = case.proven().expect("settled");
        assert_eq!((a.messages, b.messages), (1003, 1003));
        // One message more on B than the run makes: not proven.
        if let Some(now) = case.now[1].as_mut() {
            now.exists += 1;
        }
        assert!(case.proven().is_err());
    }

    proptest! {
        /// Whatever else is true of the run, any shortfall (an action not
        /// done, a read-back that showed more, a listing that proves less,
        /// anything set aside) leaves the mailbox unmarked.
        #[test]
        fn never_marked_unless_the_plan_was_applied_whole(
            shortfalls in proptest::collection::btree_set(0..SHORTFALLS, 1..6)
        ) {
            let mut case = Case::new();
            for which in &shortfalls {
                fall_short(&mut case, *which);
            }
            prop_assert!(case.proven().is_err(), "{shortfalls:?} was marked");
        }
    }
}
