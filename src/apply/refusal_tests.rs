//! Refusals told apart ([`crate::refusal`]) as apply meets them, against a
//! scripted fake server (real servers will not refuse on demand): per
//! response code, a refusal about the mailbox stops its copies once and
//! remembers nothing per message, one about the message is remembered
//! against it; a mailbox that refuses every message alike fails; STORE
//! stops at a refusal about the mailbox; an earlier refusal that a sync
//! tries again is forgotten once the retry classifies it; a message that
//! makes the server drop the connection costs only itself.

use super::fake_server_tests::*;
use super::*;
use crate::imap::fake_server::{logged_in, send, Step};
use crate::model::{FlagDelta, FlagSet, InternalDate, MessageMeta, Uid};
use crate::plan::{FlagChange, PlannedPair};
use crate::reconcile::skips::Refusal;
use crate::snapshot::{MessageStatus, MessageStatusRecord};

/// B's script: the APPENDs of `parts` (tags A0002, …), each answered
/// with its line (`OK …` or `NO …`); after an `APPENDUID 42 uid` (one UID
/// here), the copier's listing of it (E14).
fn appends(parts: &[(&[&str], &str)]) -> Vec<Step> {
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    let mut tags = (2..).map(|n| format!("A{n:04}"));
    let mut landed = 0;
    for (bodies, answer) in parts {
        let tag = tags.next().expect("endless");
        b.extend(append(&tag, "INBOX", bodies));
        b.push(send(&format!("{tag} {answer}\r\n")));
        let named = answer.split("APPENDUID 42 ").nth(1);
        if let Some(uid) = named.and_then(|r| r.split(']').next()) {
            let uid: Uid = uid.parse().expect("one UID per APPENDUID here");
            landed += 1;
            if landed == 1 {
                let tag = tags.next().expect("endless");
                b.extend(selected(&tag, "SELECT \"INBOX\"", 42, uid + 1, landed));
            }
            let meta = tags.next().expect("endless");
            let read = tags.next().expect("endless");
            b.extend(listed_back([&meta, &read], uid, landed, bodies[0]));
        }
    }
    b
}

fn plan_of(mb: MailboxPlan) -> Plan {
    Plan {
        schema_version: crate::plan::SCHEMA_VERSION,
        mailboxes: vec![mb],
        notes: Vec::new(),
        subscriptions: Vec::new(),
    }
}

