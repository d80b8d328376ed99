//! Identity below the exact level (docs/SCENARIOS.md I13, I16), against
//! real Dovecot servers: messages that two servers stored with different
//! bytes — as Courier stores them (every CR removed, a final line break
//! added) — met on both sides before any snapshot pair by the normalised
//! fingerprint, one to one or k to k, and nothing else does; messages a
//! server rebuilds on every FETCH (Exchange style, played by a proxy in
//! front of Dovecot) pair by headers with `--identity headers`, and such
//! a pair never deletes.

mod support;

use serde_json::Value;
use support::dovecot::{self, Kind};
use support::imapmend::{Outcome, Pair};
use support::mail::{msg, DATE};
use support::oracle::{self, SideState};
use support::proxy::Proxy;

/// Each message with how Courier would hold it.
const ORIGINALS: [(&[u8], &[u8]); 2] = [
    // No final line break: Courier adds one.
    (
        b"From: a@example.org\r\nSubject: no final break\r\n\r\nbody",
        b"From: a@example.org\r\nSubject: no final break\r\n\r\nbody\r\n",
    ),
    // A bare CR in the body: Courier removes it.
    (
        b"From: a@example.org\r\nSubject: bare cr\r\n\r\none\rtwo\r\n",
        b"From: a@example.org\r\nSubject: bare cr\r\n\r\nonetwo\r\n",
    ),
];

/// Counts per subject on one side.
fn counts(user: &support::dovecot::User) -> Vec<(String, usize)> {
    let mut subjects: Vec<String> = user
        .client()
        .fetch_all("INBOX")
        .iter()
        .map(|f| {
            let text = String::from_utf8_lossy(&f.body);
            let line = text.lines().find(|l| l.starts_with("Subject:")).unwrap();
            line.trim_end_matches('\r').to_string()
        })
        .collect();
    subjects.sort();
    let mut out: Vec<(String, usize)> = Vec::new();
    for s in subjects {
        match out.last_mut() {
            Some((last, n)) if *last == s => *n += 1,
            _ => out.push((s, 1)),
        }
    }
    out
}

#[test]
fn i13_rewritten_copies_met_before_a_snapshot_pair_at_the_normalised_level() {
    for kind in [Kind::Full, Kind::NoCondstore] {
        let (a, b) = dovecot::pair(kind);
        let mut ca = a.client();
        let mut cb = b.client();
        // One to one, and two to two (rewritten duplicates).
        for (original, rewritten) in ORIGINALS {
            ca.append("INBOX", original, &["\\Seen"], None);
            cb.append("INBOX", rewritten, &[], None);
        }
        let dup = b"From: a@example.org\r\nSubject: duplicate\r\n\r\nbody";
        let dup_rewritten = b"From: a@example.org\r\nSubject: duplicate\r\n\r\nbody\r\n";
        for _ in 0..2 {
            ca.append("INBOX", dup, &[], None);
            cb.append("INBOX", dup_rewritten, &[], None);
        }
        // Two on A, one on B: which of A's is B's is a guess, so none is
        // paired by the normalised fingerprint; each side gets copies.
        let odd = b"From: a@example.org\r\nSubject: two to one\r\n\r\nodd";
        let odd_rewritten = b"From: a@example.org\r\nSubject: two to one\r\n\r\nodd\r\n";
        ca.append("INBOX", odd, &[], None);
        ca.append("INBOX", odd, &[], None);
        cb.append("INBOX", odd_rewritten, &[], None);
        ca.logout();
        cb.logout();

        let pair = Pair::new(&a, &b);
        let plan = pair.expect("plan", &["-v"], 1);
        let normalised = plan.stdout.matches(", at the normalised level").count();
        assert_eq!(normalised, 4, "{}", plan.stdout);
        assert!(
            plan.stdout
                .contains("4 message(s) paired at the normalised level"),
            "{}",
            plan.stdout
        );
        pair.expect("sync", &[], 0);
        let expected = vec![
            ("Subject: bare cr".to_string(), 1),
            ("Subject: duplicate".to_string(), 2),
            ("Subject: no final break".to_string(), 1),
            ("Subject: two to one".to_string(), 3),
        ];
        assert_eq!(counts(&a), expected, "{kind:?}");
        assert_eq!(counts(&b), expected, "{kind:?}");
        // Flags travelled over the loose pairs; reruns plan nothing, and
        // check finds both sides in agreement.
        let on_b = b.client().fetch_all("INBOX");
        let seen = on_b
            .iter()
            .filter(|f| f.flags.iter().any(|x| x == "\\Seen"))
            .count();
        assert_eq!(seen, 2, "{on_b:?}");
        pair.expect("plan", &[], 0);
        pair.expect("sync", &[], 0);
        pair.expect("check", &[], 0);
        assert_eq!(counts(&a), expected, "{kind:?}");
    }
}

