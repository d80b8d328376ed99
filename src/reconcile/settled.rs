//! Settled mailboxes: when a mailbox's plan shows it settled — both sides
//! listed and healthy, every message of each side paired, each pair's
//! flags agreed and recorded, nothing to do and nothing to report — so
//! that while neither side changes, a later run need not read its
//! messages at all ([`MailboxBase::settled`]).
//!
//! The input of such a mailbox carries no messages and no pairs; the core
//! plans nothing for it and `check` counts it as agreeing. That this is
//! the plan the full listing would give, under any policy, is the property
//! test `settled_plans_nothing_under_any_policy` (`proptests`).

use super::{MailboxBase, MailboxInput};
use crate::plan::MailboxPlan;

/// Whether `plan`, computed from the full `input`, leaves the mailbox
/// settled (see the module's doc). A settled input stays settled.
pub fn settled(input: &MailboxInput, plan: &MailboxPlan) -> bool {
    if input.base.settled {
        return true;
    }
    let [Some(a), Some(b)] = &input.sides else {
        return false;
    };
    let listed_whole = [a, b].iter().all(|s| {
        s.evidence.is_healthy()
            && s.status.highestmodseq.is_some()
            && s.damaged.is_empty()
            && s.unreadable.is_empty()
            && s.unread.is_empty()
    });
    let nothing_to_do = plan.create.is_none()
        && plan.delete.is_none()
        && plan.rename.is_none()
        && plan.copies.is_empty()
        && plan.skipped.is_empty()
        && plan.flag_changes.is_empty()
        && plan.expunges.is_empty()
        && plan.withheld.is_empty()
        && plan.withheld_flags.is_empty()
        && plan.conflicts.is_empty()
        && plan.notes.is_empty()
        && plan.problems.is_empty();
    let base = &input.base;
    let all_paired = plan.pairs.len() == a.messages.len() && plan.pairs.len() == b.messages.len();
    let recorded = plan
        .pairs
        .iter()
        .all(|p| p.base_before.as_ref() == Some(&p.agreed));
    listed_whole
        && nothing_to_do
        && all_paired
        && recorded
        && base.pending_expunge.iter().all(|s| s.is_empty())
        && same_pairs(base, plan)
        && super::agreement::compare(input).agrees()
}

/// The plan's pairs are the base's, as recorded (no receipt to confirm).
fn same_pairs(base: &MailboxBase, plan: &MailboxPlan) -> bool {
    if base.pairs.len() != plan.pairs.len() || base.pairs.iter().any(|p| p.unconfirmed.is_some()) {
        return false;
    }
    let mut old: Vec<_> = base
        .pairs
        .iter()
        .map(|p| {
            (
                p.uid,
                p.fingerprint,
                p.flags.as_ref(),
                p.level,
                p.fingerprint_b,
            )
        })
        .collect();
    let mut new: Vec<_> = plan
        .pairs
        .iter()
        .map(|p| {
            (
                p.uid,
                p.fingerprint,
                p.base_before.as_ref(),
                p.level,
                p.fingerprint_b.as_deref().copied(),
            )
        })
        .collect();
    old.sort_unstable_by_key(|p| p.0);
    new.sort_unstable_by_key(|p| p.0);
    old == new
}

/// The input a settled mailbox gives a later run: no messages, no pairs,
/// the sides' statuses and paths kept — the shape `gather::side::settled`
/// builds without reading the mailbox, for the property test.
#[cfg(test)]
pub fn unread_form(input: &MailboxInput) -> MailboxInput {
    let mut out = input.clone();
    for side in out.sides.iter_mut().flatten() {
        side.messages = Vec::new();
        side.headers.clear();
    }
    out.base = MailboxBase {
        uidvalidity: input.base.uidvalidity,
        settled: true,
        ..MailboxBase::default()
    };
    out
}
