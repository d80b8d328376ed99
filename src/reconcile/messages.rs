//! One mailbox: link the snapshot's pairs to what each side holds now, merge
//! the flags of every pair, match what is left by content, and copy what
//! still has no partner.
//!
//! Linking a base pair to a side is by UID while the side is healthy (same
//! UIDVALIDITY, nothing regressed); otherwise by fingerprint, and that side's
//! flags can add but not remove (U1) — or, for a restored side, the other
//! side's flags win. A pair whose message is gone from a healthy side is a
//! proven expunge, propagated to the other side under the mass-deletion
//! guard; a message gone from a suspect side is copied back.

use super::by_headers;
use super::flags::{self, SideFlags};
use super::guard::apply_guard;
use super::linker::Linker;
use super::mailboxes::{plan_existence, Naming};
use super::matching::{match_by_content, match_normalised};
use super::unread;
use super::{BasePair, Evidence, MailboxInput, Policy};
use crate::model::{
    DeleteMode, Fingerprint, Flag, FlagDelta, FlagSet, MailboxStatus, MessageMeta, PairLevel, Side,
    Uid,
};
use crate::plan::{
    Conflict, Copy, Expunge, ExpungeMode, ExpungeReason, FlagChange, MailboxPlan, PlannedPair,
    WithheldFlag,
};
use std::collections::BTreeMap;

/// The plan for one mailbox.
pub fn reconcile_mailbox(input: &MailboxInput, naming: &Naming, policy: &Policy) -> MailboxPlan {
    let mut plan = MailboxPlan {
        name: input.name.clone(),
        wire: [0, 1].map(|i| input.sides[i].as_ref().map(|s| s.wire_name.clone())),
        create: None,
        delete: None,
        rename: None,
        listing: [0, 1].map(|i| input.sides[i].as_ref().map(|s| s.path.clone())),
        uidvalidity: [0, 1].map(|i| input.sides[i].as_ref().map(|s| s.status.uidvalidity)),
        pairs: Vec::new(),
        copies: Vec::new(),
        skipped: Vec::new(),
        flag_changes: Vec::new(),
        expunges: Vec::new(),
        withheld: Vec::new(),
        withheld_flags: Vec::new(),
        conflicts: Vec::new(),
        notes: Vec::new(),
        problems: Vec::new(),
    };
    if input.base.settled {
        // Nothing changed on either side since a sync found it settled.
        return plan;
    }
    if let Some(why) = unread::refusal(input, policy) {
        plan.problems.push(why);
        return plan;
    }
    if let Some(source) = policy.one_way {
        if input.sides[source.index()].is_none() {
            plan.notes.push(format!(
                "only on {}: left alone (--one-way copies from {source} only)",
                source.other()
            ));
            return plan;
        }
    }
    if !plan_existence(&mut plan, input, naming, policy) {
        return plan;
    }

    let absent = MailboxStatus::default();
    let status = [0, 1].map(|i| input.sides[i].as_ref().map_or(&absent, |s| &s.status));
    let messages: [&[MessageMeta]; 2] =
        [0, 1].map(|i| input.sides[i].as_ref().map_or(&[][..], |s| &s.messages[..]));

    let evidence = [0, 1].map(|i| side_evidence(input, i, policy));
    let mut linker = Linker::new(input, messages, &evidence);
    // The order matters only when duplicates are re-linked by content; a key
    // that does not depend on which side is A keeps the result symmetric.
    let mut pairs_sorted: Vec<&BasePair> = input.base.pairs.iter().collect();
    pairs_sorted.sort_by(|x, y| symmetric_key(x).cmp(&symmetric_key(y)));
    // Every pair takes a message of each side, so this is the most there
    // can be: one allocation, not a doubling vector's slack.
    plan.pairs
        .reserve_exact(messages[0].len().min(messages[1].len()));
    let mut linked = Vec::new();
    for base_pair in pairs_sorted {
        // An unconfirmed receipt is confirmed only by its UID listed with
        // the content sent, not by the UID alone.
        let found = [Side::A, Side::B].map(|s| {
            let exact = base_pair.unconfirmed == Some(s);
            linker.link(
                s,
                base_pair.uid[s.index()],
                base_pair.fingerprint_on(s),
                exact,
            )
        });
        if let Some((lost, survivor)) = lost_receipt(base_pair, &found) {
            lost_copy(&mut plan, &mut linker, lost, survivor, base_pair);
            continue;
        }
        match found {
            [Some(a), Some(b)] => match [Side::A, Side::B]
                .map(|s| damage(input, s, found[s.index()]).filter(|_| policy.one_way != Some(s)))
            {
                [Some(how), None] => {
                    replace_damaged(&mut plan, &mut linker, Side::A, how, [a, b], input, policy)
                }
                [None, Some(how)] => {
                    replace_damaged(&mut plan, &mut linker, Side::B, how, [a, b], input, policy)
                }
                _ => linked.push((
                    [a, b],
                    base_pair.flags.as_ref(),
                    Identity::of_base(base_pair),
                )),
            },
            [Some(m), None] => gone_from(
                &mut plan,
                &mut linker,
                Side::B,
                m,
                base_pair,
                input,
                &evidence,
                policy,
            ),
            [None, Some(m)] => gone_from(
                &mut plan,
                &mut linker,
                Side::A,
                m,
                base_pair,
                input,
                &evidence,
                policy,
            ),
            [None, None] => {}
        }
    }
    let held = mass_flag_removals(
        &mut plan,
        &linked,
        &evidence,
        input.base.pair_count(),
        policy,
    );
    for (pair, base, identity) in linked {
        add_pair(
            &mut plan, pair, base, identity, &evidence, status, policy, &held,
        );
    }
    linker.hold_pending_expunges(&input.base.pending_expunge);

    let exact = match_by_content([0, 1].map(|i| linker.unlinked(i)));
    // A weaker level pairs only what the stronger one left unpaired.
    let normalised = match_normalised(exact.left);
    if !normalised.pairs.is_empty() {
        plan.notes.push(format!(
            "{} message(s) paired at the normalised level: their contents differ only by what servers \
             rewrite (line ends, a final line break, NUL, 8-bit header bytes)",
            normalised.pairs.len()
        ));
    }
    let matched = by_headers::when_asked(normalised.left, input, policy, &mut plan.notes);
    let found = (exact.pairs.into_iter().map(|p| (p, PairLevel::Exact)))
        .chain(
            normalised
                .pairs
                .into_iter()
                .map(|p| (p, PairLevel::Normalised)),
        )
        .chain(matched.pairs.iter().map(|p| (*p, PairLevel::Headers)));
    for (pair, level) in found {
        add_pair(
            &mut plan,
            pair,
            None,
            Identity::found(pair, level),
            &evidence,
            status,
            policy,
            &Default::default(),
        );
    }
    if let Some(source) = policy.one_way {
        extras_on_target(
            &mut plan,
            &matched.left[source.other().index()],
            source.other(),
            input,
            policy,
        );
    }
    for side in Side::BOTH
        .into_iter()
        .filter(|s| policy.one_way.is_none_or(|src| src == *s))
    {
        let target = status[side.other().index()];
        let left = unpaired_to_copy(
            &mut plan,
            &matched.left[side.index()],
            side,
            input,
            &evidence,
            policy,
        );
        for m in left {
            plan.copies.push(Copy {
                from: side,
                uid: m.uid,
                fingerprint: Some(m.fingerprint),
                normalised: m.normalised(),
                size: m.size,
                internal_date: m.internal_date,
                flags: flags::storable(&m.flags, target),
                agreed: m.flags.clone(),
            });
        }
        plan.copies.extend(unread::copies(input, side, target));
    }

    apply_guard(
        &mut plan,
        input.base.pair_count(),
        input.base.recent_damage,
        policy,
    );

    // Unstable: a message is in one pair at most, so the keys are unique
    // and the order is the stable sort's, without its scratch copy (half
    // the pairs, 44 MB at 1,000,000: the core's peak in a repair, issue 18).
    plan.pairs.sort_unstable_by_key(|p| p.uid);
    plan.copies.sort_by_key(|c| (c.from, c.uid));
    plan.expunges.sort_by_key(|e| (e.side, e.uid));
    plan.withheld.sort_by_key(|e| (e.side, e.uid));
    plan.flag_changes.sort_by_key(|c| (c.side, c.pair));
    plan.conflicts.sort_by_key(|c| c.pair);
    for side in Side::BOTH {
        match &evidence[side.index()] {
            Evidence::Healthy => {}
            Evidence::UidvalidityChanged => plan.notes.push(format!(
                "UIDVALIDITY changed on {side}: pairs re-linked by content; flags removed on {side} are not taken \
                 and messages missing there are copied back, not deleted elsewhere"
            )),
            Evidence::Restored(why) => plan.notes.push(format!(
                "{side} looks restored ({why}): {other}'s flags win on paired messages, and messages missing on \
                 {side} are copied back to it, not deleted on {other}",
                other = side.other()
            )),
        }
    }
    plan
}

