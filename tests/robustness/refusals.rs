//! Server refusals and size limits (E10, I9, I10, I11): a message the
//! target refuses is reported with the server's words and never taken for
//! deleted; `--max-size` and APPENDLIMIT skip what cannot fit, up front.

use super::*;

/// A message B refuses (Dovecot: "Can't save a zero byte message") is
/// reported per message with the server's words and the other copies go
/// through (`sync --json` reports that copy as refused, with the server's
/// words). The refusal is recorded: the next run skips it with the same
/// words (exit 0, not sent again blindly); `--retry-refused` tries again.
/// It is never taken for deleted, so it stays on A throughout.
#[test]
fn e10_i9_a_message_the_target_refuses_is_reported_and_never_deleted() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    let ok1 = msg_of_size("ok1", 700);
    ca.append("INBOX", &ok1, &[], Some(DATE));
    ca.logout();
    // Dovecot refuses to APPEND a zero-byte message: it goes in as a file.
    a.put_in_maildir([("zero", &b""[..], "S")]);
    let mut cb = b.client();
    let ok2 = msg_of_size("ok2", 700);
    cb.append("INBOX", &ok2, &["\\Flagged"], Some(DATE));
    cb.logout();
    let on_a = oracle::read_side(&a);
    assert_eq!(
        on_a.len(),
        2,
        "A should hold ok1 and the zero-byte message:\n{on_a}"
    );

    for (round, extra, refused_now) in [
        (0, &[][..], true),
        (1, &[], false),
        (2, &["--retry-refused"], true),
        (3, &[], false),
    ] {
        let out = pair.run("sync", extra, &[]);
        let failed: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("FAILED"))
            .collect();
        let skipped: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("SKIPPED"))
            .collect();
        eprintln!("round {round}: {failed:?} {skipped:?}");
        if refused_now {
            assert_eq!(out.code, Some(2), "round {round}: {}", out.describe());
            assert!(
                failed.len() == 1
                    && failed[0].contains("INBOX on B")
                    && failed[0].contains("0 bytes")
                    && failed[0].contains("zero byte message"),
                "round {round}: one failure naming the message and the server's words: {}",
                out.describe()
            );
        } else {
            assert_eq!(out.code, Some(0), "round {round}: {}", out.describe());
            assert!(
                failed.is_empty()
                    && skipped.len() == 1
                    && skipped[0].contains("A→B")
                    && skipped[0].contains("0 bytes")
                    && skipped[0].contains("refused it on an earlier run")
                    && skipped[0].contains("zero byte message"),
                "round {round}: skipped with the server's words, not sent: {}",
                out.describe()
            );
        }
        // A keeps everything it had; B got the rest.
        let sa = oracle::read_side(&a);
        oracle::assert_state("A", &sa, &on_a_with(&on_a, &ok2));
        let mut want_b = SideState::default();
        want_b.add("INBOX", &ok1, &[] as &[&str]);
        want_b.add("INBOX", &ok2, &["\\Flagged"]);
        oracle::assert_state("B", &oracle::read_side(&b), &want_b);
    }
    // sync --json says the same per planned action: that copy skipped with
    // the server's earlier words, or (tried again) refused in its words.
    let out = pair.run("sync", &["--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let skipped: Vec<&serde_json::Value> = report["outcome"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "skipped")
        .collect();
    assert!(
        skipped.len() == 1
            && skipped[0]["action"] == "copy"
            && skipped[0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("earlier run") && d.contains("zero byte message")),
        "{:#}",
        report["outcome"]
    );
    let out = pair.run("sync", &["--json", "--retry-refused"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let outcome = &report["outcome"];
    let refused: Vec<&serde_json::Value> = outcome["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] != "done")
        .collect();
    assert!(
        refused.len() == 1
            && refused[0]["status"] == "refused"
            && refused[0]["action"] == "copy"
            && refused[0]["side"] == "B"
            && refused[0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("zero byte message")),
        "{outcome:#}"
    );
    assert_eq!(outcome["totals"]["refused"], 1, "{outcome:#}");
    // check lists the refusal as a known divergence, not a difference.
    let check = pair.run("check", &["--json"], &[]);
    assert_eq!(check.code, Some(0), "{}", check.describe());
    let json: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "check (refused)");
    assert_eq!(
        json["check"][0]["refused"].as_array().map(Vec::len),
        Some(1),
        "{}",
        check.stdout
    );
    let check = pair.run("check", &[], &[]);
    assert_eq!(check.code, Some(0), "{}", check.describe());
    assert!(
        check
            .stdout
            .contains("on A was refused by B on an earlier sync (known, not a difference)"),
        "{}",
        check.describe()
    );
}

/// The first sync's shortcut (B empty: A listed by metadata only) with
/// `--max-size`: the large message is skipped without its content ever
/// being read ("not read" in the report, `null` in the JSON) and gets no
/// cache row; without the limit the next run reads and copies it, and the
/// fingerprints recorded for everything are the true ones.
#[test]
fn a_first_sync_to_an_empty_side_skips_by_size_and_copies_once_the_limit_is_lifted() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let (small, big) = (msg_of_size("fs-small", 700), msg_of_size("fs-big", 30_000));
    let mut ca = a.client();
    ca.append("INBOX", &small, &["\\Seen"], Some(DATE));
    ca.append("INBOX", &big, &[], Some(DATE));
    ca.logout();

    let sync = pair.run("sync", &["--max-size", "20K", "-v"], &[]);
    assert_eq!(sync.code, Some(0), "{}", sync.describe());
    let lines = |what: &str| {
        sync.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(what))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines("SKIPPED").len(), 1, "{}", sync.describe());
    assert!(
        lines("SKIPPED")[0].contains("not read"),
        "{}",
        sync.describe()
    );
    let copies = lines("copy ");
    assert_eq!(copies.len(), 1, "{}", sync.describe());
    assert!(
        copies[0].contains("read by the copy"),
        "{}",
        sync.describe()
    );
    let mut want = SideState::default();
    want.add("INBOX", &small, &["\\Seen"]);
    oracle::assert_state("B", &oracle::read_side(&b), &want);

    let again = pair.run("sync", &[], &[]);
    assert_eq!(again.code, Some(0), "{}", again.describe());
    want.add("INBOX", &big, &[] as &[&str]);
    oracle::assert_state("A", &oracle::read_side(&a), &want);
    oracle::assert_state("B", &oracle::read_side(&b), &want);
    let verified = pair.run("check", &["--verify"], &[]);
    assert_eq!(verified.code, Some(0), "{}", verified.describe());
    assert_eq!(pair.run("plan", &[], &[]).code, Some(0));
}

/// `--max-size` (and the config file's `max_size`) skips large messages up
/// front, both ways: reported per message with the limit, in the plan and
/// the JSON, never sent; the rest syncs and the run succeeds. Without the
/// limit the next run copies them.
#[test]
fn i10_max_size_skips_large_messages_up_front() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let (small_a, big_a) = (
        msg_of_size("ms-small-a", 700),
        msg_of_size("ms-big-a", 30_000),
    );
    let (small_b, big_b) = (
        msg_of_size("ms-small-b", 800),
        msg_of_size("ms-big-b", 40_000),
    );
    let mut ca = a.client();
    ca.append("INBOX", &small_a, &[], Some(DATE));
    ca.append("INBOX", &big_a, &["\\Seen"], Some(DATE));
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", &small_b, &[], Some(DATE));
    cb.append("INBOX", &big_b, &[], Some(DATE));
    cb.logout();

    let plan = pair.run("plan", &["--json", "--max-size", "20K"], &[]);
    assert_eq!(plan.code, Some(1), "{}", plan.describe());
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "plan --max-size");
    let inbox = &json["plan"]["mailboxes"][0];
    assert_eq!(
        inbox["copies"].as_array().unwrap().len(),
        2,
        "{}",
        plan.stdout
    );
    let skipped = inbox["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{}", plan.stdout);
    for s in skipped {
        assert_eq!(s["why"], "max-size", "{s}");
        assert!(s["reason"].as_str().unwrap().contains("20480 bytes"), "{s}");
    }

    // The same limit from a config file.
    let config = pair.dir.path().join("job.toml");
    std::fs::write(&config, "[policy]\nmax_size = \"20K\"\n").unwrap();
    let sync = pair.run("sync", &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(sync.code, Some(0), "{}", sync.describe());
    let skipped_lines = sync
        .stdout
        .lines()
        .filter(|l| l.contains("SKIPPED") && l.contains("larger than --max-size"))
        .count();
    assert_eq!(skipped_lines, 2, "{}", sync.describe());
    let mut want_a = SideState::default();
    want_a.add("INBOX", &small_a, &[] as &[&str]);
    want_a.add("INBOX", &big_a, &["\\Seen"]);
    want_a.add("INBOX", &small_b, &[] as &[&str]);
    let mut want_b = SideState::default();
    want_b.add("INBOX", &small_a, &[] as &[&str]);
    want_b.add("INBOX", &small_b, &[] as &[&str]);
    want_b.add("INBOX", &big_b, &[] as &[&str]);
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);

    // Under the limit again: the skipped ones are copied, nothing deleted.
    let again = pair.run("sync", &[], &[]);
    assert_eq!(again.code, Some(0), "{}", again.describe());
    let sa = oracle::read_side(&a);
    oracle::assert_sides_equal(&sa, &oracle::read_side(&b));
    assert_eq!(sa.len(), 4);
}

