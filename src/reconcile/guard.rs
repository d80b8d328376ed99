//! The mass-deletion guard (E11) over one mailbox's planned expunges,
//! scrub damage found across runs included: more than the guard allows on
//! a side and all of them are withheld, and said so.

use super::Policy;
use crate::model::Side;
use crate::plan::{Expunge, ExpungeReason, MailboxPlan};

/// E11: per side, more deletions than `max(10, P% of the mailbox's pairs)`
/// (or `--max-delete N`) are all withheld, and said so.
///
/// Replacing damage counts the damage scrubs found in recent runs too
/// (`recent_damage`, this run's included): a side going bad a slice at a
/// time has all its replacements withheld once it is over the guard,
/// rather than replaced piece by piece.
pub(super) fn apply_guard(
    plan: &mut MailboxPlan,
    base_pairs: usize,
    recent_damage: [u64; 2],
    policy: &Policy,
) {
    let limit = policy.max_delete.limit(base_pairs as u64);
    for side in Side::BOTH {
        let damaged = |e: &Expunge| e.side == side && e.reason == ExpungeReason::Damaged;
        let now = plan.expunges.iter().filter(|e| damaged(e)).count() as u64;
        let found = recent_damage[side.index()].max(now);
        if now > 0 && found > limit {
            let (held, kept): (Vec<Expunge>, Vec<Expunge>) = std::mem::take(&mut plan.expunges)
                .into_iter()
                .partition(damaged);
            plan.expunges = kept;
            plan.withheld.extend(held);
            plan.notes.push(format!(
                "WITHHELD: {found} messages on {side} were found damaged by recent scrubs, more than the guard \
                 ({limit} allowed for {base_pairs} pairs, --max-delete {}); {side} looks like failing storage: \
                 none of its {now} damaged messages was replaced; rerun with a higher --max-delete to replace them",
                policy.max_delete
            ));
        }
    }
    for side in Side::BOTH {
        let count = plan.expunges.iter().filter(|e| e.side == side).count() as u64;
        if count > limit {
            let (held, kept): (Vec<Expunge>, Vec<Expunge>) = std::mem::take(&mut plan.expunges)
                .into_iter()
                .partition(|e| e.side == side);
            plan.expunges = kept;
            plan.withheld.extend(held);
            plan.notes.push(format!(
                "WITHHELD: {count} deletions on {side} exceed the guard ({limit} allowed for {base_pairs} pairs, \
                 --max-delete {}); nothing was deleted there; rerun with a higher --max-delete if they are intended",
                policy.max_delete
            ));
        }
    }
}