/// What a side can prove in this mailbox, with the operator's `--restored`.
fn side_evidence(input: &MailboxInput, i: usize, policy: &Policy) -> Evidence {
    let listed = input.sides[i]
        .as_ref()
        .map_or(Evidence::Healthy, |s| s.evidence.clone());
    match policy.restored {
        Some(side) if side.index() == i && !listed.is_restored() => {
            Evidence::Restored("the operator said so (--restored)".into())
        }
        _ => listed,
    }
}

/// A paired message is still on one side and gone from `gone_side`. A
/// healthy side proves the expunge, which then propagates; a suspect side
/// (or a mailbox missing on it) proves nothing and the message is copied back.
#[allow(clippy::too_many_arguments)]
fn gone_from(
    plan: &mut MailboxPlan,
    linker: &mut Linker<'_>,
    gone_side: Side,
    survivor: &MessageMeta,
    base_pair: &BasePair,
    input: &MailboxInput,
    evidence: &[Evidence; 2],
    policy: &Policy,
) {
    let proven =
        input.sides[gone_side.index()].is_some() && evidence[gone_side.index()].is_healthy();
    let side = gone_side.other();
    // One-way never writes to the source: a message gone from the target is
    // copied there again.
    if !proven || policy.one_way == Some(side) {
        linker.release(side, survivor);
        return;
    }
    // Re-linked by content with fewer copies listed than pairs remembered
    // for it: which pair this survivor was is not known, so its partner's
    // absence proves nothing about it (the pair it was may be a lost copy).
    if linker.contended(side, base_pair.fingerprint_on(side)) {
        linker.release(side, survivor);
        plan.notes.push(format!(
            "UID {} on {gone_side} is gone, but {side} was re-linked by content and holds fewer copies of \
             that content than the snapshot paired: which one was its partner is not known, so none is \
             expunged; the copies left pair by content or are copied again",
            base_pair.uid[gone_side.index()],
        ));
        return;
    }
    if let Some(why) = loose_survivor(base_pair, survivor, side) {
        keep_survivor(plan, base_pair, survivor, side, why);
        return;
    }
    let mode = expunge_mode(input, side, policy);
    let mut pair = base_pair.uid;
    pair[side.index()] = survivor.uid;
    if let Some(base) = &base_pair.flags {
        if &survivor.flags != base {
            plan.conflicts.push(Conflict {
                pair,
                description: format!(
                    "expunged on {gone_side} while {side} changed its flags {base} → {}; the proven expunge wins",
                    survivor.flags
                ),
            });
        }
    }
    plan.expunges.push(Expunge {
        side,
        uid: survivor.uid,
        pair,
        fingerprint: base_pair.fingerprint_on(side),
        base: base_pair.flags.clone(),
        mode,
        reason: ExpungeReason::Proven,
        level: base_pair.level,
        partner: Some(base_pair.fingerprint_on(gone_side))
            .filter(|f| *f != base_pair.fingerprint_on(side)),
        normalised: survivor.normalised(),
    });
}