/// Dovecot with `quota_max_mail_size = 20k` (which refuses larger APPENDs
/// with `NO [LIMIT]`) announcing `APPENDLIMIT=20480` (RFC 7889), shared by
/// this test binary.
fn limited_server() -> &'static dovecot::Dovecot {
    static SERVER: std::sync::OnceLock<dovecot::Dovecot> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        dovecot::Dovecot::start_with(
            Kind::Full,
            "mail_plugins = $mail_plugins quota\n\
             plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n  \
             quota_max_mail_size = 20k\n}\n\
             imap_capability = +APPENDLIMIT=20480\n",
        )
    })
}

/// Hides the server's APPENDLIMIT announcement, so the client sends what
/// the server then refuses.
fn hide_appendlimit(line: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(line)
        .replace(" APPENDLIMIT=20480", "")
        .into_bytes()
}

/// I11 and E10 on a real limit: B refuses messages over 20 KB.
///
/// While B hides its APPENDLIMIT (a proxy takes it out of the capability
/// list) the large message goes out in a batch with small ones, B answers
/// `NO [LIMIT] …`, the batch is bisected, the small ones land, and the
/// refusal is reported with the server's words (exit 2). The next run skips
/// it as refused earlier (exit 0); a flag change on it, or
/// `--retry-refused`, tries it again. Once B's APPENDLIMIT is visible, the
/// message is skipped before upload as over the limit. A keeps it
/// throughout: never taken as deleted.
#[test]
fn i11_e10_appendlimit_and_a_size_refusal_on_a_real_limit() {
    let a = dovecot::fresh_user(Kind::Full);
    let b = limited_server().fresh_user();
    let proxy = Proxy::start(b.port);
    let mut pair = Pair::new(&a, &b);
    pair.b_port = proxy.port();
    let (ok1, big, ok2) = (
        msg_of_size("al-ok1", 700),
        msg_of_size("al-big", 30_000),
        msg_of_size("al-ok2", 900),
    );
    let mut ca = a.client();
    for m in [&ok1, &big, &ok2] {
        ca.append("INBOX", m, &[], Some(DATE));
    }
    ca.logout();
    let mut want_b = SideState::default();
    want_b.add("INBOX", &ok1, &[] as &[&str]);
    want_b.add("INBOX", &ok2, &[] as &[&str]);
    let mut want_a = want_b.clone();
    want_a.add("INBOX", &big, &[] as &[&str]);

    let sync_hidden = |extra: &[&str]| {
        proxy.arm(Fault::Rewrite(hide_appendlimit));
        pair.run("sync", extra, &[])
    };
    let refused_line = |out: &Outcome| {
        out.stdout
            .lines()
            .filter(|l| l.starts_with("FAILED"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let skipped_line = |out: &Outcome| {
        out.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("SKIPPED"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    // 1. Sent, refused, bisected: the small ones land.
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let failed = refused_line(&out);
    assert!(
        failed.len() == 1
            && failed[0].contains("INBOX on B")
            && failed[0].contains("[LIMIT]")
            && failed[0].contains("Mail size is larger"),
        "{}",
        out.describe()
    );
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);

    // 2. Not sent again: skipped with the server's words.
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let skipped = skipped_line(&out);
    assert!(
        skipped.len() == 1 && skipped[0].contains("earlier run: NO [LIMIT] Mail size"),
        "{}",
        out.describe()
    );

    // 3. Its flags change on A: tried again (and refused again).
    let mut ca = a.client();
    let uid = uid_of(&mut ca, "INBOX", &big);
    ca.store("INBOX", &[uid], "+", &["\\Flagged"]);
    ca.logout();
    let mut want_a = want_b.clone();
    want_a.add("INBOX", &big, &["\\Flagged"]);
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(2), "changed: {}", out.describe());
    assert_eq!(refused_line(&out).len(), 1, "{}", out.describe());

    // 4. --retry-refused tries again.
    let out = sync_hidden(&["--retry-refused"]);
    assert_eq!(out.code, Some(2), "retried: {}", out.describe());
    assert_eq!(refused_line(&out).len(), 1, "{}", out.describe());

    // 5. B's APPENDLIMIT visible: skipped before upload, even when retrying.
    let plan = pair.run("plan", &["--json", "--retry-refused"], &[]);
    assert_eq!(plan.code, Some(0), "{}", plan.describe());
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "plan (APPENDLIMIT)");
    let skipped = &json["plan"]["mailboxes"][0]["skipped"];
    assert_eq!(skipped[0]["why"], "append-limit", "{}", plan.stdout);
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("APPENDLIMIT (20480 bytes)"),
        "{}",
        plan.stdout
    );
    let writes = pair.dir.path().join("writes.log");
    let out = pair.run(
        "sync",
        &["--retry-refused"],
        &[("IMAPMEND_TEST_WRITE_LOG", writes.to_str().unwrap())],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(skipped_line(&out).len(), 1, "{}", out.describe());
    let log = std::fs::read_to_string(&writes).unwrap_or_default();
    assert!(
        !log.lines().any(|l| l.contains("APPEND")),
        "sent although over B's APPENDLIMIT:\n{log}"
    );
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);
}

/// `base` plus one message in INBOX, flagged \Flagged.
fn on_a_with(base: &SideState, extra: &[u8]) -> SideState {
    let mut s = base.clone();
    s.add("INBOX", extra, &["\\Flagged"]);
    s
}
