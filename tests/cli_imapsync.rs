//! imapsync's spellings against real Dovecot servers: an imapsync command
//! line with `imapsync` replaced by `imapmend sync` copies host1 → host2
//! only (one way), honours `--exclude` and `--folder`, `--dry` changes
//! nothing, `--delete2` removes what host1 does not have, and
//! `--password1` is refused without echoing the password.

mod support;

use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish, LIMIT};
use support::oracle::{self, SideState};

const SHARED: &[u8] = b"Subject: shared\r\n\r\non both\r\n";
const ONLY_A: &[u8] = b"Subject: only on host1\r\n\r\na\r\n";
const JUNK: &[u8] = b"Subject: spam\r\n\r\nbuy\r\n";
const WORK: &[u8] = b"Subject: work\r\n\r\nreport\r\n";
const ONLY_B: &[u8] = b"Subject: only on host2\r\n\r\nb\r\n";

/// `imapmend sync` with imapsync's options for `a` (host1) and `b` (host2).
fn imapsync_style(dir: &Path, a: &User, b: &User, extra: &[&str]) -> (i32, String) {
    let pass1 = dir.join("pass1");
    let pass2 = dir.join("pass2");
    std::fs::write(&pass1, &a.password).unwrap();
    std::fs::write(&pass2, format!("{}\n", b.password)).unwrap();
    let (p1, p2) = (a.port.to_string(), b.port.to_string());
    let out = bare()
        .env("XDG_STATE_HOME", dir)
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD")
        .args([
            "sync",
            "--host1",
            "127.0.0.1",
            "--port1",
            &p1,
            "--user1",
            &a.name,
        ])
        .args(["--passfile1", pass1.to_str().unwrap()])
        .args(["--host2", "127.0.0.1", "--port2", &p2, "--user2", &b.name])
        .args(["--passfile2", pass2.to_str().unwrap()])
        // Loopback test servers offer no TLS.
        .args(["--a-tls", "none", "--b-tls", "none"])
        .args(extra)
        .finish(std::time::Duration::from_secs(120));
    (
        out.code.unwrap_or(-1),
        format!("{}{}", out.stdout.as_str(), out.stderr.as_str()),
    )
}

fn state(mailboxes: &[(&str, &[&[u8]])]) -> SideState {
    let mut s = SideState::default();
    for (name, messages) in mailboxes {
        s.mailbox(name);
        for m in *messages {
            s.add(name, m, &[] as &[&str]);
        }
    }
    s
}

#[test]
fn imapsync_command_line_copies_one_way_with_exclude_dry_and_delete2() {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", SHARED, &[], None);
    ca.append("INBOX", ONLY_A, &[], None);
    for (mailbox, msg) in [("Junk", JUNK), ("Work", WORK)] {
        ca.create(mailbox);
        ca.append(mailbox, msg, &[], None);
    }
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", SHARED, &[], None);
    cb.append("INBOX", ONLY_B, &[], None);
    cb.logout();
    let before_a = oracle::read_side(&a);
    let before_b = oracle::read_side(&b);
    let dir = tempfile::tempdir().unwrap();

    // --dry: the plan, nothing written.
    let (code, out) = imapsync_style(dir.path(), &a, &b, &["--exclude", "^Junk$", "--dry"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Actions pending"), "{out}");
    oracle::assert_state("host1", &oracle::read_side(&a), &before_a);
    oracle::assert_state("host2", &oracle::read_side(&b), &before_b);

    // The real run: host1 → host2 only, Junk left out, host2's extra kept.
    let (code, out) = imapsync_style(dir.path(), &a, &b, &["--exclude", "^Junk$"]);
    assert_eq!(code, 0, "{out}");
    oracle::assert_state("host1", &oracle::read_side(&a), &before_a);
    oracle::assert_state(
        "host2",
        &oracle::read_side(&b),
        &state(&[("INBOX", &[SHARED, ONLY_A, ONLY_B]), ("Work", &[WORK])]),
    );

    // --delete2: host2 keeps only what host1 has (still without Junk);
    // --folder limits the run to INBOX.
    let (code, out) = imapsync_style(dir.path(), &a, &b, &["--folder", "INBOX", "--delete2"]);
    assert_eq!(code, 0, "{out}");
    oracle::assert_state("host1", &oracle::read_side(&a), &before_a);
    oracle::assert_state(
        "host2",
        &oracle::read_side(&b),
        &state(&[("INBOX", &[SHARED, ONLY_A]), ("Work", &[WORK])]),
    );
}

#[test]
fn password_on_the_command_line_is_refused_without_echo() {
    for (flag, other) in [
        ("--password1", "--passfile1"),
        ("--password2", "--passfile2"),
    ] {
        let out = bare()
            .args(["sync", "--host1", "mail.example.org", "--user1", "u"])
            .args(["--host2", "new.example.org", "--user2", "v"])
            .args([flag, "s3cret-value"])
            .finish(LIMIT);
        let err = out.stderr.as_str();
        assert_eq!(out.code, Some(3), "{err}");
        assert!(
            err.contains(&format!("{flag}: passwords are never accepted")),
            "{err}"
        );
        assert!(err.contains(other), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn imapsync_options_that_do_not_fit_are_refused() {
    for (args, needle) in [
        (
            &["--host1", "h", "--user1", "u", "--a", "imaps://u@h"][..],
            "cannot be used with",
        ),
        (
            &["--host1", "h", "--b", "imaps://v@b"][..],
            "--user1 is missing",
        ),
        (
            &["--user2", "v", "--a", "imaps://u@h"][..],
            "--host2 is missing",
        ),
        (
            &["--ssl1", "--tls1", "--host1", "h", "--user1", "u"][..],
            "cannot be used with",
        ),
        (
            &["--exclude", "(", "--a", "imaps://u@a", "--b", "imaps://v@b"][..],
            "--exclude \"(\"",
        ),
    ] {
        let out = bare()
            .env("IMAPMEND_A_PASSWORD", "x")
            .env("IMAPMEND_B_PASSWORD", "y")
            .arg("plan")
            .args(args)
            .finish(LIMIT);
        let err = out.stderr.as_str();
        assert_eq!(out.code, Some(3), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
