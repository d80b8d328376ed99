//! Receipts (E14): a pair recorded from APPENDUID proves a deletion only
//! once a listing has shown its UID. Dovecot lists a copy at once, so the
//! copier confirms it in the same run; a receipt left unconfirmed (as a
//! server that never lists the UID leaves it) whose message then goes
//! missing is copied again, never deleted on the other side.

use super::*;

/// Per pair in the snapshot (file orientation): [uid A, uid B] and the
/// side whose receipt is not yet confirmed.
fn receipts(pair: &Pair) -> Vec<([u32; 2], Option<String>)> {
    let db = rusqlite::Connection::open(pair.state_path()).unwrap();
    let mut stmt = db
        .prepare("SELECT uid_a, uid_b, unconfirmed FROM pair ORDER BY uid_a")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok(([r.get(0)?, r.get(1)?], r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// B holds copies of m1 and m2 made by imapmend; m1's copy is removed
/// behind imapmend's back before its receipt was confirmed (the snapshot
/// marked as a server that does not list new UIDs at once leaves it).
/// The next sync copies m1 to B again and deletes nothing on A; m2's
/// receipt is confirmed by that run's listing, so removing m2 from B
/// afterwards is a proven deletion, carried to A.
#[test]
fn e14_a_copy_removed_before_its_receipt_was_confirmed_is_copied_again() {
    for kind in [Kind::Full, Kind::NoCondstore] {
        let (a, b) = dovecot::pair(kind);
        let pair = Pair::new(&a, &b);
        let (m1, m2) = (msg_of_size("m1", 600), msg_of_size("m2", 700));
        let mut ca = a.client();
        ca.append("INBOX", &m1, &[], Some(DATE));
        ca.append("INBOX", &m2, &["\\Seen"], Some(DATE));
        ca.logout();
        pair.expect("sync", &[], 0);
        let copied = receipts(&pair);
        assert_eq!(copied.len(), 2, "{kind:?}: {copied:?}");
        assert!(
            copied.iter().all(|(_, u)| u.is_none()),
            "{kind:?}: Dovecot lists the copies at once, so they are confirmed: {copied:?}"
        );
        let db = rusqlite::Connection::open(pair.state_path()).unwrap();
        db.execute("UPDATE pair SET unconfirmed = 'B'", []).unwrap();
        // A sync leaves no mailbox holding an unconfirmed receipt marked
        // settled (apply::settled): without this the next run would read
        // only what changed and never list m2 to confirm it.
        let marks = "UPDATE mailbox SET a_settled = NULL, b_settled = NULL";
        db.execute(marks, []).unwrap();
        drop(db);

        let mut cb = b.client();
        let v1 = uid_of(&mut cb, "INBOX", &m1);
        cb.expunge_uids("INBOX", &[v1]);
        cb.logout();
        let out = pair.expect("sync", &[], 0);
        assert!(
            out.stdout.contains("copy was lost"),
            "{kind:?}: the plan says why m1 travels again: {}",
            out.describe()
        );
        let mut both = SideState::default();
        both.add("INBOX", &m1, &[] as &[&str]);
        both.add("INBOX", &m2, &["\\Seen"]);
        oracle::assert_state("A", &oracle::read_side(&a), &both);
        oracle::assert_state("B", &oracle::read_side(&b), &both);
        let now = receipts(&pair);
        assert!(
            now.len() == 2 && now.iter().all(|(_, u)| u.is_none()),
            "{kind:?}: m2 confirmed by the listing, m1's new copy at once: {now:?}"
        );

        let mut cb = b.client();
        let v2 = uid_of(&mut cb, "INBOX", &m2);
        cb.expunge_uids("INBOX", &[v2]);
        cb.logout();
        pair.expect("sync", &[], 0);
        let mut only_m1 = SideState::default();
        only_m1.add("INBOX", &m1, &[] as &[&str]);
        oracle::assert_state("A", &oracle::read_side(&a), &only_m1);
        oracle::assert_state("B", &oracle::read_side(&b), &only_m1);
        let plan = pair.expect("plan", &["--json"], 0);
        let report: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        for mb in report["plan"]["mailboxes"].as_array().unwrap() {
            for what in ["copies", "expunges", "flag_changes"] {
                assert_eq!(
                    mb[what],
                    serde_json::json!([]),
                    "{kind:?}: {what} left: {mb}"
                );
            }
        }
    }
}
