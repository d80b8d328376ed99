//! One mailbox: link the snapshot's pairs to what each side holds now, merge
//! the flags of every pair, match what is left by content, and copy what
//! still has no partner.
//!
//! Linking a base pair to a side is by UID while the side's UIDVALIDITY is the
//! one the pair was recorded under; after a UIDVALIDITY change it is by
//! fingerprint, and that side is *suspect* for the pair (its flags can add but
//! not remove, SCENARIOS.md U1). Nothing is deleted in this version: a message
//! whose partner is gone is copied again.

use super::flags::{self, SideFlags};
use super::mailboxes::wire_name;
use super::matching::match_by_content;
use super::{MailboxInput, Policy};
use crate::model::{Fingerprint, FlagDelta, FlagSet, MailboxStatus, MessageMeta, Side, Uid};
use crate::plan::{Conflict, Copy, FlagChange, ListingPath, MailboxPlan, PlannedPair};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The plan for one mailbox.
pub fn reconcile_mailbox(
    input: &MailboxInput,
    delimiters: [Option<char>; 2],
    policy: &Policy,
) -> MailboxPlan {
    let mut plan = MailboxPlan {
        name: input.name.clone(),
        wire: [0, 1].map(|i| input.sides[i].as_ref().map(|s| s.wire_name.clone())),
        create: None,
        listing: [0, 1].map(|i| input.sides[i].as_ref().map(|_| listing_path(input, i))),
        uidvalidity: [0, 1].map(|i| input.sides[i].as_ref().map(|s| s.status.uidvalidity)),
        pairs: Vec::new(),
        copies: Vec::new(),
        flag_changes: Vec::new(),
        conflicts: Vec::new(),
        notes: Vec::new(),
        problems: Vec::new(),
    };
    for side in Side::BOTH {
        if input.sides[side.index()].is_none() {
            match wire_name(&input.name, delimiters[side.index()]) {
                Ok(w) => {
                    plan.wire[side.index()] = Some(w);
                    plan.create = Some(side);
                }
                Err(e) => {
                    plan.problems.push(format!("cannot create on {side}: {e}"));
                    return plan;
                }
            }
        }
    }

    let absent = MailboxStatus::default();
    let status = [0, 1].map(|i| input.sides[i].as_ref().map_or(&absent, |s| &s.status));
    let messages: [&[MessageMeta]; 2] =
        [0, 1].map(|i| input.sides[i].as_ref().map_or(&[][..], |s| &s.messages[..]));

    let mut linker = Linker::new(input, messages);
    // The order matters only when duplicates are re-linked by content; a key
    // that does not depend on which side is A keeps the result symmetric.
    let mut pairs_sorted = input.base.pairs.clone();
    pairs_sorted.sort_by_key(symmetric_key);
    for base_pair in &pairs_sorted {
        let linked = [Side::A, Side::B]
            .map(|s| linker.link(s, base_pair.uid[s.index()], base_pair.fingerprint));
        match linked {
            [Some(a), Some(b)] => {
                let suspect = [linker.by_content[0], linker.by_content[1]];
                add_pair(
                    &mut plan,
                    [a, b],
                    base_pair.flags.as_ref(),
                    suspect,
                    status,
                    policy,
                );
            }
            [Some(m), None] | [None, Some(m)] => linker.release(m),
            [None, None] => {}
        }
    }

    let matched = match_by_content([0, 1].map(|i| linker.unlinked(i)));
    for pair in matched.pairs {
        add_pair(&mut plan, pair, None, [false, false], status, policy);
    }
    for side in Side::BOTH {
        let target = status[side.other().index()];
        for m in &matched.left[side.index()] {
            plan.copies.push(Copy {
                from: side,
                uid: m.uid,
                fingerprint: m.fingerprint,
                size: m.size,
                internal_date: m.internal_date,
                flags: flags::storable(&m.flags, target),
                agreed: m.flags.clone(),
            });
        }
    }

    plan.pairs.sort_by_key(|p| p.uid);
    plan.copies.sort_by_key(|c| (c.from, c.uid));
    plan.flag_changes.sort_by_key(|c| (c.side, c.pair));
    plan.conflicts.sort_by_key(|c| c.pair);
    if linker.by_content.iter().any(|b| *b) && !input.base.pairs.is_empty() {
        for side in Side::BOTH
            .into_iter()
            .filter(|s| linker.by_content[s.index()])
        {
            plan.notes.push(format!(
                "UIDVALIDITY changed on {side}: pairs re-linked by content; flags removed on {side} are not taken"
            ));
        }
    }
    plan
}

