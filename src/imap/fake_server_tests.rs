//! Framing and failure cases against a scripted fake server: what real
//! servers will not do on demand (split literals, a cut connection, a
//! stall, oversized data, NO where OK was expected). Real-server behaviour
//! is tested end to end in tests/.

use super::fake_server::{
    expect, limits, logged_in, logged_in_enabling, run_script, send, spec, Step,
};
use super::*;
use crate::model::{FlagDelta, FlagSet, InternalDate};
use std::time::Duration;

/// Greeting, SASL-IR login (tag A0001) with these capabilities after it,
/// and a SELECT of INBOX (tag A0002) with `exists` messages.
fn logged_in_and_selected(caps: &str, exists: u32) -> Vec<Step> {
    let mut steps = logged_in(caps);
    steps.push(Step::Expect("A0002 SELECT \"INBOX\""));
    steps.push(Step::Send(
        format!(
            "* FLAGS (\\Seen)\r\n* {exists} EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\nA0002 OK [READ-WRITE] done\r\n"
        )
        .into_bytes(),
    ));
    steps
}

async fn connect_selected(port: u16, limits: &Limits) -> Connection {
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), limits)
        .await
        .expect("connect");
    let st = c.select("INBOX", false).await.expect("select");
    assert_eq!(
        (st.uidvalidity, st.uidnext, st.highestmodseq),
        (42, 9, None)
    );
    c
}

async fn collect_bodies(
    c: &mut Connection,
    uids: &[Uid],
) -> (Result<Vec<Uid>, ImapError>, Vec<(Uid, Vec<u8>)>) {
    let mut got = Vec::new();
    let r = c.fetch_bodies(uids, &mut |u, b| got.push((u, b))).await;
    (r, got)
}