/// How the proxy serves each of B's messages, as Exchange serves its
/// store: rebuilt, with headers of its own in front, so that neither
/// fingerprint pairs it with what it was; Message-ID, Date and From
/// survive, and the size stays within the header level's tolerance.
fn rebuilt(body: &[u8]) -> Vec<u8> {
    let mut out = b"X-MS-Exchange-Organization-Rebuilt: yes\r\n\
                    X-MS-Has-Attach: \r\n"
        .to_vec();
    out.extend_from_slice(body);
    out
}

/// A `--json` report's plan: copies, and the level of every pair.
fn planned(out: &Outcome) -> (usize, Vec<String>) {
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", out.describe()));
    let mailboxes = report["plan"]["mailboxes"].as_array().unwrap();
    let copies = mailboxes
        .iter()
        .map(|m| m["copies"].as_array().unwrap().len())
        .sum();
    let levels = mailboxes
        .iter()
        .flat_map(|m| m["pairs"].as_array().unwrap())
        .map(|p| p["level"].as_str().unwrap().to_string())
        .collect();
    (copies, levels)
}

/// INBOX holding these [`msg`] messages, without flags.
fn inbox(names: &[&str]) -> SideState {
    let mut side = SideState::default();
    for name in names {
        side.add("INBOX", &msg(name), &[] as &[&str]);
    }
    side
}

/// Expunges the message `name` ([`msg`]) from INBOX on `user`.
fn expunge(user: &support::dovecot::User, name: &str) {
    let mut c = user.client();
    let uid = c.uid_of("INBOX", &msg(name));
    c.expunge_uids("INBOX", &[uid]);
    c.logout();
}

/// I16: B serves every message rebuilt (a proxy in front of Dovecot, as
/// Exchange / Office 365 would). Both sides hold the same four messages:
/// without `--identity headers` they would be copied both ways and check
/// finds differences; with it check finds agreement, the first sync pairs all four at the level `headers` and copies
/// nothing, and a rerun plans nothing. One side of a pair deleted on each
/// side: each survivor is kept, reported, not copied back, and nothing
/// else is deleted. B's RFC822.SIZE turning into estimates under known
/// UIDs is no sign of a restore with the option (it is without).
#[test]
fn i16_a_server_that_rebuilds_every_message_pairs_by_headers_and_never_deletes_by_them() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start_rebuilding(b.port, rebuilt);
    let through_proxy = || Pair {
        b_port: proxy.port(),
        ..Pair::new(&a, &b)
    };
    let names = ["m1", "m2", "m3", "m4"];
    for user in [&a, &b] {
        let mut c = user.client();
        for name in names {
            c.append("INBOX", &msg(name), &[], Some(DATE));
        }
        c.logout();
    }
    let all = inbox(&names);

    // By content alone, every rebuilt message is new mail on B, and
    // every original new mail on A.
    let by_content = through_proxy().expect("plan", &["--no-compress", "--json"], 1);
    assert_eq!(planned(&by_content).0, 8, "{}", by_content.describe());
    // check, before any sync, counts agreement at the same levels.
    through_proxy().expect("check", &["--no-compress"], 1);
    let headers = ["--identity", "headers", "--no-compress"];
    through_proxy().expect("check", &headers, 0);

    let pair = through_proxy();
    let first = pair.expect("sync", &[&headers[..], &["--json"]].concat(), 0);
    assert_eq!(
        planned(&first),
        (0, vec!["headers".to_string(); 4]),
        "{}",
        first.describe()
    );
    assert!(oracle::read_side(&a) == all, "A after the first sync");
    assert!(oracle::read_side(&b) == all, "B after the first sync");
    pair.expect("plan", &headers, 0);

    // One side of a header-level pair is deleted, on each side.
    expunge(&a, "m1");
    expunge(&b, "m2");
    let out = pair.expect("sync", &headers, 0).output();
    assert_eq!(
        out.matches("the pair was made by headers only").count(),
        2,
        "{out}"
    );
    assert!(
        oracle::read_side(&a) == inbox(&["m2", "m3", "m4"]),
        "A after the deletions:\n{out}"
    );
    assert!(
        oracle::read_side(&b) == inbox(&["m1", "m3", "m4"]),
        "B after the deletions:\n{out}"
    );
    let again = pair.expect("plan", &headers, 0).output();
    assert!(again.contains("made by headers only"), "{again}");

    // B's sizes turn into estimates; a flag set on B brings a message
    // with its new size into the next listing (CHANGEDSINCE).
    proxy.skew_sizes(300);
    let mut cb = b.client();
    let m3 = cb.uid_of("INBOX", &msg("m3"));
    cb.store("INBOX", &[m3], "+", &["\\Flagged"]);
    cb.logout();
    let plan = pair
        .expect("plan", &[&headers[..], &["-v"]].concat(), 1)
        .output();
    assert!(!plan.contains("reused"), "{plan}");
    assert!(plan.contains(": +\\Flagged"), "{plan}");
    // Without the option, the same listing reads as a restored B.
    let by_content = pair.run("plan", &["--no-compress", "-v"], &[]).output();
    assert!(by_content.contains("the UID was reused"), "{by_content}");
}
