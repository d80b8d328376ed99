//! The flag STOREs of a side in one flight, against a scripted fake
//! server answering out of the happy path: each delta answered on its
//! own (NO on the first with the rest behind it, `[MODIFIED]`, BAD), the
//! `-FLAGS` half of a delta that also adds chained from the MODSEQ its
//! `+FLAGS` half reported, the Message-ID of a deletion read in the same
//! flight so the deletion sends no SELECT, a connection cut mid-flight,
//! and a refused read-back riding behind the STOREs.

use super::fake_server_tests::{fp, inbox, lane, open_snapshot, run_mailbox, scripts_followed};
use super::*;
use crate::imap::fake_server::{logged_in_enabling, send, Step};
use crate::model::{FlagDelta, FlagSet, Uid};
use crate::plan::{Expunge, ExpungeMode, ExpungeReason, FlagChange, PlannedPair};

fn flags(names: &[&'static str]) -> FlagSet {
    FlagSet::from_wire(names.iter().copied())
}

/// Pairs `[n, n + 10]` for n in 1..=4, each given `delta` on B, and (with
/// `delete`) a flag-only deletion of B's UID 15 (pair [5, 15]).
fn plan(deltas: [(&[&'static str], &[&'static str]); 4], delete: bool) -> MailboxPlan {
    let pair = |n: Uid| PlannedPair {
        uid: [n, n + 10],
        fingerprint: fp(n as u8),
        base_before: Some(FlagSet::new()),
        agreed: flags(deltas[n as usize - 1].0),
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    };
    let change = |n: Uid| FlagChange {
        side: Side::B,
        pair: [n, n + 10],
        delta: FlagDelta {
            add: flags(deltas[n as usize - 1].0),
            remove: flags(deltas[n as usize - 1].1),
        },
    };
    let expunges = delete
        .then(|| Expunge {
            side: Side::B,
            uid: 15,
            pair: [5, 15],
            fingerprint: fp(5),
            base: Some(FlagSet::new()),
            mode: ExpungeMode::FlagOnly,
            reason: ExpungeReason::Proven,
            level: crate::model::PairLevel::Exact,
            normalised: None,
            partner: None,
        })
        .into_iter()
        .collect();
    MailboxPlan {
        pairs: (1..=4).map(pair).collect(),
        flag_changes: (1..=4)
            .map(change)
            .filter(|c| !c.delta.is_empty())
            .collect(),
        expunges,
        ..inbox()
    }
}

/// B's session with CONDSTORE, INBOX selected (A0003) at UIDVALIDITY 42
/// and HIGHESTMODSEQ 100.
fn b_selected() -> Vec<Step> {
    let mut b = logged_in_enabling("ENABLE CONDSTORE", "A0002 ENABLE CONDSTORE\r\n", "");
    b.push(Step::Expect("A0003 SELECT \"INBOX\" (CONDSTORE)\r\n"));
    b.push(send(concat!(
        "* 5 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 16] ok\r\n",
        "* OK [HIGHESTMODSEQ 100] ok\r\nA0003 OK [READ-WRITE] done\r\n",
    )));
    b
}

fn statuses() -> [Option<MailboxStatus>; 2] {
    let listed = |uidvalidity, uidnext| MailboxStatus {
        uidvalidity,
        uidnext,
        exists: 5,
        highestmodseq: Some(100),
        ..MailboxStatus::default()
    };
    [Some(listed(7, 6)), Some(listed(42, 16))]
}

/// The pairs' recorded flags, in UID order.
fn pair_flags(snapshot: &Snapshot) -> Vec<([Uid; 2], Option<FlagSet>)> {
    let state = snapshot.load().unwrap();
    let mut flags: Vec<_> = (state.mailboxes["INBOX"].pairs.iter())
        .map(|p| (p.uid, p.flags.clone()))
        .collect();
    flags.sort_by_key(|(uid, _)| *uid);
    flags
}

#[tokio::test]
async fn each_store_of_a_flight_is_answered_on_its_own_and_the_deletion_needs_no_select() {
    // Deltas go out in the plan's order of deltas: -\Flagged (14),
    // +\Answered -\Seen (13), +\Flagged (12), +\Seen (11); the Message-ID
    // of 15 rides behind them. 14 is refused with the rest already sent,
    // 12 was changed meanwhile, 11 is answered BAD; 13's -FLAGS half goes
    // in a second flight from the MODSEQ its +FLAGS half reported.
    let mb = plan(
        [
            (&["\\Seen"], &[]),
            (&["\\Flagged"], &[]),
            (&["\\Answered"], &["\\Seen"]),
            (&[], &["\\Flagged"]),
        ],
        true,
    );
    let mut b = b_selected();
    for line in [
        "A0004 UID STORE 14 (UNCHANGEDSINCE 100) -FLAGS.SILENT (\\Flagged)\r\n",
        "A0005 UID STORE 13 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Answered)\r\n",
        "A0006 UID STORE 12 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Flagged)\r\n",
        "A0007 UID STORE 11 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ] {
        b.push(Step::Expect(line));
    }
    // Four in flight at most: the fifth goes once the first is answered.
    b.push(send("A0004 NO cannot store that now\r\n"));
    b.push(Step::Expect(
        "A0008 UID FETCH 15 (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n",
    ));
    b.push(send(concat!(
        "* 3 FETCH (UID 13 MODSEQ (105))\r\nA0005 OK done\r\n",
        "A0006 OK [MODIFIED 12] Conditional STORE failed\r\n",
        "A0007 BAD not understood\r\n",
        "* 5 FETCH (UID 15 BODY[HEADER.FIELDS (MESSAGE-ID)] {30}\r\n",
        "Message-ID: <five@example>\r\n\r\n)\r\nA0008 OK done\r\n",
    )));
    b.push(Step::Expect(
        "A0009 UID STORE 13 (UNCHANGEDSINCE 105) -FLAGS.SILENT (\\Seen)\r\n",
    ));
    b.push(send("* 3 FETCH (UID 13 MODSEQ (106))\r\nA0009 OK done\r\n"));
    // The deletion: the session holds INBOX at 42 still, the Message-ID is
    // read: no SELECT.
    b.push(Step::Expect(
        "A0010 UID STORE 15 +FLAGS.SILENT (\\Deleted)\r\n",
    ));
    b.push(send("A0010 OK done\r\n"));
    let (mut lane, servers) = lane([crate::imap::fake_server::logged_in(""), b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses(), true).await;
    scripts_followed(lane, servers).await;

    let failed: Vec<&str> = out.failures.iter().map(|f| f.action.as_str()).collect();
    assert_eq!(
        failed,
        [
            "store +() -(\\Flagged) on 1 messages",
            "store +(\\Seen) -() on 1 messages"
        ],
        "{:?}",
        out.failures
    );
    assert_eq!(out.counts().flag_changes_on, [0, 1]);
    assert_eq!(out.counts().expunged_on, [0, 1]);
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("changed during the run")),
        "{:?}",
        out.notes
    );
    // Only 13's pair went through: it alone records its agreed flags.
    let flags = pair_flags(&snapshot);
    assert_eq!(
        flags,
        [
            ([1, 11], Some(FlagSet::new())),
            ([2, 12], Some(FlagSet::new())),
            ([3, 13], Some(FlagSet::from_wire(["\\Answered"]))),
            ([4, 14], Some(FlagSet::new())),
        ]
    );
}

