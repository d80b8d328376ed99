//! Reviewed runs against real Dovecot servers: `plan --save FILE` keeps the
//! reviewed report, and `sync --expect-plan FILE` refuses (exit 4, nothing
//! applied) when the live plan deletes more than the reviewed one, while
//! new mail to copy is fine.

mod support;

use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish};
use support::oracle;

fn imapmend(dir: &Path, a: &User, b: &User, args: &[&str]) -> (i32, String) {
    let out = bare()
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir)
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .args([args[0], "--a", &a.url(), "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .args(&args[1..])
        .finish(std::time::Duration::from_secs(120));
    (
        out.code.unwrap_or(-1),
        format!("{}{}", out.stdout.as_str(), out.stderr.as_str()),
    )
}

fn expunge_on(user: &User, subject: &str) {
    let mut c = user.client();
    let uid = c
        .fetch_all("INBOX")
        .iter()
        .find(|m| m.body.starts_with(subject.as_bytes()))
        .map(|m| m.uid)
        .unwrap();
    c.expunge_uids("INBOX", &[uid]);
    c.logout();
}

#[test]
fn sync_refuses_deletions_beyond_the_reviewed_plan_and_applies_within_it() {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut c = a.client();
    for i in 1..=4 {
        c.append(
            "INBOX",
            format!("Subject: m{i}\r\n\r\n{i}\r\n").as_bytes(),
            &[],
            None,
        );
    }
    c.logout();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = imapmend(dir.path(), &a, &b, &["sync"]);
    assert_eq!(code, 0, "{out}");

    // Reviewed: m1 deleted on A, so B loses it too.
    expunge_on(&a, "Subject: m1");
    let (code, out) = imapmend(dir.path(), &a, &b, &["plan", "--save", "reviewed.json"]);
    assert_eq!(code, 1, "{out}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reviewed.json")).unwrap())
            .unwrap();
    assert_eq!(saved["command"], "plan");
    let expunges: usize = saved["plan"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["expunges"].as_array().unwrap().len())
        .sum();
    assert_eq!(expunges, 1, "{saved}");

    // Meanwhile m2 is deleted too: the live plan deletes more than reviewed.
    expunge_on(&a, "Subject: m2");
    let before = oracle::read_side(&b);
    let (code, out) = imapmend(
        dir.path(),
        &a,
        &b,
        &["sync", "--expect-plan", "reviewed.json"],
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("refusing to sync") && out.contains("1 × expunge on B in INBOX"),
        "{out}"
    );
    oracle::assert_state("B", &oracle::read_side(&b), &before);

    // New mail to copy is no reason to refuse, nor are fewer deletions.
    let mut c = a.client();
    c.append("INBOX", b"Subject: m5\r\n\r\n5\r\n", &[], None);
    c.logout();
    let (code, out) = imapmend(dir.path(), &a, &b, &["plan", "--save", "reviewed.json"]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = imapmend(
        dir.path(),
        &a,
        &b,
        &["sync", "--expect-plan", "reviewed.json"],
    );
    assert_eq!(code, 0, "{out}");
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));
    assert_eq!(oracle::read_side(&b).len(), 3);
}

#[test]
fn a_saved_plan_of_other_servers_or_no_plan_at_all_is_refused() {
    let (a, b) = dovecot::pair(Kind::Full);
    let (c, d) = dovecot::pair(Kind::Full);
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = imapmend(dir.path(), &c, &d, &["plan", "--save", "other.json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = imapmend(dir.path(), &a, &b, &["sync", "--expect-plan", "other.json"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("made for other servers"), "{out}");

    std::fs::write(dir.path().join("junk.json"), "not json").unwrap();
    let (code, out) = imapmend(dir.path(), &a, &b, &["sync", "--expect-plan", "junk.json"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("not a saved plan"), "{out}");
    // A check report is not a plan either.
    std::fs::write(
        dir.path().join("check.json"),
        r#"{"schema_version": 1, "command": "check", "plan": null, "endpoints": []}"#,
    )
    .unwrap();
    let (code, out) = imapmend(dir.path(), &a, &b, &["sync", "--expect-plan", "check.json"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("not a saved plan"), "{out}");
}
