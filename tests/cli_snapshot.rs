//! `imapmend snapshot show|forget` against the snapshot of a real sync:
//! what it lists, found by `--a/--b` (the default path) or `--state`,
//! mirrored when A and B are given the other way round; and `forget`, which
//! refuses while a run holds the file and never deletes a foreign file.

mod support;

use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn imapmend(state_home: &Path, a: &User, b: &User, args: &[&str]) -> Out {
    let out = bare()
        .env("XDG_STATE_HOME", state_home)
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .args(args)
        .finish(std::time::Duration::from_secs(120));
    Out {
        code: out.code.unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// A synced pair: INBOX with 3 messages from A, Archive with 1 from B.
fn synced_pair(state_home: &Path) -> (User, User) {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    for i in 0..3 {
        ca.append(
            "INBOX",
            format!("Subject: m{i}\r\n\r\nbody {i}\r\n").as_bytes(),
            &["\\Seen"],
            None,
        );
    }
    ca.logout();
    let mut cb = b.client();
    cb.create("Archive");
    cb.append("Archive", b"Subject: old\r\n\r\narchived\r\n", &[], None);
    cb.logout();
    let (ua, ub) = (a.url(), b.url());
    let out = imapmend(
        state_home,
        &a,
        &b,
        &[
            "sync", "--a", &ua, "--b", &ub, "--a-tls", "none", "--b-tls", "none",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    (a, b)
}

/// `snapshot show --json` of the pair's default snapshot.
fn shown(state_home: &Path, a: &User, b: &User) -> serde_json::Value {
    let (ua, ub) = (a.url(), b.url());
    let args = ["snapshot", "show", "--a", &ua, "--b", &ub, "--json"];
    let out = imapmend(state_home, a, b, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn show_lists_mailboxes_pairs_and_cache_found_by_the_endpoints() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = synced_pair(home.path());
    let (ua, ub) = (a.url(), b.url());

    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "show", "--a", &ua, "--b", &ub, "--json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        s["endpoints"][0],
        format!("imap://{}@127.0.0.1:{}", a.name, a.port)
    );
    assert_eq!(s["in_use"], false);
    assert_eq!(s["pending_intents"].as_array().unwrap().len(), 0);
    let mailboxes = s["mailboxes"].as_array().unwrap();
    let names: Vec<&str> = mailboxes
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Archive", "INBOX"]);
    let inbox = &mailboxes[1];
    assert_eq!(inbox["pairs"], 3);
    assert_eq!(inbox["cached"][0]["messages"], 3, "{inbox}");
    assert!(inbox["cached"][0]["bytes"].as_u64().unwrap() > 0);
    assert!(inbox["sides"][0]["uidvalidity"].as_u64().unwrap() > 0);
    assert_eq!(mailboxes[0]["pairs"], 1);

    // The text form, found through --state alone.
    let path = s["path"].as_str().unwrap().to_string();
    let out = imapmend(home.path(), &a, &b, &["snapshot", "show", "--state", &path]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for needle in [
        "INBOX",
        "Archive",
        "Totals: 2 mailbox(es), 4 pair(s)",
        "Pending copies: none",
        "In use by a run now: no",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle} missing:\n{}",
            out.stdout
        );
    }

    // --a and --b the other way round: the same file, mirrored.
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "show", "--a", &ub, "--b", &ua, "--json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(m["endpoints"][0], s["endpoints"][1]);
    assert_eq!(m["mailboxes"][1]["sides"][0], s["mailboxes"][1]["sides"][1]);
}

#[test]
fn forget_refuses_while_locked_then_removes_every_file_but_the_action_log() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = synced_pair(home.path());
    let (ua, ub) = (a.url(), b.url());
    let s = shown(home.path(), &a, &b);
    let path = std::path::PathBuf::from(s["path"].as_str().unwrap());
    assert!(path.exists());

    // A run holds the lock: forget is refused (4) and deletes nothing.
    let ids = [&a, &b].map(|u| imapmend::snapshot::EndpointIdentity {
        scheme: "imap".into(),
        host: "127.0.0.1".into(),
        port: u.port,
        user: u.name.clone(),
    });
    let held = imapmend::snapshot::Snapshot::open(&path, [&ids[0], &ids[1]]).unwrap();
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "show", "--state", path.to_str().unwrap()],
    );
    assert!(
        out.stdout.contains("In use by a run now: yes"),
        "{}",
        out.stdout
    );
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "forget", "--a", &ua, "--b", &ub],
    );
    assert_eq!(out.code, 4, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("in use by another imapmend run"),
        "{}",
        out.stderr
    );
    assert!(path.exists());
    drop(held);

    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "forget", "--a", &ua, "--b", &ub],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Forgot"), "{}", out.stdout);
    // The action log is the record of what was done, not state a run
    // depends on: it stays (docs/AUDIT.md). Everything else goes.
    let dir = path.parent().unwrap();
    let log = format!(
        "{}.actions.jsonl",
        path.file_name().unwrap().to_string_lossy()
    );
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [log], "left behind");

    // Again: nothing to forget, still fine; show says there is nothing.
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "forget", "--a", &ua, "--b", &ub],
    );
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("nothing to forget"), "{}", out.stdout);
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "show", "--a", &ua, "--b", &ub],
    );
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("no snapshot at"), "{}", out.stderr);
}

