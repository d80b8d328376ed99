//! Subscriptions (M12), reconciled three ways like flags: per mailbox, the
//! side that changed its subscription since the last agreed state wins; with
//! no agreed state the sides are united (subscribed if either is).
//!
//! Only mailboxes this run reconciles are considered — those listed on a
//! side or about to be created, and not refused, filtered out, deleted or
//! failing — so a subscription is never sent for a mailbox the other side
//! cannot have (servers such as Dovecot refuse to subscribe to a mailbox
//! that does not exist), and `--include`/`--exclude` cover subscriptions
//! too. With `--one-way` the target is made to match the source.

use super::Policy;
use crate::model::Side;
use crate::plan::{MailboxPlan, SubscriptionChange};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Both sides' subscriptions and the snapshot's agreed ones, by logical name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionInput {
    /// Per side, the logical names subscribed there; None when the side's
    /// subscriptions could not be listed (then nothing is changed).
    pub listed: [Option<BTreeSet<String>>; 2],
    /// The subscriptions last agreed: name → subscribed on both sides.
    pub base: BTreeMap<String, bool>,
}

/// What to change, and what is agreed once the changes are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPlan {
    pub changes: Vec<SubscriptionChange>,
    /// Every considered name with the state both sides have once the
    /// changes are made (see [`agreed`]).
    pub agreed: Vec<(String, bool)>,
}

/// The mailboxes these plans consider, by logical name, with their wire
/// name per side; none when a side's subscriptions were not listed.
fn considered<'p>(
    input: &SubscriptionInput,
    plans: &'p [MailboxPlan],
) -> impl Iterator<Item = (&'p MailboxPlan, [&'p str; 2])> {
    let listed = input.listed.iter().all(Option::is_some);
    plans.iter().filter(move |_| listed).filter_map(|mb| {
        let usable = mb.problems.is_empty() && mb.delete.is_none();
        let [Some(wire_a), Some(wire_b)] = [0, 1].map(|i| mb.wire[i].as_deref()) else {
            return None;
        };
        usable.then_some((mb, [wire_a, wire_b]))
    })
}

/// Every mailbox the plans consider, with the subscription both sides
/// hold once `changes` are made: what the snapshot records after a sync
/// (apply leaves out the names whose change failed). Derived from the
/// Plan rather than carried in it, so the Plan holds actions only.
pub fn agreed(
    input: &SubscriptionInput,
    plans: &[MailboxPlan],
    changes: &[SubscriptionChange],
) -> Vec<(String, bool)> {
    let changed: HashMap<&str, bool> = changes
        .iter()
        .map(|c| (c.name.as_str(), c.subscribe))
        .collect();
    considered(input, plans)
        .map(|(mb, _)| {
            // Without a change both sides already agree.
            let want = changed.get(mb.name.as_str()).copied().unwrap_or_else(|| {
                input.listed[0]
                    .as_ref()
                    .is_some_and(|a| a.contains(&mb.name))
            });
            (mb.name.clone(), want)
        })
        .collect()
}