/// The snapshot's refused records: (UID on A, words).
fn refused(snapshot: &crate::snapshot::Snapshot) -> Vec<(Uid, String)> {
    let statuses = snapshot.message_statuses().unwrap();
    statuses
        .into_iter()
        .filter(|s| s.status == MessageStatus::Refused)
        .map(|s| (s.uid, s.reason.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_refusal_about_the_mailbox_stops_its_copies_once_and_remembers_nothing_per_message() {
    let answers = [
        "NO [READ-ONLY] mailbox is read-only",
        "NO [NOPERM] no write access",
        "NO [TRYCREATE] no such mailbox",
        "NO [OVERQUOTA] quota exceeded",
        "NO [INUSE] mailbox in use",
        "NO [UNAVAILABLE] try later",
        "NO [SERVERBUG] internal error",
        "NO [CONTACTADMIN] account locked",
        "NO [EXPUNGEISSUED] expunged meanwhile",
        // Courier-IMAP 5.0, to an APPEND into the mailbox the session examines.
        "NO Current box is selected READ-ONLY.",
        // Cyrus: quota wording without a code.
        "NO Over quota",
    ];
    for answer in answers {
        // The whole batch meets it: nothing is bisected, no second APPEND.
        let b = appends(&[(&["one", "two"], answer)]);
        let copied = copy_to_b(&["one", "two"], b).await;
        assert_eq!(copied.out.counts().copied_to, [0, 0], "{answer}");
        assert_eq!(
            copied.failures,
            [(Side::B, "copy messages".to_string())],
            "{answer}"
        );
        let error = &copied.out.failures[0].error;
        assert!(error.contains(answer.trim_start_matches("NO ")), "{error}");
        assert_eq!(refused(&copied.snapshot), [], "{answer}");
        assert_eq!(copied.snapshot.intents().unwrap(), [], "{answer}");
    }
}

#[tokio::test]
async fn a_refusal_about_the_mailbox_wins_after_others_went_through_and_quota_says_what_was_left() {
    // The batch's refusal says nothing; its first half lands; the second
    // half meets quota: the mailbox fails there, with the bytes not copied
    // ("two" and "three").
    let b = appends(&[
        (&["one", "two", "three"], "NO try again"),
        (&["one"], "OK [APPENDUID 42 9] done"),
        (&["two", "three"], "NO [OVERQUOTA] Quota exceeded"),
    ]);
    let copied = copy_to_b(&["one", "two", "three"], b).await;

    assert_eq!(copied.out.counts().copied_to, [0, 1]);
    assert_eq!(copied.failures, [(Side::B, "copy messages".to_string())]);
    let error = &copied.out.failures[0].error;
    assert!(error.contains("[OVERQUOTA] Quota exceeded"), "{error}");
    assert!(error.contains("8 bytes were left to copy"), "{error}");
    assert_eq!(refused(&copied.snapshot), []);
    assert_eq!(pairs(&copied.snapshot), [[1, 9]]);
}

#[tokio::test]
async fn a_refusal_about_the_message_is_remembered_against_it_even_when_nothing_went_through() {
    let answers = [
        "NO [TOOBIG] message too big",
        "NO [LIMIT] too many keywords",
        "NO [PARSE] cannot parse the message",
        "NO Message contains invalid header",
        "NO Message contains NUL characters",
        "NO Message contains bare newlines",
        "NO Zero-length message literal",
    ];
    for answer in answers {
        let b = appends(&[
            (&["one", "two"], answer),
            (&["one"], answer),
            (&["two"], answer),
        ]);
        let copied = copy_to_b(&["one", "two"], b).await;
        assert_eq!(copied.out.counts().copied_to, [0, 0], "{answer}");
        let each = |uid: Uid| (Side::B, format!("copy UID {uid} (3 bytes)"));
        assert_eq!(copied.failures, [each(1), each(2)], "{answer}");
        let words = answer.to_string();
        assert_eq!(
            refused(&copied.snapshot),
            [(1, words.clone()), (2, words)],
            "{answer}"
        );
    }
}

#[tokio::test]
async fn words_that_say_nothing_are_the_messages_own_once_others_of_the_mailbox_land() {
    // UID 1 is refused alone before anything landed; UID 2 then lands, so
    // the refusal was about UID 1 after all.
    let b = appends(&[
        (&["one", "two"], "NO rejected"),
        (&["one"], "NO rejected"),
        (&["two"], "OK [APPENDUID 42 9] done"),
    ]);
    let copied = copy_to_b(&["one", "two"], b).await;

    assert_eq!(copied.out.counts().copied_to, [0, 1]);
    assert_eq!(
        copied.failures,
        [(Side::B, "copy UID 1 (3 bytes)".to_string())]
    );
    assert_eq!(refused(&copied.snapshot), [(1, "NO rejected".to_string())]);
}

#[tokio::test]
async fn a_mailbox_that_refuses_every_message_alike_fails_and_nothing_is_remembered_per_message() {
    let no = "NO rejected";
    let b = appends(&[
        (&["one", "two", "three"], no),
        (&["one"], no),
        (&["two", "three"], no),
        (&["two"], no),
        (&["three"], no),
    ]);
    let copied = copy_to_b(&["one", "two", "three"], b).await;

    assert_eq!(copied.out.counts().copied_to, [0, 0]);
    assert_eq!(copied.failures, [(Side::B, "copy messages".to_string())]);
    let error = &copied.out.failures[0].error;
    assert!(
        error.contains("every message was refused (3 tried alone)") && error.contains(no),
        "{error}"
    );
    assert_eq!(refused(&copied.snapshot), []);
    // Each message's fate is in the ledger for `sync --json`.
    let outcomes = crate::outcome::outcomes(
        &plan_of(MailboxPlan {
            copies: copies_from_a(&["one", "two", "three"]),
            ..inbox()
        }),
        &copied.out.ledger,
    );
    let statuses: Vec<_> = outcomes.actions.iter().map(|a| a.status).collect();
    assert_eq!(statuses, ["refused"; 3]);
}

#[tokio::test]
async fn an_empty_message_refused_in_words_that_say_nothing_is_its_own_refusal() {
    let b = appends(&[
        (&["", ""], "NO rejected"),
        (&[""], "NO rejected"),
        (&[""], "NO rejected"),
    ]);
    let copied = copy_to_b(&["", ""], b).await;

    let each = |uid: Uid| (Side::B, format!("copy UID {uid} (0 bytes)"));
    assert_eq!(copied.failures, [each(1), each(2)]);
    assert_eq!(refused(&copied.snapshot).len(), 2);
}

/// The snapshot remembers that B refused A's UID 1 and 2 with these
/// words (as an earlier release recorded every refusal); the input retries
/// UID 1's, as a sync does for words about the mailbox.
fn earlier_refusals(snapshot: &mut crate::snapshot::Snapshot, words: [&str; 2]) -> ReconcileInput {
    for (uid, words) in (1..).zip(words) {
        let meta = MessageMeta {
            uid,
            size: 3,
            internal_date: InternalDate::parse(DATE).unwrap(),
            flags: FlagSet::new(),
            fingerprint: fp(uid as u8),
            normalised: crate::model::Normalised::UNKNOWN,
        };
        snapshot
            .set_message_status(
                "INBOX",
                Side::A,
                7,
                &meta,
                Some(MessageStatus::Refused),
                Some(words),
            )
            .unwrap();
    }
    ReconcileInput {
        retried_refusals: vec![Refusal {
            mailbox: "INBOX".into(),
            side: Side::A,
            uidvalidity: 7,
            uid: 1,
            reason: words[0].into(),
        }],
        ..ReconcileInput::default()
    }
}

#[tokio::test]
async fn an_earlier_refusal_about_the_mailbox_tried_again_is_forgotten_once_it_lands() {
    // UID 2's refusal (about the message) is not retried, so it is not in
    // the plan; UID 1's lands and its refusal goes.
    let courier = "NO Current box is selected READ-ONLY.";
    let b = appends(&[(&["one"], "OK [APPENDUID 42 9] done")]);
    let copied = copy_to_b_after(&["one"], b, |snapshot| {
        earlier_refusals(snapshot, [courier, "NO [TOOBIG] too big"])
    })
    .await;

    assert_eq!(copied.failures, []);
    assert_eq!(
        copied.snapshot.message_statuses().unwrap(),
        [MessageStatusRecord {
            mailbox: "INBOX".into(),
            side: Side::A,
            uidvalidity: 7,
            uid: 2,
            status: MessageStatus::Refused,
            reason: Some("NO [TOOBIG] too big".into()),
        }]
    );
}

#[tokio::test]
async fn an_earlier_refusal_tried_again_is_replaced_by_what_the_retry_finds() {
    let courier = "NO Current box is selected READ-ONLY.";
    // Refused by the mailbox again: forgotten (nothing per message).
    let b = appends(&[(&["one"], "NO [OVERQUOTA] full")]);
    let copied = copy_to_b_after(&["one"], b, |s| earlier_refusals(s, [courier, courier])).await;
    assert_eq!(refused(&copied.snapshot), [(2, courier.to_string())]);
    // Refused as the message's own: remembered with the new words.
    let b = appends(&[(&["one"], "NO [TOOBIG] too big")]);
    let copied = copy_to_b_after(&["one"], b, |s| earlier_refusals(s, [courier, courier])).await;
    assert_eq!(
        refused(&copied.snapshot),
        [
            (1, "NO [TOOBIG] too big".to_string()),
            (2, courier.to_string())
        ]
    );
}

#[tokio::test]
async fn a_store_refused_by_the_mailbox_is_reported_once_for_its_whole_flight() {
    // Both deltas go out in one flight; the mailbox refuses each: one
    // failure is reported, both changes are refused.
    let seen = FlagSet::from_wire(["\\Seen"]);
    let flagged = FlagSet::from_wire(["\\Flagged"]);
    let change = |n: Uid, add: &FlagSet| FlagChange {
        side: Side::B,
        pair: [n, n + 10],
        delta: FlagDelta {
            add: add.clone(),
            remove: FlagSet::new(),
        },
    };
    let pair = |n: Uid, agreed: &FlagSet| PlannedPair {
        uid: [n, n + 10],
        fingerprint: fp(n as u8),
        base_before: Some(FlagSet::new()),
        agreed: agreed.clone(),
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    };
    let mb = MailboxPlan {
        pairs: vec![pair(1, &seen), pair(2, &flagged)],
        flag_changes: vec![change(1, &seen), change(2, &flagged)],
        ..inbox()
    };
    let a = logged_in("");
    let mut b = logged_in("");
    b.extend(selected("A0002", "SELECT \"INBOX\"", 42, 13, 2));
    b.push(Step::Expect("A0003 UID STORE "));
    b.push(Step::Expect("A0004 UID STORE "));
    b.push(send(
        "A0003 NO [NOPERM] Permission denied\r\nA0004 NO [NOPERM] Permission denied\r\n",
    ));
    let (mut lane, servers) = lane([a, b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let statuses = [status(7, 3, 2), status(42, 13, 2)];
    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses, false).await;
    scripts_followed(lane, servers).await;

    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert!(out.failures[0].error.contains("[NOPERM]"));
    assert_eq!(out.counts().flag_changes_on, [0, 0]);
    let plan = plan_of(mb);
    let outcomes = crate::outcome::outcomes(&plan, &out.ledger);
    let statuses: Vec<_> = outcomes.actions.iter().map(|a| a.status).collect();
    assert_eq!(statuses, ["refused"; 2]);
}

/// Login, then SELECT of INBOX (UIDVALIDITY 42, UIDNEXT 10, one message:
/// UID 9) and its UID list, as a new connection after a drop starts.
fn reconnected_with_uid_9() -> Vec<Step> {
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    b.extend(selected("A0002", "SELECT \"INBOX\"", 42, 10, 1));
    b.push(Step::Expect("A0003 UID FETCH 1:* (UID)\r\n"));
    b.push(send("* 1 FETCH (UID 9)\r\nA0003 OK done\r\n"));
    b
}

#[tokio::test]
async fn a_message_that_drops_the_connection_in_a_multiappend_costs_only_that_message() {
    // B stores "one", then drops the connection on "two" (as Cyrus does
    // past its keyword limit). On a new connection imapmend finds "one"
    // stored (UID 9, read back by content), sends "two" alone — the
    // connection drops again and nothing landed — and "three" on a third.
    let mut first = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    first.push(Step::Expect("A0002 APPEND \"INBOX\""));
    first.push(Step::Expect("one"));
    first.push(Step::Close);
    let mut second = reconnected_with_uid_9();
    second.push(Step::Expect("A0004 UID FETCH 9 (UID BODY.PEEK[])\r\n"));
    second.push(send(
        "* 1 FETCH (UID 9 BODY[] {3}\r\none)\r\nA0004 OK done\r\n",
    ));
    second.extend(append("A0005", "INBOX", &["two"]));
    second.push(Step::Close);
    let mut third = reconnected_with_uid_9();
    third.extend(append("A0004", "INBOX", &["three"]));
    third.push(send("A0004 OK [APPENDUID 42 10] done\r\n"));
    // The new connection SELECTed INBOX read-write to find what landed:
    // the receipt is confirmed there with no second SELECT.
    third.extend(listed_back(["A0005", "A0006"], 10, 2, "three"));

    let copied = copy_to_b_over(&["one", "two", "three"], vec![first, second, third], |_| {
        ReconcileInput::default()
    })
    .await;

    assert_eq!(copied.out.counts().copied_to, [0, 2]);
    assert_eq!(
        copied.failures,
        [(Side::B, "copy UID 2 (3 bytes)".to_string())]
    );
    assert_eq!(pairs(&copied.snapshot), [[1, 9], [3, 10]]);
    assert_eq!(copied.snapshot.intents().unwrap(), []);
    // Not the server's verdict on the message: nothing remembered, the next
    // run tries it again.
    assert_eq!(copied.snapshot.message_statuses().unwrap(), []);
}
