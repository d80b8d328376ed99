//! Plans applied against two scripted fake servers, with the exact
//! commands each side must receive, in order, written out: the cases real
//! servers will not produce on demand (a refusal of one message, a
//! connection cut in the middle of an APPEND) and the order apply keeps
//! across mailboxes. End to end against real
//! servers: tests/crash.rs and tests/robustness.rs.

use super::*;
use crate::imap::fake_server::{
    expect, followed, limits, logged_in, logged_in_enabling, run_pair, run_pair_reconnecting, send,
    Server, Step,
};
use crate::imap::{ConnectSpec, Connection};
use crate::model::{Fingerprint, FlagDelta, FlagSet, InternalDate, MessageMeta, Uid};
use crate::plan::{
    Copy, Expunge, ExpungeMode, ExpungeReason, FlagChange, MailboxRename, PlannedPair,
};
use crate::reconcile::{MailboxInput, SideListing};
use crate::snapshot::{MessageStatus, MessageStatusRecord};

pub(super) const DATE: &str = "17-Jul-1996 02:44:25 -0700";

pub(super) fn fp(n: u8) -> Fingerprint {
    Fingerprint([n; 32])
}

pub(super) fn open_snapshot(dir: &tempfile::TempDir) -> Snapshot {
    crate::snapshot::scratch(dir.path())
}

/// A session to each side, each server following its script.
pub(super) async fn lane(scripts: [Vec<Step>; 2]) -> (Lane, [Server; 2]) {
    lane_reconnecting(scripts.map(|s| vec![s])).await
}

/// [`lane`] with a script per connection on each side.
pub(super) async fn lane_reconnecting(scripts: [Vec<Vec<Step>>; 2]) -> (Lane, [Server; 2]) {
    let ([spec_a, spec_b], servers) = run_pair_reconnecting(scripts).await;
    let connect = async |spec: ConnectSpec| {
        Connection::connect_with(&spec, &limits())
            .await
            .expect("connect")
    };
    let lane = [connect(spec_a).await, connect(spec_b).await];
    (lane, servers)
}

/// Every server followed its script to the end.
pub(super) async fn scripts_followed(lane: Lane, servers: [Server; 2]) {
    drop(lane);
    followed(servers).await;
}

/// `verb` (SELECT, EXAMINE) of `mailbox` (tag `tag`) and the server's
/// answer.
pub(super) fn selected(
    tag: &str,
    verb_mailbox: &str,
    uidvalidity: u32,
    uidnext: u32,
    exists: u32,
) -> Vec<Step> {
    vec![
        expect(format!("{tag} {verb_mailbox}\r\n")),
        Step::Send(
            format!(
                "* {exists} EXISTS\r\n* OK [UIDVALIDITY {uidvalidity}] ok\r\n\
                 * OK [UIDNEXT {uidnext}] ok\r\n{tag} OK done\r\n"
            )
            .into_bytes(),
        ),
    ]
}

/// What a deletion sends first: `SELECT`, and in its flight the UID FETCH
/// of the Message-ID of `uid` for the action log, answered with `header`
/// (the field's line), or NO where None (the write goes ahead).
pub(super) fn selected_reading_id(
    [select, fetch]: [&str; 2],
    mailbox: &str,
    [uidvalidity, uidnext, exists]: [u32; 3],
    uid: Uid,
    header: Option<&str>,
) -> Vec<Step> {
    let mut steps = selected(
        select,
        &format!("SELECT \"{mailbox}\""),
        uidvalidity,
        uidnext,
        exists,
    );
    steps.push(expect(format!(
        "{fetch} UID FETCH {uid} (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n"
    )));
    steps.push(Step::Send(
        match header {
            Some(h) => format!(
                "* 1 FETCH (UID {uid} BODY[HEADER.FIELDS (MESSAGE-ID)] {{{}}}\r\n{h}\r\n\r\n)\r\n\
                 {fetch} OK done\r\n",
                h.len() + 4
            ),
            None => format!("{fetch} NO not today\r\n"),
        }
        .into_bytes(),
    ));
    steps
}

/// The lines of one MULTIAPPEND (LITERAL+) of these bodies to `mailbox`.
pub(super) fn append(tag: &str, mailbox: &str, bodies: &[&str]) -> Vec<Step> {
    let mut lines = vec![format!("{tag} APPEND \"{mailbox}\"")];
    for body in bodies {
        let last = lines.last_mut().expect("one line at least");
        *last += &format!(" \"{DATE}\" {{{}+}}\r\n", body.len());
        lines.push(body.to_string());
    }
    *lines.last_mut().expect("one line at least") += "\r\n";
    lines.into_iter().map(expect).collect()
}

