//! Interoperability end to end: the tunnel transport (IMAP over a
//! command's stdin/stdout, here Dovecot's `imap` binary run directly on a
//! user's Maildir, which greets with PREAUTH) against a normal Dovecot
//! endpoint, checked with the strong oracle; and pymap (pure Python, no
//! CONDSTORE) against Dovecot, ignored here: `scripts/matrix` installs
//! pymap (`scripts/pymap-setup`) and runs them.
//!
//! The Cyrus scenarios live in `tests/cyrus.rs` (they need Cyrus unpacked
//! by `scripts/cyrus-setup`).

mod support;

use support::dovecot::{self, Kind};
use support::imapmend::Pair;
use support::mail::msg;
use support::mailclient::MailClient;
use support::oracle;
use support::proxy::{Fault, Proxy};

fn seed(client: &mut MailClient, range: std::ops::Range<u32>, flags: &[&str]) {
    for n in range {
        client.append("INBOX", &msg(&format!("n{n}")), flags, None);
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
        ca.append("Archive", &msg("n10"), &["\\Seen"], None);
        let mut cb = b.client();
        seed(&mut cb, 20..22, &["\\Answered"]);
    }
    let tunnel = a.imap_tunnel();
    let pair = Pair::new(&a, &b);
    let run = |verb: &str| {
        let mut cmd = pair.command(verb, &["--a-tunnel", &tunnel], &[]);
        // No password for A at all: the tunnel greets with PREAUTH.
        cmd.env_remove("IMAPMEND_A_PASSWORD");
        support::imapmend::wait(
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
    a.client().append("INBOX", &msg("n40"), &[], None);
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
    let without = support::imapmend::wait(
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
#[ignore = "needs pymap (scripts/pymap-setup): run by scripts/matrix"]
fn dovecot_and_pymap_core_scenarios() {
    let server = support::pymap::Pymap::start();
    let d = dovecot::fresh_user(Kind::Full);
    let p = server.user.clone();
    {
        let mut cd = d.client();
        seed(&mut cd, 50..52, &[]);
        seed(&mut cd, 52..53, &["\\Flagged"]);
        cd.create("Sub");
        cd.append("Sub", &msg("n54"), &["\\Seen"], None);
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
/// absence must never read as a removal — by `sync` (SELECT) nor by `plan`
/// and `check`, which open mailboxes with EXAMINE and judge by the
/// PERMANENTFLAGS the last sync's SELECT saw.
#[test]
#[ignore = "needs pymap (scripts/pymap-setup): run by scripts/matrix"]
fn pymap_unstorable_keyword_is_never_read_as_a_removal() {
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

/// Takes `\\*` out of PERMANENTFLAGS: a server that keeps only the
/// keywords a mailbox has already (Dovecot itself does so once a Maildir
/// holds 26 keywords; pymap always).
fn no_new_keywords(line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    if text.contains("[PERMANENTFLAGS (") {
        text.replace(" \\*)]", ")]").into_bytes()
    } else {
        line.to_vec()
    }
}

/// A's SELECT offers no new keywords, so `$Label1` from B is never sent
/// there, and its absence on A is no removal. `plan` and `check` open with
/// EXAMINE (`PERMANENTFLAGS ()` on Dovecot, as on every server) and must
/// judge by what the sync's SELECT said, which the snapshot keeps: they
/// find nothing to do, like `sync`.
#[test]
fn plan_and_check_judge_storable_keywords_by_the_last_select() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    seed(&mut b.client(), 70..71, &["\\Flagged", "$Label1"]);
    for verb in ["sync", "plan", "check", "sync", "plan"] {
        // A fault is for one connection; each run makes one to A.
        proxy.arm(Fault::Rewrite(no_new_keywords));
        let out = pair.run(verb, &[], &[]);
        assert_eq!(out.code, Some(0), "{verb}: {}", out.describe());
    }
    let on_b = oracle::read_side(&b);
    assert!(format!("{on_b}").contains("$label1"), "{on_b}");
    oracle::assert_sides_equal(&oracle::read_side(&a), &without_keyword(on_b, "$label1"));
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
