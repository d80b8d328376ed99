//! The subset path against the full listing: from a mailbox settled at
//! its mark, random changes on either side (flags, expunges, new mail,
//! tombstones), the input holding only what the change history shows and
//! its pairs' partners (`MailboxBase::subset_of`, the shape
//! `gather::subset` builds) plans what the full listing plans, less the
//! pairs left untouched, and `check` gives the same verdict.

use super::*;
use std::collections::BTreeSet;

/// What happens to one message of the settled mailbox.
#[derive(Debug, Clone)]
enum Change {
    None,
    Flags(Side, FlagSet),
    BothFlags(FlagSet, FlagSet),
    Expunged(Side),
    ExpungedBoth,
    ExpungedFlagged(Side, FlagSet),
}

fn change() -> impl Strategy<Value = Change> {
    let side = || prop_oneof![Just(Side::A), Just(Side::B)];
    prop_oneof![
        6 => Just(Change::None),
        3 => (side(), flag_set()).prop_map(|(s, f)| Change::Flags(s, f)),
        1 => (flag_set(), flag_set()).prop_map(|(a, b)| Change::BothFlags(a, b)),
        2 => side().prop_map(Change::Expunged),
        1 => Just(Change::ExpungedBoth),
        1 => (side(), flag_set()).prop_map(|(s, f)| Change::ExpungedFlagged(s, f)),
    ]
}

/// A settled mailbox and changes since its mark, as (full input, the
/// UIDs each side's history shows: changed or new, and vanished).
type Changed = (MailboxInput, [BTreeSet<u32>; 2]);