/// Records one pair and the flag changes that make both sides agree.
fn add_pair(
    plan: &mut MailboxPlan,
    [a, b]: [&MessageMeta; 2],
    base: Option<&FlagSet>,
    suspect: [bool; 2],
    status: [&MailboxStatus; 2],
    policy: &Policy,
) {
    let sides = [
        SideFlags {
            flags: &a.flags,
            status: status[0],
            suspect: suspect[0],
        },
        SideFlags {
            flags: &b.flags,
            status: status[1],
            suspect: suspect[1],
        },
    ];
    let agreed = flags::merge(base, sides, policy.prefer);
    let uid = [a.uid, b.uid];
    let mut needs_store = false;
    for (side, m) in [(Side::A, a), (Side::B, b)] {
        let st = status[side.index()];
        let delta = FlagDelta {
            add: flags::storable(&agreed.minus(&m.flags), st),
            remove: flags::storable(&m.flags.minus(&agreed), st),
        };
        if !delta.is_empty() {
            needs_store = true;
            plan.flag_changes.push(FlagChange {
                side,
                pair: uid,
                delta,
            });
        }
    }
    if base.is_none() && a.flags != b.flags {
        let rule = match policy.prefer {
            Some(side) => format!("{side} preferred"),
            None => "union, \\Deleted only if on both".to_string(),
        };
        plan.conflicts.push(Conflict {
            pair: uid,
            description: format!(
                "no agreed flags yet: A {} vs B {} → {} ({rule})",
                a.flags, b.flags, agreed
            ),
        });
    }
    plan.pairs.push(PlannedPair {
        uid,
        fingerprint: a.fingerprint,
        base_before: if needs_store {
            base.cloned()
        } else {
            Some(agreed.clone())
        },
        agreed,
    });
}

fn symmetric_key(p: &super::BasePair) -> (Fingerprint, Uid, Uid, Option<FlagSet>) {
    let [a, b] = p.uid;
    (p.fingerprint, a.min(b), a.max(b), p.flags.clone())
}

fn listing_path(input: &MailboxInput, side: usize) -> ListingPath {
    let reason = if input.base.uidvalidity[side].is_none() {
        "no snapshot of this mailbox yet"
    } else if input.sides[side]
        .as_ref()
        .is_some_and(|s| s.status.highestmodseq.is_none())
    {
        "server has no CONDSTORE for it"
    } else {
        "every run compares the full listing in this version"
    };
    ListingPath {
        path: "full".into(),
        reason: reason.into(),
    }
}

/// Finds the messages the snapshot's pairs refer to on each side.
struct Linker<'a> {
    by_uid: [HashMap<Uid, &'a MessageMeta>; 2],
    by_fingerprint: [BTreeMap<Fingerprint, VecDeque<&'a MessageMeta>>; 2],
    /// Per side: link by content because UIDVALIDITY changed.
    by_content: [bool; 2],
    linked: [HashSet<Uid>; 2],
    messages: [&'a [MessageMeta]; 2],
}

impl<'a> Linker<'a> {
    fn new(input: &MailboxInput, messages: [&'a [MessageMeta]; 2]) -> Linker<'a> {
        let by_content = [0, 1].map(|i| match &input.sides[i] {
            Some(side) => input.base.uidvalidity[i] != Some(side.status.uidvalidity),
            None => false,
        });
        let by_fingerprint = [0, 1].map(|i| {
            let mut map: BTreeMap<Fingerprint, Vec<&MessageMeta>> = BTreeMap::new();
            for m in messages[i] {
                map.entry(m.fingerprint).or_default().push(m);
            }
            map.into_iter()
                .map(|(fp, mut v)| {
                    v.sort_by_key(|m| (m.internal_date, m.uid));
                    (fp, VecDeque::from(v))
                })
                .collect()
        });
        Linker {
            by_uid: [0, 1].map(|i| messages[i].iter().map(|m| (m.uid, m)).collect()),
            by_fingerprint,
            by_content,
            linked: Default::default(),
            messages,
        }
    }

    fn link(&mut self, side: Side, uid: Uid, fingerprint: Fingerprint) -> Option<&'a MessageMeta> {
        let i = side.index();
        let found = if self.by_content[i] {
            let queue = self.by_fingerprint[i].get_mut(&fingerprint)?;
            loop {
                let m = queue.pop_front()?;
                if !self.linked[i].contains(&m.uid) {
                    break Some(m);
                }
            }
        } else {
            self.by_uid[i]
                .get(&uid)
                .copied()
                .filter(|m| !self.linked[i].contains(&m.uid))
        }?;
        self.linked[i].insert(found.uid);
        Some(found)
    }

    /// Gives a linked message back: its partner is gone.
    fn release(&mut self, m: &MessageMeta) {
        for i in 0..2 {
            if self.messages[i].iter().any(|x| std::ptr::eq(x, m)) {
                self.linked[i].remove(&m.uid);
            }
        }
    }

    fn unlinked(&self, i: usize) -> Vec<&'a MessageMeta> {
        self.messages[i]
            .iter()
            .filter(|m| !self.linked[i].contains(&m.uid))
            .collect()
    }
}
