//! Gathering against two scripted fake servers: what real servers will
//! not do on demand (a mailbox that cannot be examined on one side), with
//! every command each side must receive written out.

use super::*;
use crate::imap::fake_server::{followed, logged_in, run_pair, send, Step};

/// Login, the tree (INBOX only) and the subscriptions, then `then`.
fn listing(then: [Step; 2]) -> Vec<Step> {
    let mut steps = logged_in("");
    steps.extend([
        Step::Expect("A0002 LIST \"\" \"*\"\r\n"),
        send("* LIST () \"/\" INBOX\r\nA0002 OK done\r\n"),
        Step::Expect("A0003 LSUB \"\" \"*\"\r\n"),
        send("A0003 OK done\r\n"),
    ]);
    steps.extend(then);
    steps
}

/// Gathers (as `plan` does, nothing in the snapshot) from servers
/// following these scripts, and checks each followed its script to the end.
async fn gather_from(scripts: [Vec<Step>; 2]) -> Result<Gathered, (Side, ImapError)> {
    let (specs, servers) = run_pair(scripts).await;
    let mut pool = Pool::connect(&specs, 1).await.expect("connect");
    let reading = Reading {
        read_only: true,
        verify: false,
        body_reconnects: 0,
        defer_bodies: [false, false],
        headers: false,
        skip_settled: false,
        subset: false,
    };
    let gathered = gather(
        &mut pool,
        &SnapshotState::default(),
        None,
        &reading,
        &NameRules::default(),
        &MailboxFilter::default(),
        CopySettings::default(),
    )
    .await;
    drop(pool);
    followed(servers).await;
    gathered
}

/// A mailbox that cannot be examined on one side is a failure of that
/// mailbox, reported with the server's words, and it is left out of the
/// input whole — never read as an empty mailbox there, which would copy
/// everything into it, or prove the other side's messages deleted.
#[tokio::test]
async fn a_mailbox_that_cannot_be_listed_is_a_failure_never_an_empty_mailbox() {
    let a = listing([
        Step::Expect("A0004 EXAMINE \"INBOX\"\r\n"),
        send("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\nA0004 OK done\r\n"),
    ]);
    let b = listing([
        Step::Expect("A0004 EXAMINE \"INBOX\"\r\n"),
        send("A0004 NO [UNAVAILABLE] backend down\r\n"),
    ]);
    let gathered = gather_from([a, b]).await.expect("the trees were listed");
    assert!(
        gathered.input.mailboxes.is_empty(),
        "{:?}",
        gathered.input.mailboxes
    );
    let failures: Vec<_> = gathered
        .failures
        .iter()
        .map(|f| (f.mailbox.as_str(), f.side))
        .collect();
    assert_eq!(failures, [("INBOX", Side::B)]);
    assert!(gathered.failures[0].error.contains("backend down"));
}

/// A tree that cannot be listed fails the whole gathering with the side
/// named: nothing is reconciled against half a picture.
#[tokio::test]
async fn a_tree_that_cannot_be_listed_is_an_error() {
    let mut a = logged_in("");
    a.extend([
        Step::Expect("A0002 LIST \"\" \"*\"\r\n"),
        Step::Expect("A0003 LSUB \"\" \"*\"\r\n"),
        send("* LIST () \"/\" INBOX\r\nA0002 OK done\r\nA0003 OK done\r\n"),
    ]);
    // The subscriptions were asked in the same flight, before the tree's
    // NO came: answered, and the NO still fails the listing.
    let mut b = logged_in("");
    b.extend([
        Step::Expect("A0002 LIST \"\" \"*\"\r\n"),
        Step::Expect("A0003 LSUB \"\" \"*\"\r\n"),
        send("A0002 NO [SERVERBUG] try later\r\nA0003 OK done\r\n"),
    ]);
    match gather_from([a, b]).await {
        Err((side, e)) => assert_eq!(side, Side::B, "{e}"),
        Ok(g) => panic!("listed: {:?}", g.input.mailboxes),
    }
}