/// Why the survivor of a pair made below the exact level may not be
/// expunged with its partner, if it may not. A normalised pair may carry a
/// proven expunge: its two messages differ by the normalisations and
/// nothing else, and the survivor must still be the content paired. A
/// header-level pair never does: its contents may differ in any way.
fn loose_survivor(
    base_pair: &BasePair,
    survivor: &MessageMeta,
    side: Side,
) -> Option<&'static str> {
    match base_pair.level {
        PairLevel::Exact => None,
        PairLevel::Normalised if survivor.fingerprint == base_pair.fingerprint_on(side) => None,
        PairLevel::Normalised => {
            Some("its content is no longer the one paired at the normalised level")
        }
        PairLevel::Headers => Some(
            "the pair was made by headers only (--identity headers), which never proves a deletion",
        ),
    }
}

/// Keeps the survivor of a pair that may not carry the expunge: it is not
/// deleted, not copied back (it stays linked), and the pair stays in the
/// snapshot so that every later run says the same.
fn keep_survivor(
    plan: &mut MailboxPlan,
    base_pair: &BasePair,
    survivor: &MessageMeta,
    side: Side,
    why: &str,
) {
    plan.notes.push(format!(
        "UID {} on {side} kept: its partner was expunged on {}, but {why}; not deleted, not copied back",
        survivor.uid,
        side.other()
    ));
    let agreed = base_pair.flags.clone();
    let mut uid = base_pair.uid;
    uid[side.index()] = survivor.uid; // linked by content on a suspect side
    plan.pairs.push(PlannedPair {
        uid,
        fingerprint: base_pair.fingerprint,
        fingerprint_b: base_pair.fingerprint_b.map(Box::new),
        level: base_pair.level,
        agreed: agreed.clone().unwrap_or_else(|| survivor.flags.clone()),
        base_before: agreed,
    });
}

/// The side of an unconfirmed receipt whose UID this listing does not show
/// (with the content sent), while the other side still holds the message.
fn lost_receipt<'a>(
    base_pair: &BasePair,
    found: &[Option<&'a MessageMeta>; 2],
) -> Option<(Side, &'a MessageMeta)> {
    let receipt = base_pair.unconfirmed?;
    match found[receipt.index()] {
        Some(_) => None,
        None => Some((receipt, found[receipt.other().index()]?)),
    }
}

/// A receipt never confirmed: the server named a UID on `lost` (APPENDUID)
/// that it never listed with the content sent (Gmail drops an APPEND of a
/// message it holds already). That proves the copy was lost, not that the
/// message was deleted, whatever `lost`'s evidence: its partner is given
/// back to matching, so it pairs by content or is copied again, and
/// nothing is expunged for it.
fn lost_copy(
    plan: &mut MailboxPlan,
    linker: &mut Linker<'_>,
    lost: Side,
    kept: &MessageMeta,
    base_pair: &BasePair,
) {
    let survivor = lost.other();
    linker.release(survivor, kept);
    plan.notes.push(format!(
        "UID {} on {lost}, reported by APPENDUID for a copy of UID {} on {survivor}, was never listed with \
         that content: the copy was lost (not deleted); it is copied again unless it pairs by content",
        base_pair.uid[lost.index()],
        kept.uid,
    ));
}

/// What `--verify` found wrong with this message on `side`, if anything:
/// its content changed in place, or the server could not deliver its body.
fn damage(input: &MailboxInput, side: Side, m: Option<&MessageMeta>) -> Option<&'static str> {
    let listing = input.sides[side.index()].as_ref()?;
    let uid = m?.uid;
    if listing.damaged.contains(&uid) {
        Some("is damaged (its content changed since it was synced)")
    } else if listing.unreadable.contains(&uid) {
        Some("cannot be read (the server did not deliver its body)")
    } else {
        None
    }
}

/// `--verify` found the message of `pair` on `side` damaged (`how`) while
/// its partner reads well: it is expunged there (under the guard) and its
/// partner copied in again. (A one-way source is never written to, so its
/// damage is only reported by `check --verify`.)
fn replace_damaged(
    plan: &mut MailboxPlan,
    linker: &mut Linker<'_>,
    side: Side,
    how: &str,
    pair: [&MessageMeta; 2],
    input: &MailboxInput,
    policy: &Policy,
) {
    let damaged = pair[side.index()];
    linker.release(side.other(), pair[side.other().index()]);
    let mut pair = [0, 0];
    pair[side.index()] = damaged.uid;
    plan.notes.push(format!(
        "UID {} on {side} {how}: replaced by {}'s copy",
        damaged.uid,
        side.other()
    ));
    let mode = expunge_mode(input, side, policy);
    plan.expunges.push(Expunge {
        side,
        uid: damaged.uid,
        pair,
        fingerprint: damaged.fingerprint,
        base: None,
        mode,
        reason: ExpungeReason::Damaged,
        level: PairLevel::Exact,
        partner: None,
        normalised: damaged.normalised(),
    });
}

