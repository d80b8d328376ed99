//! Property tests of the pure core: idempotence (apply the Plan to a model of
//! both servers, reconcile again: nothing to do, pairs unchanged) and
//! symmetry (swapping A and B mirrors the Plan).

use super::*;
use crate::model::{Fingerprint, FlagSet, InternalDate, MailboxStatus, MessageMeta, Side};
use crate::plan::MailboxPlan;
use proptest::prelude::*;

const FLAGS: [&str; 6] = [
    "\\Seen",
    "\\Flagged",
    "\\Deleted",
    "\\Answered",
    "$Junk",
    "Work",
];

fn flag_set() -> impl Strategy<Value = FlagSet> {
    proptest::bits::u8::between(0, FLAGS.len()).prop_map(|bits| {
        FlagSet::from_wire(
            (0..FLAGS.len())
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| FLAGS[i]),
        )
    })
}

/// (content id, flags, date) per message; UIDs are assigned in order.
fn side_messages() -> impl Strategy<Value = Vec<(u8, FlagSet, i64)>> {
    proptest::collection::vec((0u8..5, flag_set(), 0i64..3), 0..7)
}

/// A side's messages; a side that cannot store keywords holds none.
fn build(msgs: &[(u8, FlagSet, i64)], status: &MailboxStatus) -> Vec<MessageMeta> {
    msgs.iter()
        .enumerate()
        .map(|(i, (c, flags, date))| MessageMeta {
            uid: 1 + i as u32,
            size: 100 + *c as u32,
            internal_date: InternalDate {
                unix: *date,
                offset_minutes: 0,
            },
            flags: flags::storable(flags, status),
            fingerprint: Fingerprint([*c; 32]),
        })
        .collect()
}

fn status(uidvalidity: u32, keywords: bool) -> MailboxStatus {
    let mut permanent_flags: Vec<String> = FLAGS[..4].iter().map(|s| s.to_string()).collect();
    if keywords {
        permanent_flags.push("\\*".into());
    }
    MailboxStatus {
        uidvalidity,
        uidnext: 1000,
        exists: 0,
        highestmodseq: None,
        permanent_flags,
    }
}

prop_compose! {
    fn world()(
        a in side_messages(),
        b in side_messages(),
        pair_picks in proptest::collection::vec((any::<proptest::sample::Index>(), any::<proptest::sample::Index>(), proptest::option::of(flag_set())), 0..5),
        uv_changed in (any::<bool>(), any::<bool>()),
        keywords in (any::<bool>(), any::<bool>()),
        b_missing in proptest::bool::weighted(0.1),
    ) -> MailboxInput {
        let status_a = status(if uv_changed.0 { 2 } else { 1 }, keywords.0);
        let status_b = status(if uv_changed.1 { 2 } else { 1 }, keywords.1);
        let a = build(&a, &status_a);
        let b = build(&b, &status_b);
        // Base pairs between messages of equal content, each UID used once.
        let mut pairs: Vec<BasePair> = Vec::new();
        for (ia, ib, flags) in pair_picks {
            if a.is_empty() || b.is_empty() { break; }
            let ma = ia.get(&a);
            let mb = ib.get(&b);
            if ma.fingerprint != mb.fingerprint || pairs.iter().any(|p| p.uid[0] == ma.uid || p.uid[1] == mb.uid) {
                continue;
            }
            pairs.push(BasePair { uid: [ma.uid, mb.uid], fingerprint: ma.fingerprint, flags });
        }
        let sa = SideListing { wire_name: "INBOX".into(), status: status_a, messages: a };
        let sb = SideListing { wire_name: "INBOX".into(), status: status_b, messages: b };
        MailboxInput {
            name: "INBOX".into(),
            sides: [Some(sa), if b_missing { None } else { Some(sb) }],
            base: MailboxBase { uidvalidity: [Some(1), Some(1)], pairs },
        }
    }
}