prop_compose! {
    fn settled_then_changed()(
        // (content, flags, the pair is normalised: B holds a rewritten copy)
        settled in proptest::collection::vec((0u8..5, flag_set(), proptest::bool::weighted(0.2)), 0..9),
        changes in proptest::collection::vec(change(), 9),
        new_a in proptest::collection::vec((0u8..15, flag_set()), 0..3),
        new_b in proptest::collection::vec((0u8..15, flag_set()), 0..3),
        uidplus in (any::<bool>(), any::<bool>()),
        tombstones in proptest::collection::btree_set(0u8..15, 0..3),
    ) -> Changed {
        let st = |uidnext: u32| MailboxStatus {
            uidvalidity: 1,
            uidnext,
            exists: 0,
            highestmodseq: Some(1),
            permanent_flags: status(1, true).permanent_flags,
        };
        let meta = |uid: u32, c: u8, flags: &FlagSet| MessageMeta {
            uid,
            size: 100 + u32::from(c),
            internal_date: InternalDate::new(0, 0),
            flags: flags.clone(),
            fingerprint: Fingerprint([c; 32]),
            normalised: crate::model::Normalised::of(&Fingerprint([c; 32]), Some(normalised_of(Fingerprint([c; 32])))),
        };
        let (mut a, mut b, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
        let mut touched: [BTreeSet<u32>; 2] = Default::default();
        for (i, ((c, flags, loose), change)) in settled.iter().zip(&changes).enumerate() {
            // B's UIDs are not A's, so a side mixed up shows.
            let uid = [1 + i as u32, 21 + i as u32];
            let cb = if *loose { c + 5 } else { *c };
            pairs.push(BasePair {
                uid,
                fingerprint: Fingerprint([*c; 32]),
                flags: Some(flags.clone()),
                unconfirmed: None,
                fingerprint_b: loose.then_some(Fingerprint([cb; 32])),
                level: if *loose { PairLevel::Normalised } else { PairLevel::Exact },
            });
            let mut now = [Some(flags.clone()), Some(flags.clone())];
            match change {
                Change::None => {}
                Change::Flags(s, f) => now[s.index()] = Some(f.clone()),
                Change::BothFlags(fa, fb) => now = [Some(fa.clone()), Some(fb.clone())],
                Change::Expunged(s) => now[s.index()] = None,
                Change::ExpungedBoth => now = [None, None],
                Change::ExpungedFlagged(s, f) => {
                    now[s.index()] = None;
                    now[s.other().index()] = Some(f.clone());
                }
            }
            if !matches!(change, Change::None) {
                for side in Side::BOTH {
                    let moved = match change {
                        Change::Flags(s, _) | Change::Expunged(s) => *s == side,
                        _ => true,
                    };
                    if moved {
                        touched[side.index()].insert(uid[side.index()]);
                    }
                }
            }
            if let Some(f) = &now[0] {
                a.push(meta(uid[0], *c, f));
            }
            if let Some(f) = &now[1] {
                b.push(meta(uid[1], cb, f));
            }
        }
        for (side, new, first) in [(&mut a, &new_a, 100u32), (&mut b, &new_b, 200)] {
            for (j, (c, flags)) in new.iter().enumerate() {
                side.push(meta(first + j as u32, *c, flags));
            }
        }
        touched[0].extend((0..new_a.len() as u32).map(|j| 100 + j));
        touched[1].extend((0..new_b.len() as u32).map(|j| 200 + j));
        let side = |messages: Vec<MessageMeta>, uidnext: u32, uidplus: bool| {
            let mut status = st(uidnext);
            status.exists = messages.len() as u32;
            let mut l = listing(status, messages, Evidence::Healthy, uidplus);
            l.path.path = "history".into();
            l
        };
        let input = MailboxInput {
            name: "INBOX".into(),
            sides: [Some(side(a, 110, uidplus.0)), Some(side(b, 210, uidplus.1))],
            base: MailboxBase {
                uidvalidity: [Some(1), Some(1)],
                pairs,
                tombstones: tombstones.into_iter().map(|c| Fingerprint([c; 32])).collect(),
                ..MailboxBase::default()
            },
        };
        (input, touched)
    }
}

/// The input `gather::subset` builds from the history `touched` shows:
/// the pairs touching those UIDs, each side's changed messages and the
/// partners of those pairs still there, every status as the server says.
fn subset_form(full: &MailboxInput, touched: &[BTreeSet<u32>; 2]) -> MailboxInput {
    let mut out = full.clone();
    let touches = |uid: &[u32; 2]| (0..2).any(|i| touched[i].contains(&uid[i]));
    out.base.pairs.retain(|p| touches(&p.uid));
    out.base.subset_of = Some(full.base.pairs.len());
    for (i, side) in out.sides.iter_mut().enumerate() {
        let Some(side) = side else { continue };
        let partners: BTreeSet<u32> = out.base.pairs.iter().map(|p| p.uid[i]).collect();
        side.messages
            .retain(|m| touched[i].contains(&m.uid) || partners.contains(&m.uid));
    }
    out
}

/// The full plan without the pairs the subset leaves untouched.
fn restricted(mut plan: MailboxPlan, touched: &[BTreeSet<u32>; 2]) -> MailboxPlan {
    plan.pairs
        .retain(|p| (0..2).any(|i| touched[i].contains(&p.uid[i])));
    plan
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn the_changed_subset_plans_what_the_full_listing_plans(
        (full, touched) in settled_then_changed(),
        policy in policy(),
    ) {
        // `--restored` reads every mailbox in full (`Reading::skip_settled`),
        // and so does `--identity headers` (`Reading::subset`): a header
        // match needs every candidate listed, which the subset is not.
        let policy = Policy { restored: None, identity: Identity::Content, ..policy };
        let mut full = full;
        for side in full.sides.iter_mut().flatten() {
            side.headers.clear();
        }
        let subset = subset_form(&full, &touched);
        let whole = plan_of(&full, &policy);
        let short = plan_of(&subset, &policy);
        prop_assert_eq!(&short, &restricted(whole.clone(), &touched));
        prop_assert_eq!(
            settled::settled(&subset, &short),
            settled::settled(&full, &whole)
        );
        let (verdict, expected) = (agreement::compare(&subset), agreement::compare(&full));
        prop_assert_eq!(verdict, expected);
    }
}
