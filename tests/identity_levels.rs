//! Identity below the exact level (docs/SCENARIOS.md I13), against real
//! Dovecot servers: messages that two servers stored with different bytes —
//! as Courier stores them (every CR removed, a final line break added) —
//! met on both sides before any snapshot pair by the normalised
//! fingerprint, one to one or k to k, and nothing else does.

mod support;

use support::dovecot::{self, Kind};
use support::imapmend::Pair;

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
