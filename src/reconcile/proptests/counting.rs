//! `check`'s count ([`agreement::compare`]: one sorted vector of the
//! messages compared) against the two maps it replaced, which held ~200
//! bytes a message: the same surplus in the same order, and the same
//! totals, on any world (pending expunges and sides that cannot store
//! keywords included; the header level, which runs after, left out).

use super::*;
use std::collections::BTreeMap;

/// The count as two maps did it: per (identity, storable flags) how many
/// on each side, per identity the first normalised fingerprint listed.
fn surplus_by_maps(
    input: &MailboxInput,
) -> (Vec<crate::reconcile::agreement::Surplus>, [usize; 2]) {
    let absent = MailboxStatus::default();
    let status = [0, 1].map(|i| input.sides[i].as_ref().map_or(&absent, |s| &s.status));
    let mut counts: BTreeMap<(Fingerprint, FlagSet), [usize; 2]> = BTreeMap::new();
    let mut normalised: BTreeMap<Fingerprint, Fingerprint> = BTreeMap::new();
    let mut totals = [0, 0];
    for (i, side) in input.sides.iter().enumerate() {
        let paired = crate::reconcile::agreement::pair_identities(input, i);
        for m in side.iter().flat_map(|s| &s.messages) {
            let deleted = m.flags.contains(&Flag::deleted());
            if input.base.pending_expunge[i].contains(&m.uid) && deleted {
                continue;
            }
            let comparable = flags::storable(&flags::storable(&m.flags, status[0]), status[1]);
            let identity = paired.get(&m.uid).copied().unwrap_or(m.fingerprint);
            counts.entry((identity, comparable)).or_default()[i] += 1;
            if let Some(n) = m.normalised() {
                normalised.entry(identity).or_insert(n);
            }
            totals[i] += 1;
        }
    }
    let mut surplus: Vec<crate::reconcile::agreement::Surplus> = (counts.into_iter())
        .filter(|(_, [a, b])| a != b)
        .map(
            |((fingerprint, flags), [a, b])| crate::reconcile::agreement::Surplus {
                side: if a > b { Side::A } else { Side::B },
                fingerprint,
                flags,
                count: a.abs_diff(b),
            },
        )
        .collect();
    let loose_key = |s: &crate::reconcile::agreement::Surplus| {
        Some((*normalised.get(&s.fingerprint)?, s.flags.clone()))
    };
    let mut loose: BTreeMap<(Fingerprint, FlagSet), [usize; 2]> = BTreeMap::new();
    for s in &surplus {
        if let Some(key) = loose_key(s) {
            loose.entry(key).or_default()[s.side.index()] += s.count;
        }
    }
    surplus.retain(|s| loose_key(s).is_none_or(|key| loose[&key][0] != loose[&key][1]));
    (surplus, totals)
}

proptest! {
    #[test]
    fn the_sorted_count_is_the_maps_count(
        mut input in world(),
        pending in proptest::collection::vec((any::<bool>(), any::<proptest::sample::Index>()), 0..4),
    ) {
        for side in input.sides.iter_mut().flatten() {
            side.headers.clear();
        }
        for (on_a, pick) in pending {
            let i = if on_a { 0 } else { 1 };
            let Some(side) = input.sides[i].as_ref() else { continue };
            if side.messages.is_empty() {
                continue;
            }
            let uid = pick.get(&side.messages).uid;
            input.base.pending_expunge[i].insert(uid);
        }
        let verdict = crate::reconcile::agreement::compare(&input);
        let (surplus, totals) = surplus_by_maps(&input);
        prop_assert_eq!(verdict.surplus, surplus);
        prop_assert_eq!(verdict.messages, totals);
    }
}