/// The copier listing the UID APPENDUID just named (to confirm the
/// receipt), the server showing it as message `seq`, and the copier
/// reading it back (one of the first copies into the mailbox), with the
/// tags given.
pub(super) fn listed_back(tags: [&str; 2], uid: Uid, seq: u32, body: &str) -> Vec<Step> {
    let [meta, read] = tags;
    let size = body.len();
    vec![
        expect(format!(
            "{meta} UID FETCH {uid} (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n"
        )),
        send(&format!(
            "* {seq} FETCH (UID {uid} FLAGS () RFC822.SIZE {size} INTERNALDATE \"{DATE}\")\r\n{meta} OK done\r\n"
        )),
        expect(format!("{read} UID FETCH {uid} (UID BODY.PEEK[])\r\n")),
        send(&format!(
            "* {seq} FETCH (UID {uid} BODY[] {{{size}}}\r\n{body})\r\n{read} OK done\r\n"
        )),
    ]
}

/// `UID EXPUNGE` of one UID as the client sends it (\\Deleted set first,
/// pipelined) and the server's answer.
pub(super) fn uid_expunge(store_tag: &str, expunge_tag: &str, uid: Uid) -> Vec<Step> {
    vec![
        expect(format!(
            "{store_tag} UID STORE {uid} +FLAGS.SILENT (\\Deleted)\r\n"
        )),
        expect(format!("{expunge_tag} UID EXPUNGE {uid}\r\n")),
        Step::Send(
            format!("{store_tag} OK done\r\n* 1 EXPUNGE\r\n{expunge_tag} OK done\r\n").into_bytes(),
        ),
    ]
}

pub(super) fn status(uidvalidity: u32, uidnext: u32, exists: u32) -> Option<MailboxStatus> {
    Some(MailboxStatus {
        uidvalidity,
        uidnext,
        exists,
        ..MailboxStatus::default()
    })
}

/// Copies of these bodies from A (UIDs 1, 2, …) to B.
pub(super) fn copies_from_a(bodies: &[&str]) -> Vec<Copy> {
    (1..)
        .zip(bodies)
        .map(|(uid, body)| Copy {
            from: Side::A,
            uid,
            // The content's: what a copy that drops the connection is
            // found by on the target.
            fingerprint: Some(crate::fingerprint::fingerprint(body.as_bytes())),
            size: body.len() as u32,
            internal_date: InternalDate::parse(DATE).unwrap(),
            flags: FlagSet::new(),
            agreed: FlagSet::new(),
            normalised: None,
        })
        .collect()
}

pub(super) fn inbox() -> MailboxPlan {
    MailboxPlan {
        name: "INBOX".into(),
        wire: [Some("INBOX".into()), Some("INBOX".into())],
        ..MailboxPlan::default()
    }
}

/// Runs one mailbox plan as apply does — fill, then (with `settle`) the
/// expunges — and returns what it did.
pub(super) async fn run_mailbox(
    mb: &MailboxPlan,
    lane: &mut Lane,
    snapshot: &mut Snapshot,
    statuses: [Option<MailboxStatus>; 2],
    settle: bool,
) -> ApplyOutcome {
    let input = ReconcileInput::default();
    run_mailbox_with(mb, &input, lane, snapshot, statuses, settle).await
}

/// [`run_mailbox`] with this input (earlier refusals retried, …).
pub(super) async fn run_mailbox_with(
    mb: &MailboxPlan,
    input: &ReconcileInput,
    lane: &mut Lane,
    snapshot: &mut Snapshot,
    statuses: [Option<MailboxStatus>; 2],
    settle: bool,
) -> ApplyOutcome {
    let shared = RefCell::new(snapshot);
    let mut out = ApplyOutcome::default();
    let mut run = MailboxRun::new(mb, input, lane, &shared, &mut out, statuses);
    assert!(run.fill().await, "fill went on to settle");
    if settle {
        run.expunge().await;
    }
    out
}

pub(super) fn pairs(snapshot: &Snapshot) -> Vec<[Uid; 2]> {
    let state = snapshot.load().unwrap();
    let mut pairs: Vec<_> = state.mailboxes["INBOX"]
        .pairs
        .iter()
        .map(|p| p.uid)
        .collect();
    pairs.sort();
    pairs
}

/// What copying from A to B did.
pub(super) struct Copied {
    pub out: ApplyOutcome,
    /// Side and action of each failure.
    pub failures: Vec<(Side, String)>,
    pub snapshot: Snapshot,
    pub _dir: tempfile::TempDir,
}

/// Copies `bodies`, UIDs 1, 2, … on A, to B, whose server follows `b`;
/// checks that both servers saw exactly what their scripts expect.
pub(super) async fn copy_to_b(bodies: &[&str], b: Vec<Step>) -> Copied {
    copy_to_b_after(bodies, b, |_| ReconcileInput::default()).await
}