/// How an expunge on `side` is carried out: `UID EXPUNGE` needs UIDPLUS.
fn expunge_mode(input: &MailboxInput, side: Side, policy: &Policy) -> ExpungeMode {
    let can_expunge = input.sides[side.index()]
        .as_ref()
        .is_some_and(|s| s.can_uid_expunge);
    if policy.deletes == DeleteMode::Expunge && can_expunge {
        ExpungeMode::Expunge
    } else {
        ExpungeMode::FlagOnly
    }
}

/// Messages with no partner on `side`, before they are copied to the other
/// side. On a restored side they may be mail deleted since the backup: one
/// matching a tombstone (its expunge was proven and propagated) is expunged
/// there instead, and with `--drop-restored-extras` all of them are; the rest
/// are copied, and said so. Elsewhere a tombstone match is only reported.
fn unpaired_to_copy<'a>(
    plan: &mut MailboxPlan,
    left: &[&'a MessageMeta],
    side: Side,
    input: &MailboxInput,
    evidence: &[Evidence; 2],
    policy: &Policy,
) -> Vec<&'a MessageMeta> {
    let tombstoned =
        |m: &MessageMeta| policy.tombstones && input.base.tombstones.contains(&m.fingerprint);
    // A tombstone met only at the normalised level is reported, never
    // acted on: the message may differ from the one expunged.
    let loosely = left
        .iter()
        .filter(|m| {
            policy.tombstones
                && !tombstoned(m)
                && m.normalised()
                    .is_some_and(|n| input.base.tombstones_normalised.contains(&n))
        })
        .count();
    if loosely > 0 {
        plan.notes.push(format!(
            "{loosely} message(s) on {side} match content expunged earlier only at the normalised level \
             (tombstones): not acted on for it"
        ));
    }
    // One-way never writes to its source, restored or not.
    if !evidence[side.index()].is_restored() || policy.one_way == Some(side) {
        let matches = left.iter().filter(|m| tombstoned(m)).count();
        if matches > 0 {
            plan.notes.push(format!(
                "{matches} message(s) on {side} match content expunged earlier (tombstones); copied, since nothing \
                 proves {side} was restored"
            ));
        }
        return left.to_vec();
    }
    let mode = expunge_mode(input, side, policy);
    let mut copy = Vec::new();
    let (mut buried, mut dropped) = (0, 0);
    for m in left {
        let gone_elsewhere = tombstoned(m);
        if !(gone_elsewhere || policy.drop_restored_extras) {
            copy.push(*m);
            continue;
        }
        if gone_elsewhere {
            buried += 1;
        } else {
            dropped += 1;
        }
        let mut pair = [0, 0];
        pair[side.index()] = m.uid;
        plan.expunges.push(Expunge {
            side,
            uid: m.uid,
            pair,
            fingerprint: m.fingerprint,
            base: None,
            mode,
            reason: if gone_elsewhere {
                ExpungeReason::Tombstone
            } else {
                ExpungeReason::RestoredExtra
            },
            level: PairLevel::Exact,
            partner: None,
            normalised: m.normalised(),
        });
    }
    let other = side.other();
    if buried > 0 {
        plan.notes.push(format!(
            "{buried} message(s) on restored {side} were expunged after the backup (tombstones): expunged on {side} \
             again, not copied to {other} (--no-tombstones copies them back instead)"
        ));
    }
    if dropped > 0 {
        plan.notes.push(format!(
            "{dropped} message(s) only on restored {side}: expunged there (--drop-restored-extras)"
        ));
    }
    if !copy.is_empty() {
        plan.notes.push(format!(
            "{} message(s) only on restored {side}: copied to {other} — they may have been deleted since the \
             backup (--drop-restored-extras removes them from {side} instead)",
            copy.len()
        ));
    }
    copy
}

/// `--one-way`: messages only on the target are expunged with
/// `--delete-extra` (under the guard), else kept and counted.
fn extras_on_target(
    plan: &mut MailboxPlan,
    extras: &[&MessageMeta],
    target: Side,
    input: &MailboxInput,
    policy: &Policy,
) {
    if extras.is_empty() {
        return;
    }
    if !policy.delete_extra {
        plan.notes.push(format!(
            "{} message(s) only on {target} kept (--one-way never deletes them without --delete-extra)",
            extras.len()
        ));
        return;
    }
    let mode = expunge_mode(input, target, policy);
    for m in extras {
        let mut pair = [0, 0];
        pair[target.index()] = m.uid;
        plan.expunges.push(Expunge {
            side: target,
            uid: m.uid,
            pair,
            fingerprint: m.fingerprint,
            base: None,
            mode,
            reason: ExpungeReason::OneWayExtra,
            level: PairLevel::Exact,
            partner: None,
            normalised: m.normalised(),
        });
    }
}