/// Reconciles the subscriptions of the mailboxes these plans cover.
pub fn reconcile_subscriptions(
    input: &SubscriptionInput,
    plans: &[MailboxPlan],
    policy: &Policy,
) -> SubscriptionPlan {
    let mut out = SubscriptionPlan::default();
    let [Some(a), Some(b)] = &input.listed else {
        return out;
    };
    let listed = [a, b];
    for (mb, [wire_a, wire_b]) in considered(input, plans) {
        let now = [0, 1].map(|i| listed[i].contains(&mb.name));
        let want = match policy.one_way {
            Some(source) => now[source.index()],
            None if now[0] == now[1] => now[0],
            None => match input.base.get(&mb.name) {
                // The side that differs from the agreed state changed it.
                Some(&base) => now[0] != base && now[0] || now[1] != base && now[1],
                None => true,
            },
        };
        for side in Side::BOTH {
            if now[side.index()] != want {
                out.changes.push(SubscriptionChange {
                    name: mb.name.clone(),
                    side,
                    wire: [wire_a, wire_b][side.index()].to_string(),
                    subscribe: want,
                });
            }
        }
    }
    out.agreed = agreed(input, plans, &out.changes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Subscribed on A, on B, and as last agreed.
    type State = (bool, bool, Option<bool>);

    fn plan(name: &str) -> MailboxPlan {
        MailboxPlan {
            name: name.into(),
            wire: [Some(name.into()), Some(name.replace('/', "."))],
            ..MailboxPlan::default()
        }
    }

    fn input(a: &[&str], b: &[&str], base: &[(&str, bool)]) -> SubscriptionInput {
        let set = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        SubscriptionInput {
            listed: [set(a), set(b)],
            base: base.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        }
    }

    fn changes(p: &SubscriptionPlan) -> Vec<(&str, Side, bool)> {
        p.changes
            .iter()
            .map(|c| (c.name.as_str(), c.side, c.subscribe))
            .collect()
    }

    #[test]
    fn m12_subscriptions_merge_three_ways() {
        let plans = ["Foo", "Bar", "Baz", "Qux"].map(plan);
        let p = reconcile_subscriptions(
            &input(&["Foo", "Baz"], &["Qux"], &[("Baz", true), ("Qux", false)]),
            &plans,
            &Policy::default(),
        );
        // Foo: no base, united. Baz: unsubscribed on B since. Qux: subscribed on B since.
        assert_eq!(
            changes(&p),
            [
                ("Foo", Side::B, true),
                ("Baz", Side::A, false),
                ("Qux", Side::A, true)
            ]
        );
        assert_eq!(p.changes[0].wire, "Foo");
        let agreed: Vec<_> = p.agreed.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        assert_eq!(
            agreed,
            [("Foo", true), ("Bar", false), ("Baz", false), ("Qux", true)]
        );
    }

    #[test]
    fn unlisted_sides_failing_mailboxes_and_deletions_are_left_alone() {
        let mut failing = plan("Foo");
        failing.problems.push("cannot create".into());
        let mut missing = plan("Bar");
        missing.wire[1] = None;
        let p = reconcile_subscriptions(
            &input(&["Foo", "Bar"], &[], &[]),
            &[failing, missing],
            &Policy::default(),
        );
        assert!(p.changes.is_empty() && p.agreed.is_empty());
        let mut i = input(&["Foo"], &[], &[]);
        i.listed[1] = None;
        assert!(
            reconcile_subscriptions(&i, &[plan("Foo")], &Policy::default())
                .changes
                .is_empty()
        );
    }

    proptest! {
        /// Applying the changes, then reconciling again against the agreed
        /// state, changes nothing; swapping A and B mirrors the changes.
        #[test]
        fn subscriptions_settle_and_mirror(
            states in proptest::collection::vec((any::<bool>(), any::<bool>(), proptest::option::of(any::<bool>())), 1..6),
            one_way in proptest::option::of(prop_oneof![Just(Side::A), Just(Side::B)]),
        ) {
            let names: Vec<String> = (0..states.len()).map(|i| format!("m{i}")).collect();
            let plans: Vec<MailboxPlan> = names.iter().map(|n| plan(n)).collect();
            let pick = |f: &dyn Fn(&State) -> bool| -> BTreeSet<String> {
                names.iter().zip(&states).filter(|(_, s)| f(s)).map(|(n, _)| n.clone()).collect()
            };
            let base: BTreeMap<String, bool> = names.iter().zip(&states).filter_map(|(n, s)| s.2.map(|b| (n.clone(), b))).collect();
            let input = SubscriptionInput { listed: [Some(pick(&|s| s.0)), Some(pick(&|s| s.1))], base: base.clone() };
            let policy = Policy { one_way, ..Policy::default() };
            let first = reconcile_subscriptions(&input, &plans, &policy);
            let mut after = input.listed.clone();
            for c in &first.changes {
                let set = after[c.side.index()].as_mut().unwrap();
                if c.subscribe { set.insert(c.name.clone()); } else { set.remove(&c.name); }
                prop_assert!(one_way != Some(c.side), "one-way wrote to its source");
            }
            prop_assert_eq!(&after[0], &after[1]);
            for (name, subscribed) in &first.agreed {
                prop_assert_eq!(after[0].as_ref().unwrap().contains(name), *subscribed, "agreed {}", name);
            }
            prop_assert_eq!(first.agreed.len(), names.len());
            let again = SubscriptionInput { listed: after, base: first.agreed.iter().cloned().collect() };
            prop_assert!(reconcile_subscriptions(&again, &plans, &policy).changes.is_empty());

            let mirrored = SubscriptionInput { listed: [input.listed[1].clone(), input.listed[0].clone()], base };
            let policy = Policy { one_way: one_way.map(Side::other), ..Policy::default() };
            let swapped = reconcile_subscriptions(&mirrored, &plans, &policy);
            let flip = |p: &SubscriptionPlan, mirror: bool| -> Vec<(String, Side, bool)> {
                p.changes.iter().map(|c| (c.name.clone(), if mirror { c.side.other() } else { c.side }, c.subscribe)).collect()
            };
            prop_assert_eq!(flip(&first, true), flip(&swapped, false));
        }
    }
}