#[test]
fn forget_never_deletes_a_foreign_file_or_another_pairs_snapshot() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = synced_pair(home.path());
    let foreign = home.path().join("notes.sqlite");
    std::fs::write(&foreign, b"SQLite format 3\0 but not really").unwrap();
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "forget", "--state", foreign.to_str().unwrap()],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(foreign.exists());

    // The pair's snapshot given with --state, but other servers named.
    let show = imapmend(
        home.path(),
        &a,
        &b,
        &[
            "snapshot",
            "show",
            "--a",
            &a.url(),
            "--b",
            &b.url(),
            "--json",
        ],
    );
    let s: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let path = s["path"].as_str().unwrap();
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &[
            "snapshot",
            "forget",
            "--state",
            path,
            "--a",
            "imaps://x@other.example",
            "--b",
            &b.url(),
        ],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("belongs to other servers"),
        "{}",
        out.stderr
    );
    assert!(Path::new(path).exists());
}

/// A snapshot written by a newer imapmend (a higher schema version) is
/// refused, never misread: `plan` and `snapshot show` exit 3 naming both
/// versions, and the file is left as it was.
#[test]
fn a_snapshot_of_a_newer_schema_is_refused_and_left_untouched() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = synced_pair(home.path());
    let (ua, ub) = (a.url(), b.url());
    let s = shown(home.path(), &a, &b);
    let path = s["path"].as_str().unwrap().to_string();
    let version = s["schema_version"].as_i64().unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {};", version + 1))
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let plan = [
        "plan", "--a", &ua, "--b", &ub, "--a-tls", "none", "--b-tls", "none",
    ];
    for args in [&plan[..], &["snapshot", "show", "--state", &path]] {
        let out = imapmend(home.path(), &a, &b, args);
        assert_eq!(out.code, 3, "{args:?}: {}{}", out.stdout, out.stderr);
        let words = format!(
            "has schema version {}, newer than the {version} this imapmend understands",
            version + 1
        );
        assert!(out.stderr.contains(&words), "{args:?}: {}", out.stderr);
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// `snapshot verify` on the snapshot of a real sync: sound (exit 0), every
/// check listed; once a pair's cache row is deleted behind its back, not
/// sound (exit 1), the broken invariant named with the message; a missing
/// file cannot be checked (exit 3).
#[test]
fn verify_passes_a_real_sync_and_names_what_breaks_an_invariant() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = synced_pair(home.path());
    let (ua, ub) = (a.url(), b.url());
    let verify = ["snapshot", "verify", "--a", &ua, "--b", &ub];
    let out = imapmend(home.path(), &a, &b, &verify);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for needle in [
        "ok   SQLite integrity check",
        "ok   every pair has its cache row",
        "Sound.",
    ] {
        assert!(out.stdout.contains(needle), "{needle}:\n{}", out.stdout);
    }
    let path = shown(home.path(), &a, &b)["path"]
        .as_str()
        .unwrap()
        .to_string();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DELETE FROM message WHERE side = 'B' AND uid = (SELECT min(uid_b) FROM pair)",
        )
        .unwrap();
    let out = imapmend(home.path(), &a, &b, &[&verify[..], &["--json"]].concat());
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let broken: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["violations"] != 0)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["every pair has its cache row"]);
    let missing = home.path().join("none.sqlite");
    let out = imapmend(
        home.path(),
        &a,
        &b,
        &["snapshot", "verify", "--state", missing.to_str().unwrap()],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
}