/// Lost flags (an index rebuilt without them looks like a user removing a
/// flag from most messages at once): per side and flag, removals from more
/// pairs than the deletion guard allows are withheld like mass deletions.
/// Returns, per side, the flags whose removal is withheld.
fn mass_flag_removals(
    plan: &mut MailboxPlan,
    linked: &[Linked<'_>],
    evidence: &[Evidence; 2],
    base_pairs: usize,
    policy: &Policy,
) -> [FlagSet; 2] {
    let mut held: [FlagSet; 2] = Default::default();
    // A restored side or a one-way target is overridden anyway.
    let overridden = policy.one_way.is_some() || evidence.iter().any(Evidence::is_restored);
    if overridden {
        return held;
    }
    let limit = policy.max_delete.limit(base_pairs as u64);
    for side in Side::BOTH {
        if !evidence[side.index()].is_healthy() {
            continue; // its removals are not taken anyway
        }
        let mut counts: BTreeMap<Flag, u64> = BTreeMap::new();
        for (pair, base, _) in linked {
            let Some(base) = base else { continue };
            // Only removals that would propagate count: where the other
            // side still holds the flag (both removing it is agreement).
            let removed = base.minus(&pair[side.index()].flags);
            for flag in removed
                .intersection(&pair[side.other().index()].flags)
                .iter()
            {
                *counts.entry(flag.clone()).or_default() += 1;
            }
        }
        for (flag, count) in counts.into_iter().filter(|(_, c)| *c > limit) {
            plan.notes.push(format!(
                "WITHHELD: {flag} was removed from {count} messages on {side} at once (the guard allows {limit}); \
                 this looks like lost flags, not a user's choice. Nothing was changed for it; confirm with \
                 --max-delete, or say --restored {} if {side} was restored",
                side.letter().to_ascii_lowercase()
            ));
            plan.withheld_flags.push(WithheldFlag {
                side,
                flag: flag.clone(),
                count,
            });
            held[side.index()].insert(flag);
        }
    }
    held
}

/// A base pair found on both sides: the messages, the flags last agreed
/// and the pair's content as the snapshot holds it.
type Linked<'a> = ([&'a MessageMeta; 2], Option<&'a FlagSet>, Identity);

/// What a pair is recorded as: its content (A's, and B's where it
/// differs) and the level it was made at.
#[derive(Debug, Clone, Copy)]
struct Identity {
    fingerprint: Fingerprint,
    fingerprint_b: Option<Fingerprint>,
    level: PairLevel,
}

impl Identity {
    /// A pair the snapshot holds: as it recorded it (a copy's source, when
    /// the target rewrote it).
    fn of_base(p: &BasePair) -> Identity {
        Identity {
            fingerprint: p.fingerprint,
            fingerprint_b: p.fingerprint_b,
            level: p.level,
        }
    }

    /// A pair found by content now: each side's own.
    fn found([a, b]: [&MessageMeta; 2], level: PairLevel) -> Identity {
        Identity {
            fingerprint: a.fingerprint,
            fingerprint_b: Some(b.fingerprint).filter(|f| *f != a.fingerprint),
            level,
        }
    }
}

/// Records one pair and the flag changes that make both sides agree.
/// `identity` is what the pair is recorded as.
#[allow(clippy::too_many_arguments)]
fn add_pair(
    plan: &mut MailboxPlan,
    [a, b]: [&MessageMeta; 2],
    base: Option<&FlagSet>,
    identity: Identity,
    evidence: &[Evidence; 2],
    status: [&MailboxStatus; 2],
    policy: &Policy,
    held: &[FlagSet; 2],
) {
    // A removal withheld by the guard counts as not made: the side is read
    // as still holding the flag, and nothing is sent to restore it there.
    let held_here = [0, 1].map(|i| base.map_or_else(FlagSet::new, |b| b.intersection(&held[i])));
    let effective = [(a, 0), (b, 1)].map(|(m, i)| m.flags.union(&held_here[i]));
    let sides = [0, 1].map(|i| SideFlags {
        flags: &effective[i],
        status: status[i],
        suspect: !evidence[i].is_healthy(),
    });
    // A restored side's flags are last week's: the healthy side's win. In
    // one-way mode the source's flags win.
    let authority = policy.one_way.or(
        match (evidence[0].is_restored(), evidence[1].is_restored()) {
            (true, false) => Some(Side::B),
            (false, true) => Some(Side::A),
            _ => None,
        },
    );
    let agreed = match authority {
        // Over a restored side before any snapshot (pairs found by content),
        // the healthy side's flags win but `\Deleted` is kept only where both
        // sides have it, as in any first pairing (issue 8).
        Some(side) if base.is_none() && policy.one_way.is_none() => {
            flags::deleted_only_if_on_both(flags::merge(None, sides, Some(side)), sides)
        }
        Some(side) => flags::merge(None, sides, Some(side)),
        None => flags::merge(base, sides, policy.prefer),
    };
    let uid = [a.uid, b.uid];
    let mut needs_store = false;
    for (side, m) in [(Side::A, a), (Side::B, b)] {
        let st = status[side.index()];
        let delta = FlagDelta {
            add: flags::storable(&agreed.minus(&m.flags).minus(&held_here[side.index()]), st),
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
    if base.is_none() && authority.is_none() && a.flags != b.flags {
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
        fingerprint: identity.fingerprint,
        fingerprint_b: identity.fingerprint_b.map(Box::new),
        level: identity.level,
        base_before: if needs_store {
            base.cloned()
        } else {
            Some(agreed.clone())
        },
        agreed,
    });
}

type SymmetricKey<'a> = (
    Fingerprint,
    Fingerprint,
    Uid,
    Uid,
    Option<&'a FlagSet>,
    PairLevel,
);

