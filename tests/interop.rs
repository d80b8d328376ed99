//! Interoperability end to end: the tunnel transport (IMAP over a
//! command's stdin/stdout, here Dovecot's `imap` binary run directly on a
//! user's Maildir, which greets with PREAUTH) against a normal Dovecot
//! endpoint, checked with the strong oracle; and pymap (pure Python, no
//! CONDSTORE) against Dovecot when `scripts/pymap-setup` has installed it.
//!
//! The Cyrus scenarios live in `tests/cyrus.rs` (they need Cyrus unpacked
//! by `scripts/cyrus-setup`).

mod support;

use support::cli::Pair;
use support::dovecot::{self, Kind};
use support::mailclient::MailClient;
use support::oracle;

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: tunnel@example.org\r\nTo: b@example.org\r\nSubject: tunnel {n}\r\n\
         Message-ID: <tunnel-{n}@example.org>\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

fn seed(client: &mut MailClient, range: std::ops::Range<u32>, flags: &[&str]) {
    for n in range {
        client.append("INBOX", &message(n), flags, None);
    }
}

#[test]
fn tunnel_endpoint_syncs_with_a_tcp_endpoint_without_a_password() {
    let (a, b) = dovecot::pair(Kind::Full);
    {
        let mut ca = a.client();
        seed(&mut ca, 0..3, &[]);
        seed(&mut ca, 3..4, &["\\Flagged"]);
        ca.create("Archive");
        ca.append("Archive", &message(10), &["\\Seen"], None);
        let mut cb = b.client();
        seed(&mut cb, 20..22, &["\\Answered"]);
    }
    let tunnel = a.imap_tunnel();
    let pair = Pair::new(&a, &b);
    let run = |verb: &str| {
        let mut cmd = pair.command(verb, &["--a-tunnel", &tunnel], &[]);
        // No password for A at all: the tunnel greets with PREAUTH.
        cmd.env_remove("IMAPMEND_A_PASSWORD");
        support::cli::wait(
            cmd.spawn().expect("spawn imapmend"),
            std::time::Duration::from_secs(120),
            verb,
        )
    };

    let first = run("sync");
    assert_eq!(first.code, Some(0), "{}", first.describe());
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));
    assert_eq!(oracle::read_side(&a).len(), 7);
    // The imap process's own log lines go to its stderr: never shown.
    assert!(
        !first.output().contains("Disconnected"),
        "the tunnel's stderr leaked into the output:\n{}",
        first.describe()
    );

    // A flag change and new mail on each side travel both ways.
    {
        let mut ca = a.client();
        let uids: Vec<u32> = ca.fetch_all("INBOX").iter().map(|f| f.uid).collect();
        ca.store("INBOX", &uids[..1], "+", &["\\Seen"]);
        seed(&mut ca, 30..31, &[]);
        let mut cb = b.client();
        let uids: Vec<u32> = cb.fetch_all("INBOX").iter().map(|f| f.uid).collect();
        cb.store("INBOX", &uids[..1], "-", &["\\Answered"]);
    }
    let second = run("sync");
    assert_eq!(second.code, Some(0), "{}", second.describe());
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));

    let check = run("plan");
    assert_eq!(
        check.code,
        Some(0),
        "a rerun plans nothing\n{}",
        check.describe()
    );
}

#[test]
fn tunnel_command_that_exits_early_is_a_clear_error() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let out = pair.run(
        "plan",
        &[
            "--a-tunnel",
            "echo \"mailhost: no route to host, password $IMAPMEND_A_PASSWORD\" >&2; exit 5",
        ],
        &[],
    );
    assert_eq!(out.code, Some(3), "{}", out.describe());
    let text = out.output();
    assert!(text.contains("tunnel command ended"), "{text}");
    assert!(text.contains("exit status: 5"), "{text}");
    assert!(text.contains("no route to host"), "{text}");
    // The password variables are not passed to the command, so it cannot
    // even print them.
    assert!(!text.contains(&a.password), "{text}");
}

#[test]
fn tunnel_to_a_server_that_asks_for_login_uses_the_password_or_says_it_is_missing() {
    let (a, b) = dovecot::pair(Kind::Full);
    a.client().append("INBOX", &message(40), &[], None);
    // A plain TCP relay: the server greets with OK, not PREAUTH.
    let relay = format!(
        "exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}; cat <&3 & exec cat >&3'",
        a.port
    );
    let pair = Pair::new(&a, &b);
    let with_password = pair.run("sync", &["--a-tunnel", &relay], &[]);
    assert_eq!(with_password.code, Some(0), "{}", with_password.describe());
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));

    let mut cmd = pair.command("plan", &["--a-tunnel", &relay], &[]);
    cmd.env_remove("IMAPMEND_A_PASSWORD");
    let without = support::cli::wait(
        cmd.spawn().unwrap(),
        std::time::Duration::from_secs(60),
        "plan",
    );
    assert_eq!(without.code, Some(3), "{}", without.describe());
    assert!(
        without.output().contains("not PREAUTH"),
        "{}",
        without.describe()
    );
}