#[tokio::test]
async fn a_chained_half_is_not_sent_where_its_first_half_was_refused_or_modified() {
    // Two deltas that add and remove: 11's +FLAGS half is refused, 12's
    // is reported modified: neither -FLAGS half is sent, nothing recorded.
    let mb = plan(
        [
            (&["\\Seen"], &["\\Draft"]),
            (&["\\Answered"], &["\\Flagged"]),
            (&[], &[]),
            (&[], &[]),
        ],
        false,
    );
    let mut b = b_selected();
    b.push(Step::Expect(
        "A0004 UID STORE 12 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Answered)\r\n",
    ));
    b.push(Step::Expect(
        "A0005 UID STORE 11 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ));
    b.push(send(concat!(
        "A0004 NO [MODIFIED 12] Conditional STORE failed\r\n",
        "A0005 NO cannot store that now\r\n",
    )));
    let (mut lane, servers) = lane([crate::imap::fake_server::logged_in(""), b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses(), false).await;
    scripts_followed(lane, servers).await;

    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert_eq!(out.counts().flag_changes_on, [0, 0]);
    assert!(pair_flags(&snapshot)[..2]
        .iter()
        .all(|(_, f)| f.as_ref().is_some_and(|f| f.is_empty())));
}

#[tokio::test]
async fn a_connection_cut_mid_flight_fails_every_delta_and_records_nothing() {
    // The server reads the whole flight, answers the first STORE and
    // drops the connection: which of the others were applied is not
    // known, so no pair records its agreed flags (the next run lists and
    // merges again: a flag delta applied twice is the same set).
    let mb = plan(
        [
            (&["\\Seen"], &[]),
            (&["\\Flagged"], &[]),
            (&[], &[]),
            (&[], &[]),
        ],
        false,
    );
    let mut b = b_selected();
    b.push(Step::Expect(
        "A0004 UID STORE 12 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Flagged)\r\n",
    ));
    b.push(Step::Expect(
        "A0005 UID STORE 11 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ));
    b.push(send("A0004 OK done\r\n"));
    b.push(Step::Close);
    let (mut lane, servers) = lane([crate::imap::fake_server::logged_in(""), b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses(), false).await;
    scripts_followed(lane, servers).await;

    assert_eq!(out.failures.len(), 2, "{:?}", out.failures);
    assert_eq!(out.counts().flag_changes_on, [0, 0]);
    assert!(pair_flags(&snapshot)
        .iter()
        .all(|(_, f)| f.as_ref().is_some_and(|f| f.is_empty())));
}

#[tokio::test]
async fn a_refused_read_back_behind_the_stores_leaves_them_done() {
    // The STOREs are B's last write in INBOX: the read-back rides behind
    // them. Its EXAMINE is refused (and the FETCH behind it meets no
    // mailbox): the STOREs' own answers stand, both pairs are recorded.
    let mb = plan(
        [
            (&["\\Seen"], &[]),
            (&["\\Flagged"], &[]),
            (&[], &[]),
            (&[], &[]),
        ],
        false,
    );
    let mut b = b_selected();
    for line in [
        "A0004 UID STORE 12 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Flagged)\r\n",
        "A0005 UID STORE 11 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
        "A0006 EXAMINE \"INBOX\" (CONDSTORE)\r\n",
        "A0007 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 100)\r\n",
    ] {
        b.push(Step::Expect(line));
    }
    b.push(send(concat!(
        "A0004 OK done\r\nA0005 OK done\r\n",
        "A0006 NO not now\r\nA0007 BAD no mailbox selected\r\n",
    )));
    let (mut lane, servers) = lane([crate::imap::fake_server::logged_in(""), b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses(), false).await;
    scripts_followed(lane, servers).await;

    assert_eq!(out.failures.len(), 0, "{:?}", out.failures);
    assert_eq!(out.counts().flag_changes_on, [0, 2]);
    let flags = pair_flags(&snapshot);
    assert_eq!(flags[0].1, Some(FlagSet::from_wire(["\\Seen"])));
    assert_eq!(flags[1].1, Some(FlagSet::from_wire(["\\Flagged"])));
}