#[tokio::test]
async fn fake_literals_split_across_reads_arrive_whole() {
    let body = "Subject: hi\r\n\r\nbody with {5}\r\n and ) and \"quotes\"\r\n";
    let reply = format!(
        "* 1 FETCH (UID 3 BODY[] {{{}}}\r\n{body})\r\n* 2 FETCH (BODY[] {{4}}\r\nabcd UID 5)\r\nA0003 OK done\r\n",
        body.len()
    );
    let mut steps = logged_in_and_selected("LITERAL+", 2);
    steps.push(Step::Expect("A0003 UID FETCH 3,5 (UID BODY.PEEK[])"));
    steps.push(Step::Trickle(reply.into_bytes(), 7));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let (r, got) = collect_bodies(&mut c, &[5, 3]).await;
    assert_eq!(r.expect("fetch"), Vec::<Uid>::new());
    assert_eq!(
        got,
        vec![(3, body.as_bytes().to_vec()), (5, b"abcd".to_vec())]
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_tagged_no_on_fetch_is_an_error_and_the_session_goes_on() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 UID FETCH 1 (UID BODY.PEEK[])"));
    steps.push(send(
        "* 1 FETCH (UID 1 BODY[] {2}\r\nhi)\r\nA0003 NO [SERVERBUG] oops\r\n",
    ));
    steps.push(Step::Expect("A0004 CREATE \"X\""));
    steps.push(send("A0004 OK created\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let (r, _) = collect_bodies(&mut c, &[1]).await;
    let err = r.expect_err("NO must be an error");
    assert!(
        matches!(&err, ImapError::No { code: Some(c), .. } if c == "SERVERBUG"),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    let text = err.to_string();
    assert!(text.starts_with("B (127.0.0.1:"), "{text}");
    assert!(text.contains("refused: NO [SERVERBUG] oops"), "{text}");
    assert!(c.is_alive());
    c.create("X").await.expect("session still usable");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_connection_cut_mid_literal_is_an_error_not_a_partial_result() {
    let mut steps = logged_in_and_selected("", 2);
    steps.push(Step::Expect("A0003 UID FETCH 1:2"));
    steps.push(send("* 1 FETCH (UID 1 BODY[] {2}\r\nok)\r\n* 2 FETCH (UID 2 BODY[] {100}\r\nonly the first bytes"));
    steps.push(Step::Close);
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let (r, got) = collect_bodies(&mut c, &[1, 2]).await;
    let err = r.expect_err("cut connection");
    assert!(matches!(err, ImapError::Eof { .. }), "{err:?}");
    assert!(
        got.iter().all(|(u, _)| *u != 2),
        "no partial body may be delivered"
    );
    assert!(!c.is_alive());
    let later = c.create("X").await.expect_err("dead session");
    assert!(matches!(later, ImapError::Closed { .. }), "{later:?}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_oversized_literal_is_refused() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 UID FETCH 1"));
    steps.push(send("* 1 FETCH (UID 1 BODY[] {5000}\r\n"));
    let (port, server) = run_script(steps).await;
    let lim = Limits {
        max_literal: 1000,
        ..limits()
    };
    let mut c = connect_selected(port, &lim).await;
    let (r, got) = collect_bodies(&mut c, &[1]).await;
    let err = r.expect_err("oversized");
    assert!(
        err.to_string()
            .contains("literal of 5000 bytes exceeds the cap of 1000"),
        "{err}"
    );
    assert!(got.is_empty());
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_huge_line_is_refused() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 LIST"));
    let mut huge = b"* LIST () \"/\" ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100_000));
    steps.push(Step::Send(huge));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let err = c.list_mailboxes().await.expect_err("huge line");
    assert!(err.to_string().contains("line longer than 65536"), "{err}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_stall_is_a_timeout_not_a_hang() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 UID FETCH 1:*"));
    steps.push(send("* 1 FETCH (UID 1 FLAGS () "));
    steps.push(Step::Hang);
    let (port, _server) = run_script(steps).await;
    let lim = Limits {
        read_timeout: Duration::from_millis(300),
        ..limits()
    };
    let mut c = connect_selected(port, &lim).await;
    let started = std::time::Instant::now();
    let err = c.fetch_all_meta().await.expect_err("stall");
    assert!(matches!(err, ImapError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn fake_bye_during_a_command_is_an_error() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 UID FETCH 1:*"));
    steps.push(send("* BYE shutting down\r\n"));
    steps.push(Step::Close);
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let err = c.fetch_all_meta().await.expect_err("bye");
    assert!(
        matches!(&err, ImapError::Bye { text, .. } if text == "shutting down"),
        "{err:?}"
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_unknown_untagged_data_is_ignored_and_nil_bodies_are_gone() {
    let mut steps = logged_in_and_selected("", 3);
    steps.push(Step::Expect(
        "A0003 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
    ));
    steps.push(send(concat!(
        "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n",
        "* ESEARCH (TAG \"x\") UID ALL 1:3\r\n",
        "* 2 FETCH (FLAGS (\\Seen))\r\n",
        "* OK [SOMETHINGNEW 1 2] whatever\r\n",
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent $Junk) RFC822.SIZE 2 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n",
        "* 2 FETCH (UID 4 FLAGS () RFC822.SIZE 4 INTERNALDATE \" 1-Jan-2020 00:00:00 +0000\" MODSEQ (7))\r\n",
        "A0003 OK done\r\n",
    )));
    steps.push(Step::Expect("A0004 UID FETCH 1,4 (UID BODY.PEEK[])"));
    steps.push(send(
        "* 1 FETCH (UID 1 BODY[] {2}\r\nhi)\r\n* 2 FETCH (UID 4 BODY[] NIL)\r\nA0004 OK done\r\n",
    ));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let meta = c.fetch_all_meta().await.expect("meta");
    assert_eq!(
        meta,
        vec![
            ListedMessage {
                uid: 1,
                size: 2,
                internal_date: InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap(),
                flags: FlagSet::from_wire(["\\Seen", "$Junk"]),
            },
            ListedMessage {
                uid: 4,
                size: 4,
                internal_date: InternalDate::parse("01-Jan-2020 00:00:00 +0000").unwrap(),
                flags: FlagSet::new(),
            },
        ]
    );
    let (r, got) = collect_bodies(&mut c, &[1, 4]).await;
    assert_eq!(r.expect("bodies"), vec![4]);
    assert_eq!(got, vec![(1, b"hi".to_vec())]);
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_body_batches_are_pipelined() {
    // All three batch commands must arrive before the server answers any:
    // a client waiting for each reply would stall here and time out.
    let mut steps = logged_in_and_selected("", 5);
    steps.push(Step::Expect("A0003 UID FETCH 1:2 "));
    steps.push(Step::Expect("A0004 UID FETCH 3,5 "));
    steps.push(Step::Expect("A0005 UID FETCH 7 "));
    let mut reply = String::new();
    for (tag, uids) in [("A0003", &[1, 2][..]), ("A0004", &[3, 5]), ("A0005", &[7])] {
        for u in uids {
            reply += &format!("* {u} FETCH (UID {u} BODY[] {{1}}\r\n{u})\r\n");
        }
        reply += &format!("{tag} OK done\r\n");
    }
    steps.push(Step::Send(reply.into_bytes()));
    let (port, server) = run_script(steps).await;
    let lim = Limits {
        fetch_batch_count: 2,
        ..limits()
    };
    let mut c = connect_selected(port, &lim).await;
    let (r, got) = collect_bodies(&mut c, &[7, 5, 3, 2, 1]).await;
    assert_eq!(r.expect("bodies"), Vec::<Uid>::new());
    let uids: Vec<Uid> = got.iter().map(|(u, _)| *u).collect();
    assert_eq!(uids, vec![1, 2, 3, 5, 7]);
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_multiappend_without_literal_plus_waits_for_each_continuation() {
    let mut steps = logged_in_and_selected("MULTIAPPEND UIDPLUS", 0);
    steps.push(Step::Expect(
        "A0003 APPEND \"Sent\" (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\n",
    ));
    steps.push(Step::Silence(150));
    steps.push(send("+ go ahead\r\n"));
    steps.push(Step::Expect("hello \"17-Jul-1996 02:44:25 -0700\" {3}\r\n"));
    steps.push(Step::Silence(150));
    steps.push(send("+ more\r\n"));
    steps.push(Step::Expect("abc\r\n"));
    steps.push(send("A0003 OK [APPENDUID 77 4:5] Append completed.\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let seen = FlagSet::from_wire(["\\Seen", "\\Recent"]);
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let before = write_count();
    let r = c
        .append(
            "Sent",
            &[
                AppendItem {
                    flags: &seen,
                    internal_date: date,
                    body: b"hello",
                },
                AppendItem {
                    flags: &none,
                    internal_date: date,
                    body: b"abc",
                },
            ],
        )
        .await
        .expect("append");
    assert_eq!(
        r,
        AppendResult {
            uidvalidity: Some(77),
            uids: Some(vec![4, 5])
        }
    );
    assert!(write_count() > before);
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_appenduid_that_does_not_match_the_batch_is_not_trusted() {
    let mut steps = logged_in_and_selected("MULTIAPPEND UIDPLUS LITERAL+", 0);
    steps.push(Step::Expect(
        "A0003 APPEND \"Sent\" \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n",
    ));
    steps.push(Step::Expect("a \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n"));
    steps.push(Step::Expect("b\r\n"));
    steps.push(send("A0003 OK [APPENDUID 77 4] Append completed.\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let r = c
        .append(
            "Sent",
            &[
                AppendItem {
                    flags: &none,
                    internal_date: date,
                    body: b"a",
                },
                AppendItem {
                    flags: &none,
                    internal_date: date,
                    body: b"b",
                },
            ],
        )
        .await
        .expect("append");
    assert_eq!(
        r,
        AppendResult {
            uidvalidity: None,
            uids: None
        }
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_store_splits_long_uid_sets_and_skips_empty_halves() {
    let mut steps = logged_in_and_selected("", 3);
    steps.push(Step::Expect(
        "A0003 UID STORE 1,3,5,7,9,11 +FLAGS.SILENT ($Junk \\Seen)",
    ));
    steps.push(Step::Expect(
        "A0004 UID STORE 13,15,17,19 +FLAGS.SILENT ($Junk \\Seen)",
    ));
    steps.push(send(
        "A0003 OK done\r\n* 3 FETCH (FLAGS (\\Seen))\r\nA0004 OK done\r\n",
    ));
    let (port, server) = run_script(steps).await;
    let lim = Limits {
        max_command_line: 32 + "+FLAGS.SILENT".len() + "($Junk \\Seen)".len() + 14,
        ..limits()
    };
    let mut c = connect_selected(port, &lim).await;
    let uids: Vec<Uid> = (1..20).step_by(2).collect();
    let delta = FlagDelta {
        add: FlagSet::from_wire(["\\Seen", "$Junk"]),
        remove: FlagSet::new(),
    };
    c.store(&uids, &delta).await.expect("store");
    let bad = FlagDelta {
        add: FlagSet::from_wire(["bad flag"]),
        remove: FlagSet::new(),
    };
    let err = c.store(&uids, &bad).await.expect_err("bad flag");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    assert!(c.is_alive());
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_login_without_sasl_ir_uses_a_continuation_and_login_as_last_resort() {
    let steps = vec![
        send("* OK fake ready\r\n"),
        Step::Expect("A0001 CAPABILITY"),
        send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK done\r\n"),
        Step::Expect("A0002 AUTHENTICATE PLAIN\r\n"),
        send("+ \r\n"),
        Step::Expect("AGFsaWNlAGh1bnRlcjI=\r\n"),
        send("* CAPABILITY IMAP4rev1 UIDPLUS\r\nA0002 OK Logged in\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    assert!(c.has_capability("uidplus"));
    drop(c);
    server.await.unwrap().unwrap();

    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1] fake ready\r\n"),
        Step::Expect("A0001 LOGIN \"alice\" \"hunter2\"\r\n"),
        send("A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let err = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(matches!(err, ImapError::AuthRefused { .. }), "{err:?}");
    assert!(
        text.contains("AUTHENTICATIONFAILED") && !text.contains("hunter2"),
        "{text}"
    );
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_starttls_not_offered_is_refused_before_any_password() {
    let steps = vec![send(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n",
    )];
    let (port, server) = run_script(steps).await;
    let err = Connection::connect_with(&spec(port, TlsMode::StartTls), &limits())
        .await
        .err()
        .expect("no STARTTLS");
    assert!(matches!(err, ImapError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("does not offer"), "{err}");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_untagged_bad_and_garbage_kill_the_session() {
    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 LIST"));
    steps.push(send("* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let err = c.list_mailboxes().await.expect_err("garbage");
    assert!(matches!(err, ImapError::Protocol { .. }), "{err:?}");
    assert!(!c.is_alive());
    drop(c);
    server.await.unwrap().unwrap();

    let mut steps = logged_in_and_selected("", 1);
    steps.push(Step::Expect("A0003 LIST"));
    steps.push(send("* BAD what was that\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let err = c.list_mailboxes().await.expect_err("untagged BAD");
    assert!(matches!(err, ImapError::Bad { .. }), "{err:?}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[test]
fn connection_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let run = async {
        let mut c = Connection::connect(&spec(1, TlsMode::None)).await.unwrap();
        let _ = c.list_mailboxes().await;
        let _ = c.select("x", true).await;
        let _ = c.fetch_all_meta().await;
        let _ = c.fetch_bodies(&[1], &mut |_, _| {}).await;
        let _ = c.append("x", &[]).await;
        let _ = c.store(&[1], &FlagDelta::default()).await;
        let _ = c.create("x").await;
        let _ = c.fetch_changes(1).await;
        let _ = c.uid_list().await;
        let _ = c
            .store_unchanged_since(&[1], &FlagDelta::default(), 1)
            .await;
        let _ = c.uid_expunge(&[1]).await;
        let _ = c.fetch_meta(&[1]).await;
        let _ = c.delete_mailbox("x").await;
        let _ = c.rename_mailbox("x", "y").await;
        let _ = c.subscribe("x").await;
        let _ = c.unsubscribe("x").await;
        let _ = c.list_subscribed().await;
        c.logout().await;
    };
    assert_send(&run);
}

#[tokio::test]
async fn fake_bye_before_a_cut_explains_a_failed_append() {
    let mut steps = logged_in_and_selected("LITERAL+", 0);
    steps.push(Step::Expect("A0003 APPEND \"Big\""));
    steps.push(send("* BYE Too much data, disconnecting\r\n"));
    steps.push(Step::Close);
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let big = vec![b'x'; 32 * 1024 * 1024];
    let err = c
        .append(
            "Big",
            &[AppendItem {
                flags: &none,
                internal_date: date,
                body: &big,
            }],
        )
        .await
        .expect_err("cut");
    assert!(
        matches!(&err, ImapError::Bye { text, .. } if text == "Too much data, disconnecting"),
        "{err:?}"
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_select_reads_condstore_state_and_asks_status_when_uidnext_is_missing() {
    let steps = vec![
        send("* PREAUTH [CAPABILITY IMAP4rev1 CONDSTORE] welcome back\r\n"),
        Step::Expect("A0001 EXAMINE \"Arch \\\"1\\\"\" (CONDSTORE)"),
        send(concat!(
            "* 7 EXISTS\r\n",
            "* OK [UIDVALIDITY 5] ok\r\n",
            "* OK [HIGHESTMODSEQ 12345678901] ok\r\n",
            "* OK [PERMANENTFLAGS ()] read-only\r\n",
            "A0001 OK [READ-ONLY] done\r\n",
        )),
        Step::Expect("A0002 STATUS \"Arch \\\"1\\\"\" (UIDNEXT)"),
        send("* STATUS \"Arch \\\"1\\\"\" (UIDNEXT 31)\r\nA0002 OK done\r\n"),
        Step::Expect("A0003 SELECT \"Other\" (CONDSTORE)"),
        send("* 0 EXISTS\r\n* OK [UIDVALIDITY 6] ok\r\n* OK [UIDNEXT 1] ok\r\n* OK [NOMODSEQ] no\r\nA0003 OK done\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("preauth");
    let st = c.select("Arch \"1\"", true).await.expect("examine");
    assert_eq!(
        st,
        MailboxStatus {
            uidvalidity: 5,
            uidnext: 31,
            exists: 7,
            highestmodseq: Some(12345678901),
            permanent_flags: None,
        }
    );
    let st = c.select("Other", false).await.expect("select");
    assert_eq!(
        (st.uidvalidity, st.uidnext, st.exists, st.highestmodseq),
        (6, 1, 0, None)
    );
    // An empty mailbox is listed without asking the server.
    assert_eq!(c.fetch_all_meta().await.expect("meta"), vec![]);
    let err = c.select("a\r\nb", false).await.expect_err("CRLF in a name");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    drop(c);
    server.await.unwrap().unwrap();
}

/// RFC 7889: `APPENDLIMIT=n` is the server's limit; a bare `APPENDLIMIT`
/// means per mailbox, asked by STATUS, where NIL is "no limit".
#[tokio::test]
async fn fake_appendlimit_from_the_capability_and_per_mailbox_by_status() {
    let steps = vec![
        send("* PREAUTH [CAPABILITY IMAP4rev1 APPENDLIMIT] welcome back\r\n"),
        Step::Expect("A0001 STATUS \"INBOX\" (APPENDLIMIT)"),
        send("* STATUS INBOX (APPENDLIMIT 35000000)\r\nA0001 OK done\r\n"),
        Step::Expect("A0002 STATUS \"Sent Items\" (APPENDLIMIT)"),
        send("* STATUS \"Sent Items\" (APPENDLIMIT NIL)\r\nA0002 OK done\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("preauth");
    assert_eq!(
        c.append_limit(),
        None,
        "a bare APPENDLIMIT limits per mailbox"
    );
    let inbox = c.mailbox_append_limit("INBOX").await.expect("status");
    assert_eq!(inbox, Some(35_000_000));
    let sent = c.mailbox_append_limit("Sent Items").await.expect("status");
    assert_eq!(sent, None, "NIL: no limit");
    drop(c);
    server.await.unwrap().unwrap();

    let steps = vec![send(
        "* PREAUTH [CAPABILITY IMAP4rev1 APPENDLIMIT=20480] welcome back\r\n",
    )];
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("preauth");
    assert_eq!(c.append_limit(), Some(20480));
    // The server-wide limit needs no STATUS: nothing is sent.
    assert_eq!(c.mailbox_append_limit("INBOX").await.expect("none"), None);
    drop(c);
    server.await.unwrap().unwrap();
}

/// A server that limits per mailbox and has LIST-STATUS gives each
/// mailbox's limit with the LIST, in the one round trip: `APPENDLIMIT NIL`
/// (or the item left out) is no limit, a mailbox without STATUS data is not
/// known (asked by STATUS where needed). With CONDSTORE the watermarks come
/// in the same answer.
#[tokio::test]
async fn fake_list_status_returns_each_mailbox_s_appendlimit() {
    let mut steps = logged_in("LIST-STATUS APPENDLIMIT CONDSTORE");
    steps.extend([
        Step::Expect(
            "A0002 LIST \"\" \"*\" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ APPENDLIMIT))",
        ),
        send(
            "* LIST () \"/\" INBOX\r\n\
             * STATUS INBOX (UIDVALIDITY 7 UIDNEXT 9 MESSAGES 8 HIGHESTMODSEQ 40 APPENDLIMIT 1000)\r\n\
             * LIST () \"/\" Sent\r\n\
             * STATUS Sent (UIDVALIDITY 7 UIDNEXT 1 MESSAGES 0 HIGHESTMODSEQ 1 APPENDLIMIT NIL)\r\n\
             * LIST (\\Noselect) \"/\" Archive\r\n\
             A0002 OK done\r\n",
        ),
    ]);
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    let listed = c.list_mailboxes().await.expect("list");
    let limits: Vec<_> = listed
        .iter()
        .map(|m| (m.name.as_str(), m.append_limit))
        .collect();
    assert_eq!(
        limits,
        [
            ("INBOX", Some(Some(1000))),
            ("Sent", Some(None)),
            ("Archive", None)
        ]
    );
    assert_eq!(listed[0].status.map(|s| s.highestmodseq), Some(40));
    drop(c);
    server.await.unwrap().unwrap();
}

/// With mailboxes the snapshot knows, their watermarks are asked by a
/// STATUS each ahead of a LIST without STATUS, all in one flight (Dovecot
/// answers a STATUS before any LIST from its list index; LIST-STATUS opens
/// each mailbox): a known mailbox gone since is a NO and an answer, a
/// mailbox listed and not known has no watermarks.
#[tokio::test]
async fn fake_known_mailboxes_get_a_status_each_ahead_of_the_list() {
    let mut steps = logged_in("LIST-STATUS CONDSTORE");
    steps.extend([
        Step::Expect("A0002 STATUS \"INBOX\" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)"),
        Step::Expect("A0003 STATUS \"Gone\" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)"),
        Step::Expect("A0004 LIST \"\" \"*\"\r\n"),
        Step::Expect("A0005 LSUB \"\" \"*\""),
        send(
            "* STATUS INBOX (UIDVALIDITY 7 UIDNEXT 9 MESSAGES 8 HIGHESTMODSEQ 40)\r\n\
             A0002 OK done\r\n\
             A0003 NO [NONEXISTENT] no such mailbox\r\n\
             * LIST () \"/\" INBOX\r\n\
             * LIST () \"/\" New\r\n\
             A0004 OK done\r\n\
             A0005 OK done\r\n",
        ),
    ]);
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    let known = ["INBOX".to_string(), "Gone".to_string()];
    let (listed, subscribed) = c.list_tree(&known).await.expect("listed");
    let statuses: Vec<_> = listed
        .iter()
        .map(|m| (m.name.as_str(), m.status.map(|s| s.highestmodseq)))
        .collect();
    assert_eq!(statuses, [("INBOX", Some(40)), ("New", None)]);
    assert_eq!(subscribed.expect("subscriptions"), Vec::<String>::new());
    drop(c);
    server.await.unwrap().unwrap();
}

/// A server that announced a bare APPENDLIMIT but says NO to the item in
/// a LIST-STATUS is listed again without it, as before it was asked there
/// (a BAD ends the session, as it does for any command); without
/// CONDSTORE only APPENDLIMIT is asked.
#[tokio::test]
async fn fake_list_status_refusing_appendlimit_is_listed_without_it() {
    let mut steps = logged_in("LIST-STATUS APPENDLIMIT");
    steps.extend([
        Step::Expect("A0002 LIST \"\" \"*\" RETURN (STATUS (APPENDLIMIT))"),
        send("A0002 NO unknown status item\r\n"),
        Step::Expect("A0003 LIST \"\" \"*\"\r\n"),
        send("* LIST () \"/\" INBOX\r\nA0003 OK done\r\n"),
    ]);
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    let listed = c.list_mailboxes().await.expect("listed again");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].status, listed[0].append_limit), (None, None));
    drop(c);
    server.await.unwrap().unwrap();
}

// ---- The history path: ENABLE, CHANGEDSINCE, VANISHED, UNCHANGEDSINCE,
// ---- MODIFIED, UID EXPUNGE, and the mailbox commands.

/// `SELECT "INBOX" (CONDSTORE)` under `tag`, answered with HIGHESTMODSEQ
/// (or NOMODSEQ when None).
fn select_condstore(tag: &str, exists: u32, highestmodseq: Option<u64>) -> Vec<Step> {
    let modseq = match highestmodseq {
        Some(m) => format!("* OK [HIGHESTMODSEQ {m}] ok\r\n"),
        None => "* OK [NOMODSEQ] no mod-sequences here\r\n".into(),
    };
    vec![
        expect(format!("{tag} SELECT \"INBOX\" (CONDSTORE)\r\n")),
        Step::Send(
            format!(
                "* {exists} EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 5000] ok\r\n{modseq}{tag} OK [READ-WRITE] done\r\n"
            )
            .into_bytes(),
        ),
    ]
}

const QRESYNC_CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS ESEARCH UNSELECT LIST-EXTENDED";

fn qresync_session(exists: u32, highestmodseq: u64) -> Vec<Step> {
    let mut steps = logged_in_enabling(
        QRESYNC_CAPS,
        "A0002 ENABLE QRESYNC\r\n",
        "* ENABLED QRESYNC\r\n",
    );
    steps.extend(select_condstore("A0003", exists, Some(highestmodseq)));
    steps
}

async fn connect_history(port: u16, limits: &Limits) -> Connection {
    Connection::connect_with(&spec(port, TlsMode::None), limits)
        .await
        .expect("connect")
}

fn meta(uid: Uid, size: u32, flags: &[&str]) -> ListedMessage {
    ListedMessage {
        uid,
        size,
        internal_date: InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap(),
        flags: FlagSet::from_wire(flags.iter().copied()),
    }
}

#[tokio::test]
async fn fake_enable_follows_what_the_server_offers_and_says_enabled() {
    // QRESYNC offered and enabled.
    let (port, server) = run_script(qresync_session(3, 10)).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Qresync);
    assert!(c.has_uidplus());
    let st = c.select("INBOX", false).await.expect("select");
    assert_eq!(st.highestmodseq, Some(10));
    drop(c);
    server.await.unwrap().unwrap();

    // QRESYNC offered, but ENABLED names only CONDSTORE.
    let mut steps = logged_in_enabling(
        "ENABLE CONDSTORE QRESYNC",
        "A0002 ENABLE QRESYNC\r\n",
        "* ENABLED CONDSTORE\r\n",
    );
    steps.extend(select_condstore("A0003", 0, Some(1)));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    assert!(!c.has_uidplus());
    c.select("INBOX", false).await.expect("select");
    drop(c);
    server.await.unwrap().unwrap();

    // CONDSTORE and ENABLE without QRESYNC: ENABLE CONDSTORE; a NO to it
    // is no error (SELECT (CONDSTORE) still turns it on).
    let steps = logged_in_enabling("ENABLE CONDSTORE", "A0002 ENABLE CONDSTORE\r\n", "");
    let (port, server) = run_script(steps).await;
    let c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    drop(c);
    server.await.unwrap().unwrap();
    let mut steps = logged_in_enabling("ENABLE QRESYNC CONDSTORE", "A0002 ENABLE QRESYNC\r\n", "");
    steps.pop();
    steps.push(send("A0002 NO not today\r\n"));
    steps.push(Step::Expect("A0003 CREATE"));
    steps.push(send("A0003 OK created\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    c.create("x").await.expect("session usable after ENABLE NO");
    drop(c);
    server.await.unwrap().unwrap();

    // QRESYNC offered without ENABLE (which RFC 7162 requires): nothing
    // is sent, CONDSTORE comes per mailbox with SELECT.
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        Step::Expect("A0001 AUTHENTICATE PLAIN"),
        send("A0001 OK [CAPABILITY IMAP4rev1 QRESYNC CONDSTORE] Logged in\r\n"),
        Step::Expect("A0002 CREATE"),
        send("A0002 OK created\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    c.create("x").await.expect("create");
    drop(c);
    server.await.unwrap().unwrap();

    // CONDSTORE without ENABLE: nothing to send; neither: no history.
    // (The PREAUTH test above covers CONDSTORE alone.)
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        Step::Expect("A0001 AUTHENTICATE PLAIN"),
        send("A0001 OK [CAPABILITY IMAP4rev1 ENABLE] Logged in\r\n"),
        Step::Expect("A0002 SELECT \"INBOX\"\r\n"),
        send("* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n* OK [HIGHESTMODSEQ 7] stray\r\nA0002 OK done\r\n"),
    ];
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::None);
    let st = c.select("INBOX", false).await.expect("select");
    assert_eq!(st.highestmodseq, None);
    let err = c.fetch_changes(7).await.expect_err("no CONDSTORE");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_fetch_changes_reads_vanished_earlier_ranges_modseq_and_late_updates() {
    let mut steps = qresync_session(600, 100);
    steps.push(Step::Expect(
        "A0004 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) (CHANGEDSINCE 90 VANISHED)\r\n",
    ));
    steps.push(send(concat!(
        "* VANISHED (EARLIER) 300:310,405,1000:4294967295\r\n",
        "* 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (95))\r\n",
        "* 2 FETCH (UID 12 FLAGS () RFC822.SIZE 20 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (96))\r\n",
        "* 3 FETCH (UID 40 FLAGS ($Old) RFC822.SIZE 30 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (97))\r\n",
        // Changed after the answer's view was taken: reported late.
        "* 4 FETCH (UID 77 MODSEQ (120) FLAGS (\\Flagged))\r\n",
        "* 3 FETCH (UID 40 MODSEQ (121) FLAGS ($New))\r\n",
        // An older flag update must not win over a newer one.
        "* 3 FETCH (UID 40 MODSEQ (99) FLAGS ($Stale))\r\n",
        "* VANISHED 12\r\n",
        "A0004 OK [HIGHESTMODSEQ 121] done\r\n",
    )));
    // UID 77 came without size and date: re-read, with MODSEQ.
    steps.push(Step::Expect(
        "A0005 UID FETCH 77 (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)\r\n",
    ));
    steps.push(send(
        "* 4 FETCH (UID 77 FLAGS (\\Flagged) RFC822.SIZE 70 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (120))\r\nA0005 OK done\r\n",
    ));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    c.select("INBOX", false).await.expect("select");
    let ch = c.fetch_changes(90).await.expect("changes");
    assert_eq!(
        ch,
        Changes {
            changed: vec![
                meta(5, 10, &["\\Seen"]),
                meta(40, 30, &["$New"]),
                meta(77, 70, &["\\Flagged"]),
            ],
            modseqs: vec![(5, 95), (40, 121), (77, 120)],
            vanished: Some(vec![(12, 12), (300, 310), (405, 405), (1000, u32::MAX)]),
        }
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_fetch_changes_under_condstore_maps_expunge_and_has_no_vanished() {
    let mut steps = logged_in_enabling(
        "ENABLE CONDSTORE",
        "A0002 ENABLE CONDSTORE\r\n",
        "* ENABLED CONDSTORE\r\n",
    );
    steps.extend(select_condstore("A0003", 5, Some(50)));
    steps.push(Step::Expect(
        "A0004 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) (CHANGEDSINCE 40)\r\n",
    ));
    steps.push(send(concat!(
        "* 2 FETCH (UID 20 FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (41))\r\n",
        "* 3 FETCH (UID 30 FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (42))\r\n",
        "* 3 EXPUNGE\r\n",
        "A0004 OK done\r\n",
    )));
    steps.push(Step::Expect("A0005 UID FETCH 1:* (UID)\r\n"));
    steps.push(send("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 20)\r\n* 3 FETCH (UID 40 FLAGS (\\Seen))\r\n* 3 FETCH (UID 40)\r\n* 4 FETCH (UID 50)\r\n* 1 EXPUNGE\r\nA0005 OK done\r\n"));
    // A NOMODSEQ mailbox: nothing is sent for the history commands.
    steps.extend(select_condstore("A0006", 1, None));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    c.select("INBOX", false).await.expect("select");
    let ch = c.fetch_changes(40).await.expect("changes");
    assert_eq!(
        ch,
        Changes {
            changed: vec![meta(20, 10, &["\\Seen"])],
            modseqs: vec![(20, 41)],
            vanished: None,
        }
    );
    // Without QRESYNC the UID list comes from UID FETCH (not ESEARCH),
    // so an EXPUNGE meanwhile maps to its UID.
    assert_eq!(c.uid_list().await.expect("uids"), vec![20, 40, 50]);
    let st = c.select("INBOX", false).await.expect("select nomodseq");
    assert_eq!(st.highestmodseq, None);
    for err in [
        c.fetch_changes(40).await.expect_err("NOMODSEQ"),
        c.store_unchanged_since(&[1], &flag_delta(&["\\Seen"], &[]), 40)
            .await
            .expect_err("NOMODSEQ"),
    ] {
        assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    }
    assert!(c.is_alive());
    drop(c);
    server.await.unwrap().unwrap();
}

fn flag_delta(add: &[&str], remove: &[&str]) -> FlagDelta {
    FlagDelta {
        add: FlagSet::from_wire(add.iter().copied()),
        remove: FlagSet::from_wire(remove.iter().copied()),
    }
}

#[tokio::test]
async fn fake_store_unchanged_since_chains_modseq_and_reads_modified_in_ok_and_no() {
    let mut steps = qresync_session(10, 100);
    // First half, split in two commands by the line budget.
    steps.push(Step::Expect(
        "A0004 UID STORE 1:3,5 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ));
    steps.push(Step::Expect(
        "A0005 UID STORE 7,9 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)\r\n",
    ));
    steps.push(send(concat!(
        "* 1 FETCH (UID 1 MODSEQ (104))\r\n",
        "* 2 FETCH (UID 2 MODSEQ (105))\r\n",
        // Someone else's change, reported with FLAGS: not ours to chain from.
        "* 4 FETCH (UID 5 MODSEQ (999) FLAGS ($Other))\r\n",
        "A0004 OK [MODIFIED 3,5] Conditional STORE failed\r\n",
        "* 5 FETCH (UID 7 MODSEQ (106))\r\n",
        "* 6 FETCH (UID 9 MODSEQ (106))\r\n",
        "A0005 OK done\r\n",
    )));
    // Second half: the UIDs that passed, from the highest MODSEQ we caused.
    steps.push(Step::Expect(
        "A0006 UID STORE 1:2,7 (UNCHANGEDSINCE 106) -FLAGS.SILENT ($Junk)\r\n",
    ));
    steps.push(Step::Expect(
        "A0007 UID STORE 9 (UNCHANGEDSINCE 106) -FLAGS.SILENT ($Junk)\r\n",
    ));
    steps.push(send(
        "* 1 FETCH (UID 1 MODSEQ (107))\r\nA0006 NO [MODIFIED 2] Some messages were modified\r\n* 6 FETCH (UID 9 MODSEQ (107))\r\nA0007 OK done\r\n",
    ));
    // Removals only: one half, straight from the caller's mod-sequence; a
    // NO without MODIFIED is an error.
    steps.push(Step::Expect(
        "A0008 UID STORE 4 (UNCHANGEDSINCE 200) -FLAGS.SILENT (\\Seen)\r\n",
    ));
    steps.push(send("A0008 NO [CANNOT] read-only\r\n"));
    let (port, server) = run_script(steps).await;
    let lim = Limits {
        max_command_line: 32
            + " (UNCHANGEDSINCE 100)".len()
            + "+FLAGS.SILENT".len()
            + "(\\Seen)".len()
            + 5,
        ..limits()
    };
    let mut c = connect_history(port, &lim).await;
    c.select("INBOX", false).await.expect("select");
    let out = c
        .store_unchanged_since(
            &[9, 1, 2, 3, 5, 7],
            &flag_delta(&["\\Seen"], &["$Junk"]),
            100,
        )
        .await
        .expect("conditional store");
    assert_eq!(
        out,
        StoreOutcome {
            modified: vec![2, 3, 5]
        }
    );
    let err = c
        .store_unchanged_since(&[4], &flag_delta(&[], &["\\Seen"]), 200)
        .await
        .expect_err("NO without MODIFIED");
    assert!(
        matches!(&err, ImapError::No { code: Some(c), .. } if c == "CANNOT"),
        "{err:?}"
    );
    assert!(c.is_alive());
    let err = c
        .store_unchanged_since(&[4], &flag_delta(&["bad flag"], &[]), 200)
        .await
        .expect_err("unsendable flag");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_uid_expunge_needs_uidplus_and_touches_only_the_given_uids() {
    let mut steps = qresync_session(4, 100);
    steps.push(Step::Expect(
        "A0004 UID STORE 2,4 +FLAGS.SILENT (\\Deleted)\r\n",
    ));
    steps.push(Step::Expect("A0005 UID EXPUNGE 2,4\r\n"));
    steps.push(send(
        "A0004 OK done\r\n* VANISHED 2,4\r\nA0005 OK expunged\r\n",
    ));
    // EXISTS followed the VANISHED: 2 left, so the listing is asked for.
    steps.push(Step::Expect("A0006 UID SEARCH RETURN (ALL) ALL\r\n"));
    steps.push(send(
        "* ESEARCH (TAG \"A0006\") UID ALL 1,3\r\nA0006 OK done\r\n",
    ));
    steps.push(Step::Expect(
        "A0007 UID FETCH 1,3,8 (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)\r\n",
    ));
    steps.push(send(concat!(
        "* 1 FETCH (UID 1 FLAGS (\\Deleted) RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (3))\r\n",
        "* 2 FETCH (UID 3 FLAGS () RFC822.SIZE 6 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (3))\r\n",
        "* 9 FETCH (UID 99 FLAGS () RFC822.SIZE 6 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n",
        "A0007 OK done\r\n",
    )));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    c.select("INBOX", false).await.expect("select");
    let before = write_count();
    c.uid_expunge(&[4, 2]).await.expect("uid expunge");
    assert!(write_count() - before >= 2);
    assert_eq!(c.uid_list().await.expect("uids"), vec![1, 3]);
    assert_eq!(
        c.fetch_meta(&[3, 1, 8]).await.expect("meta"),
        vec![meta(1, 5, &["\\Deleted"]), meta(3, 6, &[])]
    );
    // Without UIDPLUS nothing is sent at all.
    c.engine
        .set_capabilities(vec!["IMAP4rev1".into(), "CONDSTORE".into()]);
    assert!(!c.has_uidplus());
    let err = c.uid_expunge(&[1]).await.expect_err("no UIDPLUS");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("UIDPLUS"), "{err}");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_expunges_during_other_commands_keep_exists_current() {
    let mut steps = qresync_session(3, 100);
    steps.push(Step::Expect("A0004 LIST"));
    steps.push(send(
        "* LIST () \"/\" INBOX\r\n* VANISHED 1:2\r\n* VANISHED (EARLIER) 1:100\r\nA0004 OK done\r\n",
    ));
    steps.push(Step::Expect("A0005 CREATE"));
    steps.push(send("* 1 EXPUNGE\r\nA0005 OK done\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    c.select("INBOX", false).await.expect("select");
    assert_eq!(c.list_mailboxes().await.expect("list").len(), 1);
    c.create("x").await.expect("create");
    // EXISTS is 0 now: nothing to ask.
    assert_eq!(c.fetch_all_meta().await.expect("meta"), vec![]);
    assert_eq!(c.uid_list().await.expect("uids"), Vec::<Uid>::new());
    assert_eq!(
        c.fetch_changes(5).await.expect("changes").vanished,
        Some(vec![(1, u32::MAX)])
    );
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_full_listing_drops_what_was_expunged_while_listing() {
    let mut steps = logged_in_and_selected("", 3);
    steps.push(Step::Expect(
        "A0003 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
    ));
    steps.push(send(concat!(
        "* 1 FETCH (UID 4 FLAGS () RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n",
        "* 2 FETCH (UID 6 FLAGS () RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n",
        "* 3 FETCH (UID 8 FLAGS () RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n",
        "* 2 EXPUNGE\r\n",
        "* 4000000000 EXPUNGE\r\n",
        "A0003 OK done\r\n",
    )));
    let (port, server) = run_script(steps).await;
    let mut c = connect_selected(port, &limits()).await;
    let listed = c.fetch_all_meta().await.expect("meta");
    assert_eq!(listed.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![4, 8]);
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_mailbox_and_subscription_commands() {
    let mut steps = qresync_session(1, 100);
    steps.push(Step::Expect("A0004 LIST (SUBSCRIBED) \"\" \"*\"\r\n"));
    steps.push(send(concat!(
        "* LIST (\\Subscribed) \"/\" INBOX\r\n",
        "* LIST (\\Subscribed \\NonExistent) \"/\" \"Gone box\"\r\n",
        "* LIST (\\HasChildren) \"/\" Parent\r\n",
        "A0004 OK done\r\n",
    )));
    steps.push(Step::Expect("A0005 SUBSCRIBE \"a b\"\r\n"));
    steps.push(send("A0005 OK done\r\n"));
    steps.push(Step::Expect("A0006 UNSUBSCRIBE \"Gone box\"\r\n"));
    steps.push(send("A0006 OK done\r\n"));
    steps.push(Step::Expect("A0007 RENAME \"Old\" \"New\"\r\n"));
    steps.push(send("A0007 OK done\r\n"));
    // The selected mailbox is left (UNSELECT, never CLOSE) before DELETE.
    steps.push(Step::Expect("A0008 UNSELECT\r\n"));
    steps.push(send("A0008 OK done\r\n"));
    steps.push(Step::Expect("A0009 DELETE \"INBOX\"\r\n"));
    steps.push(send("A0009 NO [CANNOT] no\r\n"));
    steps.push(Step::Expect("A0010 LSUB \"\" \"*\"\r\n"));
    steps.push(send(
        "* LSUB () \"/\" b\r\n* LSUB (\\Noselect) \"/\" a\r\nA0010 OK done\r\n",
    ));
    let (port, server) = run_script(steps).await;
    let mut c = connect_history(port, &limits()).await;
    c.select("INBOX", false).await.expect("select");
    assert_eq!(
        c.list_subscribed().await.expect("subscribed"),
        vec!["Gone box".to_string(), "INBOX".to_string()]
    );
    let before = write_count();
    c.subscribe("a b").await.expect("subscribe");
    c.unsubscribe("Gone box").await.expect("unsubscribe");
    c.rename_mailbox("Old", "New").await.expect("rename");
    let err = c.delete_mailbox("INBOX").await.expect_err("refused");
    assert!(!err.is_fatal());
    assert!(write_count() - before >= 4);
    let err = c.fetch_meta(&[1]).await.expect_err("nothing selected");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    let err = c.delete_mailbox("a\nb").await.expect_err("CR in a name");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err:?}");
    c.engine.set_capabilities(vec!["IMAP4rev1".into()]);
    assert_eq!(
        c.list_subscribed().await.expect("lsub"),
        vec!["a".to_string(), "b".to_string()]
    );
    drop(c);
    server.await.unwrap().unwrap();
}

/// A connection opened when the token fetched at the start is older than
/// [`crate::secret::TOKEN_REUSE`] logs in with a fresh one from the token
/// command, not the one that may have expired.
#[tokio::test]
async fn fake_a_late_connection_logs_in_with_a_fresh_token() {
    let (port, server) = run_script(vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] fake ready\r\n"),
        Step::Expect(
            "A0001 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2stZnJlc2gBAQ==\r\n",
        ),
        send("A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
    ])
    .await;
    let long_ago = std::time::Instant::now()
        .checked_sub(crate::secret::TOKEN_REUSE)
        .expect("the clock has run that long");
    let source = crate::secret::TokenCommand::fetched_at(
        "echo tok-fresh".into(),
        Secret::new("tok-stale"),
        long_ago,
    );
    let spec = ConnectSpec {
        password: Secret::new("tok-stale"),
        auth: super::AuthMethod::OAuth2,
        token_command: Some(std::sync::Arc::new(source)),
        ..spec(port, TlsMode::None)
    };
    let c = Connection::connect_with(&spec, &limits())
        .await
        .expect("login");
    drop(c);
    server.await.unwrap().unwrap();
}

/// Greeting and login with `caps`, then an EXAMINE of "INBOX.New" (tag
/// A0002), as `apply` opens a mailbox it just created.
fn logged_in_and_examined(caps: &str) -> Vec<Step> {
    let mut steps = logged_in(caps);
    steps.push(Step::Expect("A0002 EXAMINE \"INBOX.New\""));
    steps.push(send(
        "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\nA0002 OK [READ-ONLY] done\r\n",
    ));
    steps
}

async fn append_one(c: &mut Connection, mailbox: &str) -> Result<AppendResult, ImapError> {
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let item = AppendItem {
        flags: &none,
        internal_date: date,
        body: b"x",
    };
    c.append(mailbox, &[item]).await
}

/// Courier answers `NO Current box is selected READ-ONLY.` to an APPEND
/// into the mailbox the session EXAMINEd, and offers no UNSELECT: the
/// session SELECTs it read-write first (never CLOSE), once. A STORE or
/// UID EXPUNGE while it is held read-only sends nothing.
#[tokio::test]
async fn fake_append_into_the_examined_mailbox_selects_it_read_write_first() {
    let mut steps = logged_in_and_examined("UIDPLUS LITERAL+");
    steps.push(Step::Expect("A0003 SELECT \"INBOX.New\""));
    steps.push(send(
        "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\nA0003 OK [READ-WRITE] done\r\n",
    ));
    steps.push(Step::Expect(
        "A0004 APPEND \"INBOX.New\" \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n",
    ));
    steps.push(Step::Expect("x\r\n"));
    steps.push(send("A0004 OK [APPENDUID 7 1] done\r\n"));
    steps.push(Step::Expect(
        "A0005 APPEND \"INBOX.New\" \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n",
    ));
    steps.push(Step::Expect("x\r\n"));
    steps.push(send("A0005 OK [APPENDUID 7 2] done\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    c.select("INBOX.New", true).await.expect("examine");
    let delta = FlagDelta {
        add: FlagSet::from_wire(["\\Seen"]),
        remove: FlagSet::new(),
    };
    let stored = c.store(&[1], &delta).await;
    assert!(
        matches!(stored, Err(ImapError::Invalid { .. })),
        "{stored:?}"
    );
    let expunged = c.uid_expunge(&[1]).await;
    assert!(
        matches!(expunged, Err(ImapError::Invalid { .. })),
        "{expunged:?}"
    );
    for uid in [1, 2] {
        let r = append_one(&mut c, "INBOX.New").await.expect("append");
        assert_eq!(r.uids, Some(vec![uid]));
    }
    drop(c);
    server.await.unwrap().unwrap();
}

/// Where UNSELECT is offered, the session leaves the examined mailbox with
/// it before appending there; an APPEND elsewhere leaves the selection be.
#[tokio::test]
async fn fake_append_into_the_examined_mailbox_unselects_it_first() {
    let mut steps = logged_in_and_examined("UIDPLUS LITERAL+ UNSELECT");
    steps.push(Step::Expect(
        "A0003 APPEND \"Other\" \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n",
    ));
    steps.push(Step::Expect("x\r\n"));
    steps.push(send("A0003 OK [APPENDUID 9 1] done\r\n"));
    steps.push(Step::Expect("A0004 UNSELECT"));
    steps.push(send("A0004 OK done\r\n"));
    steps.push(Step::Expect(
        "A0005 APPEND \"INBOX.New\" \"17-Jul-1996 02:44:25 -0700\" {1+}\r\n",
    ));
    steps.push(Step::Expect("x\r\n"));
    steps.push(send("A0005 OK [APPENDUID 7 1] done\r\n"));
    let (port, server) = run_script(steps).await;
    let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
        .await
        .expect("connect");
    c.select("INBOX.New", true).await.expect("examine");
    append_one(&mut c, "Other").await.expect("append elsewhere");
    append_one(&mut c, "INBOX.New").await.expect("append");
    drop(c);
    server.await.unwrap().unwrap();
}

// ---- The first flight: ENABLE, LIST and the subscriptions together ----

/// Login, then the first flight the server must read whole before it
/// answers anything (so the client sent it without waiting): ENABLE, the
/// LIST, the subscriptions; then `answer`, then the LOGOUT.
fn first_flight(answer: &str) -> Vec<Step> {
    let mut steps = logged_in(QRESYNC_CAPS);
    steps.extend([
        Step::Expect("A0002 ENABLE QRESYNC\r\n"),
        Step::Expect("A0003 LIST \"\" \"*\"\r\n"),
        Step::Expect("A0004 LIST (SUBSCRIBED) \"\" \"*\"\r\n"),
        send(answer),
        Step::Expect("A0005 LOGOUT"),
    ]);
    steps
}

async fn list_first(
    port: u16,
) -> (
    Connection,
    Result<(Vec<ListedMailbox>, Result<Vec<String>, ImapError>), ImapError>,
) {
    let mut c = Connection::connect_listing(&spec(port, TlsMode::None))
        .await
        .expect("connect");
    let tree = c.list_tree(&[]).await;
    (c, tree)
}

/// A NO to the flight's first command (ENABLE) is an answer: the LIST and
/// the subscriptions behind it stand, the session goes on with what
/// SELECT (CONDSTORE) gives, and the whole exchange after the greeting
/// cost two turns (login, the flight); LOGOUT is not waited for.
#[tokio::test]
async fn fake_the_first_flight_goes_out_whole_and_a_no_to_its_enable_is_an_answer() {
    let (port, server) = run_script(first_flight(
        "A0002 NO [CANNOT] not now\r\n* LIST () \"/\" INBOX\r\nA0003 OK listed\r\n\
         * LIST (\\Subscribed) \"/\" INBOX\r\nA0004 OK listed\r\n",
    ))
    .await;
    let (c, tree) = list_first(port).await;
    let (mailboxes, subscriptions) = tree.expect("the tree is listed");
    let names: Vec<&str> = mailboxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["INBOX"]);
    assert_eq!(subscriptions.expect("subscriptions"), ["INBOX"]);
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    assert_eq!(c.turns(), 2);
    c.logout().await;
    server.await.unwrap().unwrap();
}

/// A NO to the subscriptions is theirs alone (the tree stands); a NO to
/// the LIST fails the listing, after the commands behind it were
/// answered; a BAD to the ENABLE ends the session.
#[tokio::test]
async fn fake_a_refusal_inside_the_first_flight_fails_only_what_it_answers() {
    let (port, server) = run_script(first_flight(
        "* ENABLED QRESYNC\r\nA0002 OK\r\n* LIST () \"/\" INBOX\r\nA0003 OK\r\n\
         A0004 NO [SERVERBUG] no subscriptions today\r\n",
    ))
    .await;
    let (c, tree) = list_first(port).await;
    let (mailboxes, subscriptions) = tree.expect("the tree is listed");
    assert_eq!(mailboxes.len(), 1);
    let refused = subscriptions.expect_err("the subscriptions were refused");
    assert!(
        refused.to_string().contains("no subscriptions today"),
        "{refused}"
    );
    assert_eq!(c.history_support(), HistorySupport::Qresync);
    c.logout().await;
    server.await.unwrap().unwrap();

    let (port, server) = run_script(first_flight(
        "* ENABLED QRESYNC\r\nA0002 OK\r\nA0003 NO [SERVERBUG] try later\r\nA0004 OK\r\n",
    ))
    .await;
    let (c, tree) = list_first(port).await;
    let e = tree.expect_err("no tree");
    assert!(matches!(e, ImapError::No { .. }), "{e}");
    assert!(c.is_alive(), "a NO leaves the session usable");
    c.logout().await;
    server.await.unwrap().unwrap();

    let mut steps = first_flight("A0002 BAD what\r\nA0003 OK\r\nA0004 OK\r\n");
    steps.pop(); // a dead session sends no LOGOUT
    let (port, server) = run_script(steps).await;
    let (c, tree) = list_first(port).await;
    assert!(matches!(tree, Err(ImapError::Bad { .. })), "{tree:?}");
    assert!(!c.is_alive());
    c.logout().await;
    server.await.unwrap().unwrap();
}

// ---- A further session's ENABLE in its login's flight (issue 19) ----

/// The greeting, then the SASL-IR login and the ENABLE read before either
/// is answered: a client that waited for the login's answer would stall
/// here until its read timeout.
fn login_with_enable_behind(enable: &'static str) -> Vec<Step> {
    vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        Step::Expect("A0001 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI="),
        Step::Expect(enable),
    ]
}

#[tokio::test]
async fn fake_a_further_session_sends_its_enable_in_the_login_flight() {
    let mut steps = login_with_enable_behind("A0002 ENABLE QRESYNC\r\n");
    steps.push(send(
        "A0001 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC UIDPLUS] Logged in\r\n",
    ));
    steps.push(send("* ENABLED QRESYNC\r\nA0002 OK enabled\r\n"));
    let (port, server) = run_script(steps).await;
    let spec = spec(port, TlsMode::None);
    let c = Connection::connect_again_with(&spec, &limits(), Some("QRESYNC"))
        .await
        .expect("connect with the ENABLE riding");
    assert_eq!(c.history_support(), HistorySupport::Qresync);
    let riding = c.turns();
    drop(c);
    server.await.unwrap().unwrap();

    // The same server the usual way: one turn more.
    let (port, server) = run_script(logged_in_enabling(
        "ENABLE CONDSTORE QRESYNC UIDPLUS",
        "A0002 ENABLE QRESYNC\r\n",
        "* ENABLED QRESYNC\r\n",
    ))
    .await;
    let c = connect_history(port, &limits()).await;
    assert_eq!(c.history_support(), HistorySupport::Qresync);
    assert_eq!(c.turns(), riding + 1, "the ENABLE costs a turn of its own");
    drop(c);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_a_refused_login_with_an_enable_behind_is_the_refusal() {
    let mut steps = login_with_enable_behind("A0002 ENABLE QRESYNC\r\n");
    steps.push(send(
        "A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
    ));
    steps.push(send(
        "* ENABLED\r\nA0002 OK ENABLE ignored in non-authenticated state.\r\n",
    ));
    let (port, server) = run_script(steps).await;
    let spec = spec(port, TlsMode::None);
    let e = Connection::connect_again_with(&spec, &limits(), Some("QRESYNC"))
        .await
        .err()
        .expect("a refused login fails the session");
    assert!(
        matches!(e, ImapError::AuthRefused { .. }),
        "a refusal, not {e:?}"
    );
    assert!(e.to_string().contains("AUTHENTICATIONFAILED"), "{e}");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fake_an_enable_the_login_did_not_call_for_is_asked_again_alone() {
    // The first session's server enabled QRESYNC; this one, after login,
    // offers CONDSTORE only and refuses the ENABLE that rode: the session
    // asks for what its own capabilities call for.
    let mut steps = login_with_enable_behind("A0002 ENABLE QRESYNC\r\n");
    steps.push(send(
        "A0001 OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE] Logged in\r\n",
    ));
    steps.push(send("A0002 BAD unknown capability\r\n"));
    steps.push(Step::Expect("A0003 ENABLE CONDSTORE\r\n"));
    steps.push(send("* ENABLED CONDSTORE\r\nA0003 OK enabled\r\n"));
    let (port, server) = run_script(steps).await;
    let spec = spec(port, TlsMode::None);
    let c = Connection::connect_again_with(&spec, &limits(), Some("QRESYNC"))
        .await
        .expect("connect");
    assert_eq!(c.history_support(), HistorySupport::Condstore);
    drop(c);
    server.await.unwrap().unwrap();
}