/// [`copy_to_b`] after `prepare` has written to the snapshot, with the
/// input it returns.
pub(super) async fn copy_to_b_after(
    bodies: &[&str],
    b: Vec<Step>,
    prepare: impl FnOnce(&mut Snapshot) -> ReconcileInput,
) -> Copied {
    copy_to_b_over(bodies, vec![b], prepare).await
}

/// [`copy_to_b_after`] with a script per connection to B (it reconnects).
pub(super) async fn copy_to_b_over(
    bodies: &[&str],
    b: Vec<Vec<Step>>,
    prepare: impl FnOnce(&mut Snapshot) -> ReconcileInput,
) -> Copied {
    let n = bodies.len() as u32;
    let mut a = logged_in("");
    a.extend(selected("A0002", "EXAMINE \"INBOX\"", 7, n + 1, n));
    let set = if n == 1 {
        "1".to_string()
    } else {
        format!("1:{n}")
    };
    a.push(expect(format!(
        "A0003 UID FETCH {set} (UID BODY.PEEK[])\r\n"
    )));
    let mut fetched = String::new();
    for (uid, body) in (1..).zip(bodies) {
        let size = body.len();
        fetched += &format!("* {uid} FETCH (UID {uid} BODY[] {{{size}}}\r\n{body})\r\n");
    }
    a.push(Step::Send(
        format!("{fetched}A0003 OK done\r\n").into_bytes(),
    ));
    let (mut lane, servers) = lane_reconnecting([vec![a], b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);
    let input = prepare(&mut snapshot);
    let mb = MailboxPlan {
        copies: copies_from_a(bodies),
        ..inbox()
    };
    let statuses = [status(7, n + 1, n), status(42, 9, 0)];
    // Copies count in the process-wide progress counters.
    let turn = crate::progress::TEST_TURN.lock().await;
    let out = run_mailbox_with(&mb, &input, &mut lane, &mut snapshot, statuses, false).await;
    drop(turn);
    scripts_followed(lane, servers).await;
    let failures = out
        .failures
        .iter()
        .map(|f| (f.side, f.action.clone()))
        .collect();
    Copied {
        out,
        failures,
        snapshot,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_refused_batch_is_bisected_down_to_the_one_refused_message_and_the_others_land() {
    let bodies = ["one", "two", "three"];
    // The batch is refused; its halves, [one] and [two three], are tried in
    // turn, and [two three] is halved again.
    let refused = "NO [LIMIT] message two is not welcome";
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    b.extend(append("A0002", "INBOX", &bodies));
    b.push(send(&format!("A0002 {refused}\r\n")));
    b.extend(append("A0003", "INBOX", &["one"]));
    b.push(send("A0003 OK [APPENDUID 42 9] done\r\n"));
    b.extend(selected("A0004", "SELECT \"INBOX\"", 42, 10, 1));
    b.extend(listed_back(["A0005", "A0006"], 9, 1, "one"));
    b.extend(append("A0007", "INBOX", &["two", "three"]));
    b.push(send(&format!("A0007 {refused}\r\n")));
    b.extend(append("A0008", "INBOX", &["two"]));
    b.push(send(&format!("A0008 {refused}\r\n")));
    b.extend(append("A0009", "INBOX", &["three"]));
    b.push(send("A0009 OK [APPENDUID 42 10] done\r\n"));
    b.extend(listed_back(["A0010", "A0011"], 10, 2, "three"));

    let Copied {
        out,
        failures,
        snapshot,
        ..
    } = copy_to_b(&bodies, b).await;

    assert_eq!(out.counts().copied_to, [0, 2]);
    assert_eq!(failures, [(Side::B, "copy UID 2 (3 bytes)".to_string())]);
    assert!(out.failures[0].error.contains(refused), "{failures:?}");
    assert_eq!(pairs(&snapshot), [[1, 9], [3, 10]]);
    assert_eq!(
        snapshot.message_statuses().unwrap(),
        [MessageStatusRecord {
            mailbox: "INBOX".into(),
            side: Side::A,
            uidvalidity: 7,
            uid: 2,
            status: MessageStatus::Refused,
            reason: Some(refused.into()),
        }]
    );
    assert_eq!(snapshot.intents().unwrap(), []);
}

/// B acknowledges the copies of A's UIDs 1 and 2 with APPENDUID naming
/// UIDs 9 and 10 but never lists 9 (as Gmail does with a message it holds
/// already): that pair is recorded as an unconfirmed receipt, the other
/// confirmed; the next run, which lists B without UID 9, copies the message
/// again and deletes nothing on A.
#[tokio::test]
async fn e14_a_copy_acknowledged_but_never_listed_is_copied_again_and_nothing_is_deleted() {
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    b.extend(append("A0002", "INBOX", &["one", "two"]));
    b.push(send("A0002 OK [APPENDUID 42 9:10] done\r\n"));
    b.extend(selected("A0003", "SELECT \"INBOX\"", 42, 11, 1));
    b.push(Step::Expect(
        "A0004 UID FETCH 9:10 (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n",
    ));
    b.push(send(&format!(
        "* 1 FETCH (UID 10 FLAGS () RFC822.SIZE 3 INTERNALDATE \"{DATE}\")\r\nA0004 OK done\r\n"
    )));
    // Both copies are read back in the same flight (the mailbox's first):
    // only the one it lists comes.
    b.push(Step::Expect("A0005 UID FETCH 9:10 (UID BODY.PEEK[])\r\n"));
    b.push(send(
        "* 1 FETCH (UID 10 BODY[] {3}\r\ntwo)\r\nA0005 OK done\r\n",
    ));
    let Copied {
        out,
        failures,
        mut snapshot,
        _dir,
    } = copy_to_b(&["one", "two"], b).await;
    assert_eq!((out.counts().copied_to, failures), ([0, 2], vec![]));
    assert!(
        out.notes.iter().any(|n| n.contains("does not list")),
        "{:?}",
        out.notes
    );
    let receipts = |snapshot: &Snapshot| -> Vec<([Uid; 2], Option<Side>)> {
        let state = snapshot.load().unwrap();
        state.mailboxes["INBOX"]
            .pairs
            .iter()
            .map(|p| (p.uid, p.unconfirmed))
            .collect()
    };
    assert_eq!(
        receipts(&snapshot),
        [([1, 9], Some(Side::B)), ([2, 10], None)]
    );

    // The next run: A still holds UIDs 1 and 2, B lists only UID 10.
    let record = snapshot.load().unwrap().mailboxes["INBOX"].clone();
    let side = |status: MailboxStatus, messages: Vec<MessageMeta>| SideListing {
        wire_name: "INBOX".into(),
        status,
        messages,
        can_uid_expunge: true,
        ..SideListing::default()
    };
    let message = |uid: Uid, content: u8| MessageMeta {
        uid,
        size: 3,
        internal_date: InternalDate::parse(DATE).unwrap(),
        flags: FlagSet::new(),
        fingerprint: fp(content),
        normalised: crate::model::Normalised::UNKNOWN,
    };
    let input = ReconcileInput {
        mailboxes: vec![MailboxInput {
            name: "INBOX".into(),
            sides: [
                Some(side(
                    status(7, 3, 2).unwrap(),
                    vec![message(1, 1), message(2, 2)],
                )),
                Some(side(status(42, 11, 1).unwrap(), vec![message(10, 2)])),
            ],
            base: MailboxBase {
                uidvalidity: [Some(7), Some(42)],
                pairs: record
                    .pairs
                    .iter()
                    .map(|p| crate::reconcile::BasePair {
                        uid: p.uid,
                        fingerprint: p.fingerprint,
                        flags: p.flags.clone(),
                        unconfirmed: p.unconfirmed,
                        fingerprint_b: None,
                        level: crate::model::PairLevel::Exact,
                    })
                    .collect(),
                ..MailboxBase::default()
            },
        }],
        ..ReconcileInput::default()
    };
    let plan = crate::reconcile::reconcile(&input, &crate::reconcile::Policy::default());
    let mb = &plan.mailboxes[0];
    assert!(mb.expunges.is_empty() && mb.withheld.is_empty(), "{mb:#?}");
    let copies: Vec<_> = mb.copies.iter().map(|c| (c.from, c.uid)).collect();
    assert_eq!(copies, [(Side::A, 1)]);

    // Copied again; this time B lists the UID it names.
    let mut a = logged_in("");
    a.extend(selected("A0002", "EXAMINE \"INBOX\"", 7, 3, 2));
    a.push(Step::Expect("A0003 UID FETCH 1 (UID BODY.PEEK[])\r\n"));
    a.push(send(
        "* 1 FETCH (UID 1 BODY[] {3}\r\none)\r\nA0003 OK done\r\n",
    ));
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    b.extend(append("A0002", "INBOX", &["one"]));
    b.push(send("A0002 OK [APPENDUID 42 11] done\r\n"));
    b.extend(selected("A0003", "SELECT \"INBOX\"", 42, 12, 2));
    b.extend(listed_back(["A0004", "A0005"], 11, 2, "one"));
    let (mut lane, servers) = lane([a, b]).await;
    let statuses = [status(7, 3, 2), status(42, 11, 1)];
    let turn = crate::progress::TEST_TURN.lock().await;
    let out = run_mailbox(mb, &mut lane, &mut snapshot, statuses, true).await;
    drop(turn);
    scripts_followed(lane, servers).await;
    assert_eq!(out.failures.len(), 0, "{:?}", out.failures);
    assert_eq!(out.counts().expunged_on, [0, 0]);
    assert_eq!(receipts(&snapshot), [([1, 11], None), ([2, 10], None)]);
}

/// I7, what a copy became: of seven copies in one batch, the target
/// reads back the first four (how this server keeps bytes is not known
/// yet), then only what the census picks — UID 14, with no final line
/// break, and UID 15, which the target lists at another size than the
/// bytes sent — in one `UID FETCH` after the one listing them all. Their
/// cache rows hold the target's fingerprint and size, read back; UID 13's
/// keeps the source's, marked as not read back.
#[tokio::test]
async fn i7_a_batch_reads_back_only_the_copies_the_target_may_have_rewritten() {
    let bodies = ["m1\n", "m2\n", "m3\n", "m4\n", "m5\n", "m6", "m7\n"];
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    // The server reads line by line: a body ending in LF is a line of its own.
    let literal = |len: usize| format!(" \"{DATE}\" {{{len}+}}\r\n");
    let mut sent = format!("A0002 APPEND \"INBOX\"{}", literal(3));
    for (n, body) in bodies.iter().enumerate() {
        sent += body;
        sent += &bodies
            .get(n + 1)
            .map_or("\r\n".into(), |next| literal(next.len()));
    }
    b.extend(
        sent.split_inclusive('\n')
            .map(|line| expect(line.to_string())),
    );
    b.push(send("A0002 OK [APPENDUID 42 9:15] done\r\n"));
    b.extend(selected("A0003", "SELECT \"INBOX\"", 42, 16, 7));
    b.push(Step::Expect(
        "A0004 UID FETCH 9:15 (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n",
    ));
    let mut listing = String::new();
    for (seq, body) in (1..).zip(bodies) {
        let uid = seq + 8;
        // The server added a line break to UID 14 and rewrote UID 15.
        let size = if uid >= 14 { 4 } else { body.len() };
        listing += &format!(
            "* {seq} FETCH (UID {uid} FLAGS () RFC822.SIZE {size} INTERNALDATE \"{DATE}\")\r\n"
        );
    }
    b.push(send(&format!("{listing}A0004 OK done\r\n")));
    // In the same flight, what is picked before the sizes are known: the
    // first four (learning) and UID 14 (no final line break)…
    b.push(Step::Expect(
        "A0005 UID FETCH 9:12,14 (UID BODY.PEEK[])\r\n",
    ));
    let mut read = String::new();
    for (seq, body) in (1..).zip(["m1\n", "m2\n", "m3\n", "m4\n"]) {
        read += &format!("* {seq} FETCH (UID {} BODY[] {{3}}\r\n{body})\r\n", seq + 8);
    }
    read += "* 6 FETCH (UID 14 BODY[] {4}\r\nm6\r\n)\r\n";
    b.push(send(&format!("{read}A0005 OK done\r\n")));
    // …then UID 15, listed at another size than the bytes sent.
    b.push(Step::Expect("A0006 UID FETCH 15 (UID BODY.PEEK[])\r\n"));
    b.push(send(
        "* 7 FETCH (UID 15 BODY[] {4}\r\nm7\r\n)\r\nA0006 OK done\r\n",
    ));

    let Copied { out, snapshot, .. } = copy_to_b(&bodies, b).await;

    assert_eq!(out.counts().copied_to, [0, 7]);
    let state = snapshot.load().unwrap();
    let rows: Vec<_> = state.mailboxes["INBOX"].cache[Side::B.index()]
        .iter()
        .map(|((_, uid), c)| (*uid, c.read_back, c.size, c.fingerprint))
        .collect();
    let fingerprint = |b: &[u8]| crate::fingerprint::fingerprint(b);
    assert_eq!(
        rows,
        [
            (9, true, 3, fingerprint(b"m1\n")),
            (10, true, 3, fingerprint(b"m2\n")),
            (11, true, 3, fingerprint(b"m3\n")),
            (12, true, 3, fingerprint(b"m4\n")),
            (13, false, 3, fingerprint(b"m5\n")),
            (14, true, 4, fingerprint(b"m6\r\n")),
            (15, true, 4, fingerprint(b"m7\r\n")),
        ]
    );
    assert!(state.mailboxes["INBOX"]
        .pairs
        .iter()
        .all(|p| p.unconfirmed.is_none()));
    // The pair holds each side's own content: B's as read back where the
    // server rewrote it (UID 14 gained a line break; UID 15's CRLF is
    // the same content), so a restored B is re-linked to it (I15).
    let contents: Vec<_> = state.mailboxes["INBOX"]
        .pairs
        .iter()
        .filter(|p| p.fingerprint_b.is_some())
        .map(|p| (p.uid[1], p.fingerprint, p.fingerprint_on(Side::B)))
        .collect();
    assert_eq!(contents, [(14, fingerprint(b"m6"), fingerprint(b"m6\r\n"))]);
}

#[tokio::test]
async fn only_the_planned_expunges_are_sent_and_a_withheld_one_keeps_its_pair() {
    let expunge = |uid: Uid, mode: ExpungeMode| Expunge {
        side: Side::B,
        uid,
        pair: [uid + 10, uid],
        fingerprint: fp(uid as u8),
        base: Some(FlagSet::new()),
        mode,
        reason: ExpungeReason::Proven,
        level: crate::model::PairLevel::Exact,
        normalised: None,
        partner: None,
    };
    let mb = MailboxPlan {
        pairs: vec![PlannedPair {
            uid: [11, 1],
            fingerprint: fp(1),
            base_before: Some(FlagSet::new()),
            agreed: FlagSet::new(),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        }],
        expunges: vec![
            expunge(5, ExpungeMode::Expunge),
            expunge(7, ExpungeMode::FlagOnly),
        ],
        withheld: vec![expunge(6, ExpungeMode::Expunge)],
        ..inbox()
    };
    let a = logged_in("");
    let mut b = logged_in("UIDPLUS");
    let id = Some("Message-ID: <five@example.org>");
    let at = |uidnext, exists| [42, uidnext, exists];
    b.extend(selected_reading_id(
        ["A0002", "A0003"],
        "INBOX",
        at(9, 4),
        5,
        id,
    ));
    b.extend(uid_expunge("A0004", "A0005", 5));
    // A NO to the header read leaves the Message-ID unknown, no more.
    b.extend(selected_reading_id(
        ["A0006", "A0007"],
        "INBOX",
        at(9, 3),
        7,
        None,
    ));
    b.push(Step::Expect(
        "A0008 UID STORE 7 +FLAGS.SILENT (\\Deleted)\r\n",
    ));
    b.push(send("A0008 OK done\r\n"));
    let (mut lane, servers) = lane([a, b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);
    // B's messages as gather cached them.
    let cached: Vec<_> = [5, 6, 7]
        .map(|uid| MessageMeta {
            uid,
            size: 3,
            internal_date: InternalDate::parse(DATE).unwrap(),
            flags: FlagSet::new(),
            fingerprint: fp(uid as u8),
            normalised: crate::model::Normalised::UNKNOWN,
        })
        .into();
    snapshot
        .cache_messages("INBOX", Side::B, 42, &cached)
        .unwrap();

    let statuses = [status(7, 12, 1), status(42, 9, 4)];
    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses, true).await;

    assert_eq!(out.failures.len(), 0, "{:?}", out.failures);
    assert_eq!(out.counts().expunged_on, [0, 2]);
    assert_eq!(pairs(&snapshot), [[11, 1], [16, 6]]);
    let pending: Vec<_> = snapshot
        .message_statuses()
        .unwrap()
        .into_iter()
        .map(|r| (r.side, r.uid, r.status))
        .collect();
    assert_eq!(pending, [(Side::B, 7, MessageStatus::PendingExpunge)]);
    // The expunged UID is forgotten: one that comes back is a regression.
    let state = snapshot.load().unwrap();
    let cached: Vec<_> = state.mailboxes["INBOX"].cache[Side::B.index()]
        .keys()
        .copied()
        .collect();
    assert_eq!(cached, [(42, 6), (42, 7)]);
    scripts_followed(lane, servers).await;
}

#[tokio::test]
async fn a_connection_cut_mid_append_leaves_the_intent_for_the_next_run() {
    // Without LITERAL+ the client waits for a continuation it never gets:
    // the server may or may not have taken the batch.
    let mut b = logged_in("MULTIAPPEND UIDPLUS");
    b.push(expect(format!(
        "A0002 APPEND \"INBOX\" \"{DATE}\" {{3}}\r\n"
    )));
    b.push(Step::Close);

    let Copied {
        out,
        failures,
        snapshot,
        ..
    } = copy_to_b(&["one", "two"], b).await;

    assert_eq!(out.counts().copied_to, [0, 0]);
    assert_eq!(failures, [(Side::B, "copy 2 messages".to_string())]);
    let intents: Vec<_> = snapshot
        .intents()
        .unwrap()
        .into_iter()
        .map(|i| (i.mailbox, i.target, i.uidvalidity, i.uidnext, i.items))
        .collect();
    let hash = |body: &str| crate::fingerprint::fingerprint(body.as_bytes());
    let items = vec![(hash("one"), Some(3)), (hash("two"), Some(3))];
    assert_eq!(intents, [("INBOX".to_string(), Side::B, 42, 9, items)]);
    assert!(pairs(&snapshot).is_empty());
}

/// `name` as listed on both sides, with these statuses.
fn listed(name: &str, statuses: [MailboxStatus; 2]) -> MailboxInput {
    MailboxInput {
        name: name.into(),
        sides: statuses.map(|status| {
            Some(SideListing {
                wire_name: name.into(),
                status,
                ..SideListing::default()
            })
        }),
        base: MailboxBase::default(),
    }
}

#[tokio::test]
async fn e12_a_message_moved_between_mailboxes_is_copied_before_it_is_expunged() {
    // On A a message moved from Old (UID 3) to New (UID 1). Old comes first
    // in the plan, yet B gets the copy in New before losing it from Old:
    // at no moment is the message on B nowhere.
    let moved = Expunge {
        side: Side::B,
        uid: 5,
        pair: [3, 5],
        fingerprint: fp(1),
        base: Some(FlagSet::new()),
        mode: ExpungeMode::Expunge,
        reason: ExpungeReason::Proven,
        level: crate::model::PairLevel::Exact,
        normalised: None,
        partner: None,
    };
    let mailbox = |name: &str| MailboxPlan {
        name: name.into(),
        wire: [Some(name.into()), Some(name.into())],
        ..MailboxPlan::default()
    };
    let plan = Plan {
        schema_version: crate::plan::SCHEMA_VERSION,
        mailboxes: vec![
            MailboxPlan {
                expunges: vec![moved],
                ..mailbox("Old")
            },
            MailboxPlan {
                copies: copies_from_a(&["moved"]),
                ..mailbox("New")
            },
        ],
        notes: Vec::new(),
        subscriptions: Vec::new(),
    };
    let input = ReconcileInput {
        mailboxes: vec![
            listed(
                "Old",
                [status(7, 4, 0), status(42, 6, 1)].map(Option::unwrap),
            ),
            listed(
                "New",
                [status(8, 2, 1), status(43, 9, 0)].map(Option::unwrap),
            ),
        ],
        ..ReconcileInput::default()
    };
    let mut a = logged_in("");
    a.extend(selected("A0002", "EXAMINE \"New\"", 8, 2, 1));
    a.push(Step::Expect("A0003 UID FETCH 1 (UID BODY.PEEK[])\r\n"));
    a.push(send(
        "* 1 FETCH (UID 1 BODY[] {5}\r\nmoved)\r\nA0003 OK done\r\n",
    ));
    let mut b = logged_in("MULTIAPPEND UIDPLUS LITERAL+");
    b.extend(append("A0002", "New", &["moved"]));
    b.push(send("A0002 OK [APPENDUID 43 9] done\r\n"));
    b.extend(selected("A0003", "SELECT \"New\"", 43, 10, 1));
    b.extend(listed_back(["A0004", "A0005"], 9, 1, "moved"));
    let id = Some("Message-ID: <moved@example.org>");
    b.extend(selected_reading_id(
        ["A0006", "A0007"],
        "Old",
        [42, 6, 1],
        5,
        id,
    ));
    b.extend(uid_expunge("A0008", "A0009", 5));
    // What was seen after writing, per mailbox.
    b.extend(selected("A0010", "EXAMINE \"Old\"", 42, 6, 0));
    b.extend(selected("A0011", "EXAMINE \"New\"", 43, 10, 1));
    let (specs, servers) = run_pair([a, b]).await;
    let mut pool = Pool::connect(&specs, 1).await.expect("connect");
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let turn = crate::progress::TEST_TURN.lock().await;
    let kept = crate::gather::Kept::default();
    let out = apply(&plan, &input, &mut pool, &mut snapshot, None, &kept).await;
    drop(turn);

    assert_eq!(out.failures.len(), 0, "{:?}", out.failures);
    let counts = out.counts();
    assert_eq!((counts.copied_to, counts.expunged_on), ([0, 1], [0, 1]));
    let state = snapshot.load().unwrap();
    let pairs = |name: &str| -> Vec<[Uid; 2]> {
        state.mailboxes[name].pairs.iter().map(|p| p.uid).collect()
    };
    assert_eq!((pairs("Old"), pairs("New")), (vec![], vec![[1, 9]]));
    drop(pool);
    followed(servers).await;
}

#[tokio::test]
async fn a_flag_change_refused_as_modified_is_left_to_the_next_run_and_its_pair_keeps_its_base() {
    // Both messages gain \Seen on B. The server reports UID 12 changed
    // since the listing (CONDSTORE): it is not overwritten, and its pair
    // keeps the flags last agreed, so the next run merges its change.
    let seen = FlagSet::from_wire(["\\Seen"]);
    let pair = |n: Uid| PlannedPair {
        uid: [n, n + 10],
        fingerprint: fp(n as u8),
        base_before: Some(FlagSet::new()),
        agreed: seen.clone(),
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    };
    let change = |n: Uid| FlagChange {
        side: Side::B,
        pair: [n, n + 10],
        delta: FlagDelta {
            add: seen.clone(),
            remove: FlagSet::new(),
        },
    };
    let mb = MailboxPlan {
        pairs: vec![pair(1), pair(2)],
        flag_changes: vec![change(1), change(2)],
        ..inbox()
    };
    let a = logged_in("");
    let mut b = logged_in_enabling("ENABLE CONDSTORE", "A0002 ENABLE CONDSTORE\r\n", "");
    b.push(Step::Expect("A0003 SELECT \"INBOX\" (CONDSTORE)\r\n"));
    b.push(send(concat!(
        "* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 13] ok\r\n",
        "* OK [HIGHESTMODSEQ 100] ok\r\nA0003 OK [READ-WRITE] done\r\n",
    )));
    b.push(Step::Expect(
        "A0004 UID STORE 11:12 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ));
    // The STOREs are B's last write here: the read-back rides behind.
    b.push(Step::Expect("A0005 EXAMINE \"INBOX\" (CONDSTORE)\r\n"));
    b.push(Step::Expect(
        "A0006 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 100)\r\n",
    ));
    b.push(send(concat!(
        "* 1 FETCH (UID 11 MODSEQ (101))\r\nA0004 OK [MODIFIED 12] Conditional STORE failed\r\n",
        "* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 13] ok\r\n",
        "* OK [HIGHESTMODSEQ 102] ok\r\nA0005 OK [READ-ONLY] done\r\n",
        "* 1 FETCH (UID 11 FLAGS (\\Seen) MODSEQ (101))\r\n",
        "* 2 FETCH (UID 12 FLAGS (\\Flagged) MODSEQ (102))\r\nA0006 OK done\r\n",
    )));
    let (mut lane, servers) = lane([a, b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let listed_b = MailboxStatus {
        highestmodseq: Some(100),
        ..status(42, 13, 2).unwrap()
    };
    let statuses = [status(7, 3, 2), Some(listed_b)];
    let out = run_mailbox(&mb, &mut lane, &mut snapshot, statuses, false).await;
    scripts_followed(lane, servers).await;

    assert_eq!(out.failures.len(), 0, "{:?}", out.failures);
    assert_eq!(out.counts().flag_changes_on, [0, 1]);
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("changed during the run")),
        "{:?}",
        out.notes
    );
    let state = snapshot.load().unwrap();
    let flags: Vec<_> = state.mailboxes["INBOX"]
        .pairs
        .iter()
        .map(|p| (p.uid, p.flags.clone()))
        .collect();
    assert_eq!(
        flags,
        [([1, 11], Some(seen)), ([2, 12], Some(FlagSet::new()))]
    );
}

#[tokio::test]
async fn a_rename_that_comes_back_under_another_uidvalidity_fails_the_mailbox() {
    // B is to rename Old to New as A did; the server does, but New comes
    // back under another UIDVALIDITY: its UIDs are not the listed ones, so
    // the mailbox goes no further this run (prepare says so; apply then
    // neither copies, stores nor expunges by those UIDs).
    let mb = MailboxPlan {
        name: "New".into(),
        wire: [Some("New".into()), Some("New".into())],
        rename: Some(MailboxRename {
            side: Side::B,
            from: "Old".into(),
            from_wire: "Old".into(),
            implied: false,
        }),
        copies: copies_from_a(&["one"]),
        ..MailboxPlan::default()
    };
    let a = logged_in("");
    let mut b = logged_in("");
    b.push(Step::Expect("A0002 RENAME \"Old\" \"New\"\r\n"));
    b.push(send("A0002 OK renamed\r\n"));
    b.extend(selected("A0003", "EXAMINE \"New\"", 99, 9, 1));
    let (mut lane, servers) = lane([a, b]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = open_snapshot(&dir);

    let input = ReconcileInput::default();
    let shared = RefCell::new(&mut snapshot);
    let mut out = ApplyOutcome::default();
    let statuses = [status(7, 2, 1), status(42, 9, 1)];
    let mut run = MailboxRun::new(&mb, &input, &mut lane, &shared, &mut out, statuses);
    assert!(!run.prepare().await, "the mailbox cannot go on");
    scripts_followed(lane, servers).await;

    assert_eq!(out.counts().renamed_on, [0, 1]);
    let failures: Vec<_> = out
        .failures
        .iter()
        .map(|f| (f.side, f.action.as_str(), f.error.as_str()))
        .collect();
    let why = "renamed, but its UIDVALIDITY changed; the next run pairs its messages by content";
    assert_eq!(failures, [(Side::B, "rename mailbox", why)]);
}