/// Applies a mailbox plan to the model of both servers, as `apply` would,
/// and returns the state and base the next run starts from.
fn simulate(input: &MailboxInput, plan: &MailboxPlan) -> MailboxInput {
    let mut sides = input.sides.clone();
    for side in Side::BOTH {
        if plan.create == Some(side) {
            sides[side.index()] = Some(SideListing {
                wire_name: "INBOX".into(),
                status: status(9, true),
                messages: vec![],
            });
        }
    }
    for change in &plan.flag_changes {
        let side = sides[change.side.index()].as_mut().unwrap();
        let m = side
            .messages
            .iter_mut()
            .find(|m| m.uid == change.pair[change.side.index()])
            .unwrap();
        m.flags = m.flags.union(&change.delta.add).minus(&change.delta.remove);
    }
    let mut pairs: Vec<BasePair> = plan
        .pairs
        .iter()
        .map(|p| BasePair {
            uid: p.uid,
            fingerprint: p.fingerprint,
            flags: Some(p.agreed.clone()),
        })
        .collect();
    for copy in &plan.copies {
        let target = sides[copy.from.other().index()].as_mut().unwrap();
        let uid = target.messages.iter().map(|m| m.uid).max().unwrap_or(0) + 1;
        target.messages.push(MessageMeta {
            uid,
            size: copy.size,
            internal_date: copy.internal_date,
            flags: copy.flags.clone(),
            fingerprint: copy.fingerprint,
        });
        let mut pair = [copy.uid, uid];
        if copy.from == Side::B {
            pair.reverse();
        }
        pairs.push(BasePair {
            uid: pair,
            fingerprint: copy.fingerprint,
            flags: Some(copy.agreed.clone()),
        });
    }
    let uidvalidity = [0, 1].map(|i| sides[i].as_ref().map(|s| s.status.uidvalidity));
    MailboxInput {
        name: input.name.clone(),
        sides,
        base: MailboxBase { uidvalidity, pairs },
    }
}

fn mirror_input(input: &MailboxInput) -> MailboxInput {
    let [a, b] = input.sides.clone();
    let [ua, ub] = input.base.uidvalidity;
    MailboxInput {
        name: input.name.clone(),
        sides: [b, a],
        base: MailboxBase {
            uidvalidity: [ub, ua],
            pairs: input
                .base
                .pairs
                .iter()
                .map(|p| BasePair {
                    uid: [p.uid[1], p.uid[0]],
                    ..p.clone()
                })
                .collect(),
        },
    }
}

type Actions = (
    Vec<([u32; 2], FlagSet, Option<FlagSet>)>,
    Vec<(Side, u32, FlagSet)>,
    Vec<(Side, [u32; 2], crate::model::FlagDelta)>,
    Option<Side>,
);

/// The parts of a plan that must mirror exactly (texts name sides, so they
/// don't), seen from A, or from B when `mirror`.
fn actions(plan: &MailboxPlan, mirror: bool) -> Actions {
    let side = |s: Side| if mirror { s.other() } else { s };
    let uids = |u: [u32; 2]| if mirror { [u[1], u[0]] } else { u };
    let mut pairs: Vec<_> = plan
        .pairs
        .iter()
        .map(|p| (uids(p.uid), p.agreed.clone(), p.base_before.clone()))
        .collect();
    pairs.sort();
    let mut copies: Vec<_> = plan
        .copies
        .iter()
        .map(|c| (side(c.from), c.uid, c.flags.clone()))
        .collect();
    copies.sort();
    let mut changes: Vec<_> = plan
        .flag_changes
        .iter()
        .map(|c| (side(c.side), uids(c.pair), c.delta.clone()))
        .collect();
    changes.sort();
    (pairs, copies, changes, plan.create.map(side))
}

fn plan_of(input: &MailboxInput, policy: &Policy) -> MailboxPlan {
    messages::reconcile_mailbox(input, [Some('/'), Some('/')], policy)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn applying_the_plan_then_reconciling_again_is_a_no_op(input in world(), prefer in proptest::option::of(prop_oneof![Just(Side::A), Just(Side::B)])) {
        let policy = Policy { prefer };
        let first = plan_of(&input, &policy);
        let after = simulate(&input, &first);
        let second = plan_of(&after, &policy);
        prop_assert!(!second.has_actions(), "second plan still acts: {:?}", second);
        let mut recorded: Vec<_> = after.base.pairs.iter().map(|p| (p.uid, p.flags.clone().unwrap())).collect();
        recorded.sort();
        let mut again: Vec<_> = second.pairs.iter().map(|p| (p.uid, p.agreed.clone())).collect();
        again.sort();
        prop_assert_eq!(recorded, again);
        // Both sides now hold the same multiset of contents.
        let contents = |i: usize| {
            let mut v: Vec<_> = after.sides[i].as_ref().unwrap().messages.iter().map(|m| m.fingerprint).collect();
            v.sort();
            v
        };
        prop_assert_eq!(contents(0), contents(1));
    }

    #[test]
    fn swapping_a_and_b_mirrors_the_plan(input in world(), prefer in proptest::option::of(prop_oneof![Just(Side::A), Just(Side::B)])) {
        let plan = plan_of(&input, &Policy { prefer });
        let swapped = plan_of(&mirror_input(&input), &Policy { prefer: prefer.map(Side::other) });
        prop_assert_eq!(actions(&plan, true), actions(&swapped, false));
    }
}
