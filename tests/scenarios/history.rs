//! The history path (CHANGEDSINCE/VANISHED, listing rebuilt from the
//! snapshot's cache) against the full listing: on Kind::Full every side is
//! read by history when nothing regressed, and it plans exactly what the
//! full listing plans on Kind::NoCondstore for the same story. (Every case
//! also checks, after its sync, that `plan` reads all sides by history on
//! Kind::Full.)

use super::*;

/// Changes on A only: a flag added, an expunge, a new message, in two
/// mailboxes. Swapped, the changes are on the side given as `--b`.
fn changes_on_a(kind: Kind) -> Case {
    Case::new("history, changes on A")
        .kind(kind)
        .snapshot("INBOX: m1(\\Flagged) m2() m3(\\Seen); Work: m4() m5(\\Answered)")
        .a("INBOX: m1(\\Answered \\Flagged) m3(\\Seen) m6(\\Seen); Work: m4(\\Seen) m5(\\Answered)")
        .plan_before(1, None)
        .expect("INBOX: m1(\\Answered \\Flagged) m3(\\Seen) m6(\\Seen); Work: m4(\\Seen) m5(\\Answered)")
}

/// A plan without how it was read (path, reason, UIDVALIDITY): the actions,
/// pairs, conflicts and notes.
fn actions(report: &serde_json::Value) -> serde_json::Value {
    let mut plan = report["plan"].clone();
    for mb in plan["mailboxes"].as_array_mut().unwrap() {
        let mb = mb.as_object_mut().unwrap();
        mb.remove("listing");
        mb.remove("uidvalidity");
    }
    plan
}

#[test]
fn history_path_plans_what_the_full_listing_plans() {
    let history = changes_on_a(Kind::Full).run();
    let listing = changes_on_a(Kind::NoCondstore).run();
    for (h, l) in history.iter().zip(&listing) {
        let (mut h, mut l) = (
            actions(h.plan_before.as_ref().unwrap()),
            actions(l.plan_before.as_ref().unwrap()),
        );
        // A mailbox read as its changed subset (or settled) names only the
        // pairs it touched: each of them as the full listing names it.
        for (hm, lm) in h["mailboxes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .zip(l["mailboxes"].as_array_mut().unwrap())
        {
            let (hp, lp) = (hm["pairs"].take(), lm["pairs"].take());
            for pair in hp.as_array().unwrap() {
                assert!(
                    lp.as_array().unwrap().contains(pair),
                    "{pair} is not a pair of the full listing's plan"
                );
            }
        }
        assert_eq!(
            h, l,
            "the history path (Full) and the full listing (NoCondstore) planned differently"
        );
    }
}

#[test]
fn no_op_run_reads_every_side_by_history() {
    let state = "INBOX: m1(\\Seen) m2(\\Flagged); Work: m3(); Empty:";
    Case::new("history no-op")
        .snapshot(state)
        .plan_before(0, None)
        .expect(state)
        .run();
}
