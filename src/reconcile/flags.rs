//! The flag merge: deltas against the agreed base, never whole states.
//!
//! With a base, per flag only one side changed it or both made the same
//! change, so there is no conflict: `(base ∪ addedA ∪ addedB) − removedA −
//! removedB`. Without a base (first sync, or a pair found by content), the
//! flags are united, except `\Deleted`, which is kept only if both sides have
//! it; or `prefer` makes one side win. Flags a side cannot store
//! (PERMANENTFLAGS) are invisible on that side: their absence there is never a
//! removal and they are never sent to it.

use crate::model::{Flag, FlagSet, MailboxStatus, Side};

/// What one side says about one paired message.
#[derive(Debug, Clone, Copy)]
pub struct SideFlags<'a> {
    pub flags: &'a FlagSet,
    /// The side's mailbox status, for PERMANENTFLAGS.
    pub status: &'a MailboxStatus,
    /// A suspect side (its UIDVALIDITY changed, so its flags cannot prove a
    /// removal): additions are taken, removals ignored.
    pub suspect: bool,
}

/// The flags both sides should hold after the merge.
pub fn merge(base: Option<&FlagSet>, sides: [SideFlags<'_>; 2], prefer: Option<Side>) -> FlagSet {
    match base {
        Some(base) => merge_with_base(base, sides),
        None => merge_without_base(sides, prefer),
    }
}

fn merge_with_base(base: &FlagSet, sides: [SideFlags<'_>; 2]) -> FlagSet {
    let mut result = base.clone();
    for side in &sides {
        result = result.union(&side.flags.minus(base));
    }
    for side in &sides {
        if side.suspect {
            continue;
        }
        let removed = storable(&base.minus(side.flags), side.status);
        result = result.minus(&removed);
    }
    result
}

fn merge_without_base(sides: [SideFlags<'_>; 2], prefer: Option<Side>) -> FlagSet {
    if let Some(winner) = prefer {
        let w = sides[winner.index()];
        let other = sides[winner.other().index()];
        // Flags the winner cannot hold are not its choice; keep the loser's.
        let unstorable_on_winner = other.flags.minus(&storable(other.flags, w.status));
        return w.flags.union(&unstorable_on_winner);
    }
    deleted_only_if_on_both(sides[0].flags.union(sides[1].flags), sides)
}

/// A first pairing never marks mail for deletion on its own: `\Deleted`
/// stays in `merged` only where both sides have it (or one cannot store it).
pub fn deleted_only_if_on_both(mut merged: FlagSet, sides: [SideFlags<'_>; 2]) -> FlagSet {
    let deleted = Flag::deleted();
    let deleted_on_both = sides
        .iter()
        .all(|s| s.flags.contains(&deleted) || !s.status.can_store(&deleted));
    if !deleted_on_both {
        merged.remove(&deleted);
    }
    merged
}

/// The part of `flags` this side can store.
pub fn storable(flags: &FlagSet, status: &MailboxStatus) -> FlagSet {
    flags
        .iter()
        .filter(|f| status.can_store(f))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(s: &str) -> FlagSet {
        FlagSet::from_wire(s.split_whitespace())
    }

    fn side<'a>(flags: &'a FlagSet, status: &'a MailboxStatus) -> SideFlags<'a> {
        SideFlags {
            flags,
            status,
            suspect: false,
        }
    }

    #[test]
    fn f5_seed_example_flags_merge() {
        let st = MailboxStatus::default();
        let (base, a, b) = (fs("\\Flagged"), fs("\\Answered \\Flagged"), fs("\\Seen"));
        let got = merge(Some(&base), [side(&a, &st), side(&b, &st)], None);
        assert_eq!(got, fs("\\Answered \\Seen"));
    }

    #[test]
    fn f6_removal_on_one_side_addition_on_the_other() {
        let st = MailboxStatus::default();
        let (base, a, b) = (fs("\\Seen"), fs(""), fs("\\Seen \\Answered"));
        assert_eq!(
            merge(Some(&base), [side(&a, &st), side(&b, &st)], None),
            fs("\\Answered")
        );
    }

    #[test]
    fn f7_no_base_unites_but_keeps_deleted_only_if_both() {
        let st = MailboxStatus::default();
        let (a, b) = (fs("\\Seen \\Deleted"), fs("\\Flagged"));
        assert_eq!(
            merge(None, [side(&a, &st), side(&b, &st)], None),
            fs("\\Seen \\Flagged")
        );
        assert_eq!(
            merge(None, [side(&a, &st), side(&b, &st)], Some(Side::B)),
            fs("\\Flagged")
        );
        let both = fs("\\Deleted");
        assert_eq!(
            merge(None, [side(&both, &st), side(&both, &st)], None),
            fs("\\Deleted")
        );
    }

    #[test]
    fn suspect_side_adds_but_never_removes() {
        let st = MailboxStatus::default();
        let (base, a, b) = (
            fs("\\Seen \\Flagged"),
            fs("\\Answered"),
            fs("\\Seen \\Flagged"),
        );
        let a_side = SideFlags {
            flags: &a,
            status: &st,
            suspect: true,
        };
        assert_eq!(
            merge(Some(&base), [a_side, side(&b, &st)], None),
            fs("\\Seen \\Flagged \\Answered")
        );
    }

    #[test]
    fn f10_absent_unstorable_keyword_is_not_a_removal() {
        let open = MailboxStatus::default();
        let closed = MailboxStatus {
            permanent_flags: Some(vec!["\\Seen".into()]),
            ..Default::default()
        };
        let (base, a, b) = (fs("\\Seen NonJunk"), fs("\\Seen NonJunk"), fs("\\Seen"));
        assert_eq!(
            merge(Some(&base), [side(&a, &open), side(&b, &closed)], None),
            fs("\\Seen NonJunk")
        );
    }
}