fn symmetric_key(p: &BasePair) -> SymmetricKey<'_> {
    let [a, b] = p.uid;
    let [fa, fb] = [Side::A, Side::B].map(|s| p.fingerprint_on(s));
    (
        fa.min(fb),
        fa.max(fb),
        a.min(b),
        a.max(b),
        p.flags.as_ref(),
        p.level,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InternalDate;
    use crate::plan::{ExpungeReason, ListingPath};
    use crate::reconcile::{BasePair, MailboxBase, SideListing};

    fn msg(uid: Uid, content: u8, flags: &str) -> MessageMeta {
        MessageMeta {
            uid,
            size: 10,
            internal_date: InternalDate::new(0, 0),
            flags: FlagSet::from_wire(flags.split_whitespace()),
            fingerprint: Fingerprint([content; 32]),
            normalised: crate::model::Normalised::of(
                &Fingerprint([content; 32]),
                Some(Fingerprint([content; 32])),
            ),
        }
    }

    fn side(messages: Vec<MessageMeta>, evidence: Evidence) -> Option<SideListing> {
        Some(SideListing {
            wire_name: "INBOX".into(),
            status: MailboxStatus {
                uidvalidity: 1,
                ..Default::default()
            },
            messages,
            evidence,
            path: ListingPath {
                path: "full".into(),
                reason: "test".into(),
            },
            can_uid_expunge: true,
            ..Default::default()
        })
    }

    /// `n` messages paired 1↔1 … n↔n with agreed flags `base`.
    fn paired(n: u8, a: &str, b: &str, base: &str, evidence: [Evidence; 2]) -> MailboxInput {
        let [ea, eb] = evidence;
        MailboxInput {
            name: "INBOX".into(),
            sides: [
                side((1..=n).map(|i| msg(i as Uid, i, a)).collect(), ea),
                side((1..=n).map(|i| msg(i as Uid, i, b)).collect(), eb),
            ],
            base: MailboxBase {
                uidvalidity: [Some(1), Some(1)],
                pairs: (1..=n)
                    .map(|i| BasePair {
                        unconfirmed: None,
                        uid: [i as Uid, i as Uid],
                        fingerprint: Fingerprint([i; 32]),
                        flags: Some(FlagSet::from_wire(base.split_whitespace())),
                        level: PairLevel::Exact,
                        fingerprint_b: None,
                    })
                    .collect(),
                ..Default::default()
            },
        }
    }

    fn plan(input: &MailboxInput, policy: Policy) -> MailboxPlan {
        let naming = crate::reconcile::mailboxes::Naming {
            delimiters: [Some('/'), Some('/')],
            ..Default::default()
        };
        reconcile_mailbox(input, &naming, &policy)
    }

    #[test]
    fn lost_flags_on_most_messages_are_withheld_not_propagated() {
        let input = paired(
            30,
            "",
            "\\Seen",
            "\\Seen",
            [Evidence::Healthy, Evidence::Healthy],
        );
        let p = plan(&input, Policy::default());
        assert!(p.flag_changes.is_empty(), "{:?}", p.flag_changes);
        assert_eq!(p.withheld_flags.len(), 1);
        assert_eq!(
            (p.withheld_flags[0].side, p.withheld_flags[0].count),
            (Side::A, 30)
        );
        // The operator confirms by raising the guard: the removals go through.
        let confirmed = Policy {
            max_delete: crate::model::MaxDelete::Percent(100),
            ..Policy::default()
        };
        let p = plan(&input, confirmed);
        assert_eq!(p.flag_changes.len(), 30);
        assert!(p
            .flag_changes
            .iter()
            .all(|c| c.side == Side::B && c.delta.remove.len() == 1));
    }

    #[test]
    fn a_few_flag_removals_pass_the_guard() {
        let input = paired(
            5,
            "",
            "\\Seen",
            "\\Seen",
            [Evidence::Healthy, Evidence::Healthy],
        );
        let p = plan(&input, Policy::default());
        assert!(p.withheld_flags.is_empty());
        assert_eq!(p.flag_changes.len(), 5);
    }

    /// `--restored b` before any snapshot: A's flags win on every pair
    /// found by content, but `\\Deleted` stays only where both have it.
    #[test]
    fn restored_without_snapshot_lets_the_healthy_flags_win_but_deleted_needs_both() {
        let input = MailboxInput {
            name: "INBOX".into(),
            sides: [
                side(
                    vec![
                        msg(1, 1, "\\Seen \\Deleted"),
                        msg(2, 2, "\\Deleted"),
                        msg(3, 3, "\\Flagged"),
                    ],
                    Evidence::Healthy,
                ),
                side(
                    vec![
                        msg(7, 1, "\\Seen"),
                        msg(8, 2, "\\Deleted"),
                        msg(9, 3, "\\Seen"),
                    ],
                    Evidence::Restored("--restored b".into()),
                ),
            ],
            base: MailboxBase::default(),
        };
        let p = plan(&input, Policy::default());
        let change = |side: Side, uid: Uid| {
            p.flag_changes
                .iter()
                .find(|c| c.side == side && c.pair[side.index()] == uid)
                .map(|c| (c.delta.add.to_string(), c.delta.remove.to_string()))
        };
        assert_eq!(
            change(Side::A, 1),
            Some(("()".into(), "(\\Deleted)".into()))
        );
        assert_eq!(change(Side::B, 8), None);
        assert_eq!(change(Side::A, 2), None);
        assert_eq!(
            change(Side::B, 9),
            Some(("(\\Flagged)".into(), "(\\Seen)".into()))
        );
        assert_eq!(p.flag_changes.len(), 2, "{:?}", p.flag_changes);
        assert!(p.copies.is_empty() && p.expunges.is_empty());
    }

    #[test]
    fn restored_side_flags_lose_and_tombstoned_mail_is_expunged_there() {
        let mut input = paired(
            3,
            "\\Seen",
            "",
            "",
            [Evidence::Healthy, Evidence::Restored("test".into())],
        );
        // B, restored, still holds content 9 whose expunge was proven earlier,
        // and content 8 nobody knows.
        let b = input.sides[1].as_mut().unwrap();
        b.messages.push(msg(9, 9, ""));
        b.messages.push(msg(8, 8, ""));
        input.base.tombstones.insert(Fingerprint([9; 32]));
        let p = plan(&input, Policy::default());
        assert_eq!(p.flag_changes.len(), 3);
        assert!(p
            .flag_changes
            .iter()
            .all(|c| c.side == Side::B && c.delta.add.len() == 1));
        assert_eq!(p.expunges.len(), 1);
        assert_eq!((p.expunges[0].side, p.expunges[0].uid), (Side::B, 9));
        assert_eq!(p.copies.len(), 1);
        assert_eq!((p.copies[0].from, p.copies[0].uid), (Side::B, 8));
        let off = plan(
            &input,
            Policy {
                tombstones: false,
                ..Policy::default()
            },
        );
        assert!(off.expunges.is_empty());
        assert_eq!(off.copies.len(), 2);
    }

    /// I15: B rewrote the copies imapmend made (content 5 on A, 6 on B,
    /// in a way no normalisation undoes), twice in one mailbox; one was
    /// expunged since B's backup (the tombstone holds both contents). B,
    /// put back, is linked by content: the pair's recorded content on B
    /// finds the rewritten copy, the tombstone the other. Nothing is
    /// copied either way; without the recorded content B's two would be
    /// copied to A and A's message back to B.
    #[test]
    fn i15_a_restored_target_relinks_its_rewritten_copies_by_the_recorded_content() {
        let mut input = paired(
            1,
            "",
            "",
            "",
            [Evidence::Healthy, Evidence::Restored("test".into())],
        );
        let unnormalised = |uid: Uid, content: u8| MessageMeta {
            normalised: crate::model::Normalised::UNKNOWN,
            ..msg(uid, content, "")
        };
        input.sides[0].as_mut().unwrap().messages = vec![unnormalised(1, 5)];
        input.sides[1].as_mut().unwrap().messages = vec![unnormalised(1, 6), unnormalised(2, 6)];
        let pair = &mut input.base.pairs[0];
        (pair.fingerprint, pair.fingerprint_b) = (Fingerprint([5; 32]), Some(Fingerprint([6; 32])));
        input.base.tombstones = [Fingerprint([5; 32]), Fingerprint([6; 32])].into();
        let p = plan(&input, Policy::default());
        assert!(p.copies.is_empty(), "{:?}", p.copies);
        let expunged: Vec<_> = p.expunges.iter().map(|e| (e.side, e.reason)).collect();
        assert_eq!(expunged, [(Side::B, ExpungeReason::Tombstone)]);
        assert_eq!(p.pairs.len(), 1);
        assert_eq!(
            p.pairs[0].fingerprint_b,
            Some(Box::new(Fingerprint([6; 32])))
        );
        // As recorded before: the source's content on both sides, in the
        // pair and so in the tombstone.
        input.base.pairs[0].fingerprint_b = None;
        input.base.tombstones = [Fingerprint([5; 32])].into();
        let before = plan(&input, Policy::default());
        assert_eq!(before.copies.len(), 3, "{:?}", before.copies);
    }

    /// A re-linked by content (UIDVALIDITY changed) holds one copy of a
    /// content the snapshot paired twice: once with a partner on B that is
    /// gone now, once as a copy to B whose receipt was never confirmed. The
    /// copy left may be either; expunging it could lose the one whose copy
    /// to B was lost, so it is copied again instead. With both copies
    /// listed, the gone partner's deletion is carried as before.
    #[test]
    fn a_contended_content_relinked_after_uidvalidity_proves_no_expunge() {
        let contended = |copies_on_a: Uid| {
            let mut input = paired(
                0,
                "",
                "",
                "",
                [Evidence::UidvalidityChanged, Evidence::Healthy],
            );
            let a = input.sides[0].as_mut().unwrap();
            a.status.uidvalidity = 2;
            a.messages = (1..=copies_on_a).map(|uid| msg(uid, 7, "")).collect();
            input.base.pairs = [(1, None), (2, Some(Side::B))]
                .map(|(uid, unconfirmed)| BasePair {
                    uid: [uid, uid],
                    fingerprint: Fingerprint([7; 32]),
                    flags: Some(FlagSet::default()),
                    unconfirmed,
                    level: PairLevel::Exact,
                    fingerprint_b: None,
                })
                .into();
            plan(&input, Policy::default())
        };
        let one = contended(1);
        assert!(
            one.expunges.is_empty() && one.withheld.is_empty(),
            "{one:#?}"
        );
        let copied: Vec<_> = one.copies.iter().map(|c| (c.from, c.uid)).collect();
        assert_eq!(copied, [(Side::A, 1)]);
        let both = contended(2);
        let expunged: Vec<_> = both.expunges.iter().map(|e| (e.side, e.reason)).collect();
        assert_eq!(expunged, [(Side::A, ExpungeReason::Proven)], "{both:#?}");
        assert_eq!(both.copies.len(), 1, "{both:#?}");
    }

    #[test]
    fn verify_replaces_a_message_damaged_in_place_from_its_partner() {
        let mut input = paired(
            3,
            "\\Seen",
            "\\Seen",
            "\\Seen",
            [Evidence::Healthy, Evidence::Healthy],
        );
        let b = input.sides[1].as_mut().unwrap();
        let normalised = b.messages[1].normalised();
        b.messages[1].set_fingerprints(Fingerprint([77; 32]), normalised);
        b.damaged.insert(2);
        let p = plan(&input, Policy::default());
        assert_eq!(p.expunges.len(), 1);
        assert_eq!((p.expunges[0].side, p.expunges[0].uid), (Side::B, 2));
        assert_eq!(p.copies.len(), 1);
        assert_eq!(
            (p.copies[0].from, p.copies[0].uid, &p.copies[0].flags),
            (Side::A, 2, &FlagSet::from_wire(["\\Seen"]))
        );
        assert_eq!(p.pairs.len(), 2);
    }

    /// A body the server would not deliver (`BODY[] NIL`, or a message that
    /// kills the connection) is replaced from a partner that reads well;
    /// unreadable on both sides, it is only reported.
    #[test]
    fn verify_replaces_an_unreadable_message_from_a_readable_partner() {
        let mut input = paired(3, "", "", "", [Evidence::Healthy, Evidence::Healthy]);
        input.sides[1].as_mut().unwrap().unreadable.push(3);
        let p = plan(&input, Policy::default());
        assert_eq!(
            p.expunges
                .iter()
                .map(|e| (e.side, e.uid))
                .collect::<Vec<_>>(),
            vec![(Side::B, 3)]
        );
        assert_eq!(
            p.copies.iter().map(|c| (c.from, c.uid)).collect::<Vec<_>>(),
            vec![(Side::A, 3)]
        );
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("UID 3 on B cannot be read")));
        input.sides[0].as_mut().unwrap().unreadable.push(3);
        let both = plan(&input, Policy::default());
        assert!(both.expunges.is_empty() && both.copies.is_empty());
    }

    #[test]
    fn e11_emptied_mailbox_withholds_every_deletion() {
        let mut input = paired(40, "", "", "", [Evidence::Healthy, Evidence::Healthy]);
        input.sides[0].as_mut().unwrap().messages.clear();
        let p = plan(&input, Policy::default());
        assert!(p.expunges.is_empty());
        assert_eq!(p.withheld.len(), 40);
        assert!(
            p.copies.is_empty(),
            "withheld deletions must not be copied back"
        );
    }

    /// Five pairs 1↔1 … 5↔5; pair 3 a receipt on B never confirmed.
    fn with_receipt_on_b() -> MailboxInput {
        let mut input = paired(5, "", "", "", [Evidence::Healthy, Evidence::Healthy]);
        input.base.pairs[2].unconfirmed = Some(Side::B);
        input
    }

    #[test]
    fn e14_a_receipt_never_listed_is_copied_again_and_nothing_is_deleted() {
        // B named UID 3 in APPENDUID but never shows it (Gmail dropped the copy).
        let mut input = with_receipt_on_b();
        input.sides[1]
            .as_mut()
            .unwrap()
            .messages
            .retain(|m| m.uid != 3);
        let p = plan(&input, Policy::default());
        assert!(p.expunges.is_empty() && p.withheld.is_empty(), "{p:#?}");
        let copies: Vec<_> = p.copies.iter().map(|c| (c.from, c.uid)).collect();
        assert_eq!(copies, [(Side::A, 3)]);
        assert_eq!(p.pairs.len(), 4);
        assert!(
            p.notes.iter().any(|n| n.contains("copy was lost")),
            "{:?}",
            p.notes
        );
        // The same with other content under that UID: not the copy sent.
        let mut input = with_receipt_on_b();
        let other = &mut input.sides[1].as_mut().unwrap().messages[2];
        other.set_fingerprints(Fingerprint([9; 32]), Some(Fingerprint([9; 32])));
        let p = plan(&input, Policy::default());
        assert!(p.expunges.is_empty() && p.withheld.is_empty(), "{p:#?}");
        assert_eq!(
            p.copies.iter().map(|c| (c.from, c.uid)).collect::<Vec<_>>(),
            [(Side::A, 3), (Side::B, 3)]
        );
    }

    #[test]
    fn e14_a_receipt_listed_now_is_confirmed_and_proves_its_partners_expunge() {
        // Both listed: an ordinary pair, which the rebase records confirmed.
        let p = plan(&with_receipt_on_b(), Policy::default());
        assert!(!p.has_actions(), "{p:#?}");
        assert_eq!(p.pairs.len(), 5);
        // A expunged UID 3 while B lists the receipt's UID with the content
        // sent: the listing confirms it, so A's absence is a proven expunge.
        let mut input = with_receipt_on_b();
        input.sides[0]
            .as_mut()
            .unwrap()
            .messages
            .retain(|m| m.uid != 3);
        let p = plan(&input, Policy::default());
        let expunged: Vec<_> = p
            .expunges
            .iter()
            .map(|e| (e.side, e.uid, e.reason))
            .collect();
        assert_eq!(expunged, [(Side::B, 3, ExpungeReason::Proven)]);
        assert!(p.copies.is_empty());
    }
}