/// pymap (pure Python, no CONDSTORE/QRESYNC/ENABLE/NAMESPACE, `/` as
/// delimiter) against Dovecot: first sync both ways, flag deltas both ways,
/// a proven expunge, a rerun that plans nothing — the full-listing path on
/// pymap's side throughout. Needs `scripts/pymap-setup` (long matrix).
#[test]
fn dovecot_and_pymap_core_scenarios() {
    if !support::pymap::available() {
        return;
    }
    let server = support::pymap::Pymap::start();
    let d = dovecot::fresh_user(Kind::Full);
    let p = server.user.clone();
    {
        let mut cd = d.client();
        seed(&mut cd, 50..52, &[]);
        seed(&mut cd, 52..53, &["\\Flagged"]);
        cd.create("Sub");
        cd.append("Sub", &message(54), &["\\Seen"], None);
        let mut cp = p.client();
        seed(&mut cp, 55..56, &["\\Answered"]);
    }
    let pair = Pair::new(&d, &p);
    let sync = |verb: &str, code: i32| {
        let out = pair.run(verb, &[], &[]);
        assert_eq!(out.code, Some(code), "{verb}: {}", out.describe());
        out
    };
    let first = sync("sync", 0);
    assert!(first.stdout.contains("B full listing"), "{}", first.stdout);
    // pymap's PERMANENTFLAGS has no `\*` (though it keeps keywords given
    // in APPEND): $Label1 is not sent there, and its absence is not read
    // as a removal on later runs.
    oracle::assert_sides_equal(
        &without_keyword(oracle::read_side(&d), "$label1"),
        &oracle::read_side(&p),
    );
    assert_eq!(oracle::read_side(&p).len(), 5);

    {
        let mut cd = d.client();
        let uids: Vec<u32> = cd.fetch_all("INBOX").iter().map(|f| f.uid).collect();
        cd.store("INBOX", &uids[..1], "+", &["\\Seen"]);
        let mut cp = p.client();
        let uids: Vec<u32> = cp.fetch_all("INBOX").iter().map(|f| f.uid).collect();
        cp.store("INBOX", &uids[uids.len() - 1..], "-", &["\\Answered"]);
        let sub: Vec<u32> = cp.fetch_all("Sub").iter().map(|f| f.uid).collect();
        cp.expunge_uids("Sub", &sub);
    }
    sync("sync", 0);
    oracle::assert_sides_equal(&oracle::read_side(&d), &oracle::read_side(&p));
    assert_eq!(oracle::read_side(&d).len(), 4);
    sync("plan", 0);
    sync("check", 0);
}

/// pymap's PERMANENTFLAGS under SELECT has no `\\*` (though it keeps
/// keywords given in APPEND), so a keyword is never sent there and its
/// absence must never read as a removal. `sync` (SELECT) gets that right;
/// `plan` and `check` open mailboxes with EXAMINE, where every server
/// answers `PERMANENTFLAGS ()` (read-only), and `MailboxStatus::can_store`
/// (src/model.rs) takes an empty list for "everything storable" — so
/// `plan` then proposes removing the keyword on the other side. Ignored
/// until that is fixed (scripts/matrix runs it with --include-ignored).
#[test]
#[ignore = "open bug: EXAMINE's PERMANENTFLAGS () is read as 'every flag storable' (src/model.rs can_store)"]
fn pymap_unstorable_keyword_is_never_read_as_a_removal() {
    if !support::pymap::available() {
        return;
    }
    let server = support::pymap::Pymap::start();
    let d = dovecot::fresh_user(Kind::Full);
    let p = server.user.clone();
    seed(&mut d.client(), 60..61, &["\\Flagged", "$Label1"]);
    let pair = Pair::new(&d, &p);
    for verb in ["sync", "plan", "check", "sync", "plan"] {
        let out = pair.run(verb, &[], &[]);
        assert_eq!(out.code, Some(0), "{verb}: {}", out.describe());
    }
    let dovecot = oracle::read_side(&d);
    assert!(format!("{dovecot}").contains("$label1"), "{dovecot}");
    oracle::assert_sides_equal(&without_keyword(dovecot, "$label1"), &oracle::read_side(&p));
}

/// `state` with `keyword` (lower case) taken off every message.
fn without_keyword(state: oracle::SideState, keyword: &str) -> oracle::SideState {
    let mut out = oracle::SideState::default();
    for (mailbox, messages) in state.0 {
        let entry = out.0.entry(mailbox).or_default();
        for ((hash, flags), count) in messages {
            let flags = flags.into_iter().filter(|f| f != keyword).collect();
            *entry.entry((hash, flags)).or_default() += count;
        }
    }
    out
}
