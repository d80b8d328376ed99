//! Interoperability end to end: the tunnel transport (IMAP over a
//! command's stdin/stdout, here Dovecot's `imap` binary run directly on a
//! user's Maildir, which greets with PREAUTH) against a normal Dovecot
//! endpoint, checked with the strong oracle.
//!
//! The Cyrus scenarios live in `tests/cyrus.rs` (they need Cyrus unpacked
//! by `scripts/cyrus-setup`).

mod support;

use std::path::PathBuf;

use support::cli::Pair;
use support::dovecot::{self, Kind, User};
use support::mailclient::MailClient;
use support::oracle;

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: tunnel@example.org\r\nTo: b@example.org\r\nSubject: tunnel {n}\r\n\
         Message-ID: <tunnel-{n}@example.org>\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// The config file of the server `user` lives on.
fn server_config(user: &User) -> PathBuf {
    let dir = user.home.parent().and_then(|p| p.parent()).expect("home");
    dir.join("dovecot.conf")
}

/// `imap -c CONF -u USER`: Dovecot's IMAP process on the user's Maildir,
/// without any network (the user is looked up in the running server's
/// userdb; as root, the process drops to the mail user itself).
fn imap_tunnel(user: &User) -> String {
    format!(
        "exec /usr/lib/dovecot/imap -c '{}' -u '{}'",
        server_config(user).display(),
        user.name
    )
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
    let tunnel = imap_tunnel(&a);
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
