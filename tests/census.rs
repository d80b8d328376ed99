//! The rewrite census (issue 15): every message of the project's mail
//! (`fixtures/mail/` and seeded generated mail; the shared corpora in the
//! long run) is APPENDed to each server of the suite — Dovecot, Cyrus,
//! Courier-IMAP — fetched back, and compared with what was sent. Each
//! server's report says which rewrites it made and to how many messages
//! (docs/COMPATIBILITY.md, "What servers rewrite"), and which it refused.
//!
//! A rewrite is named by the first normalisations (cumulative, in the order
//! of [`NORMALISATIONS`]) under which the served bytes equal the sent ones;
//! CRLF line ends are the baseline (IMAP serves them), not a rewrite, and
//! each message is sent with them ([`crlf`]). A rewrite no normalisation
//! explains fails the test: it is news.
//!
//! Then imapmend itself is asked: `plan` between a Dovecot user holding
//! the originals and the server's user holding its copies, as on a first
//! meeting after a restore. What it pairs and what it would copy is
//! compared with the census (see [`assert_pairing`]).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::dovecot::{self, Kind, User};
use support::imapmend::Pair;
use support::oracle::canonical_crlf;
use support::rewrites::{corpora_mail, crlf, quick_mail, Sent, NORMALISATIONS};
use support::{courier, cyrus};

/// Whether `original` and `served` are equal under the normalisations
/// `on` picks (by index into [`NORMALISATIONS`]), applied in order.
fn equal_under(original: &[u8], served: &[u8], on: &[bool]) -> bool {
    let (mut a, mut b) = (original.to_vec(), served.to_vec());
    for ((_, normalise), _) in NORMALISATIONS.iter().zip(on).filter(|(_, &on)| on) {
        (a, b) = (normalise(&a), normalise(&b));
    }
    canonical_crlf(&a) == canonical_crlf(&b)
}

/// The rewrites that explain `served` from `original`: empty when the
/// server kept it (up to CRLF line ends), None when nothing known does.
/// The fewest leading normalisations that make the two equal, less any
/// of those that is not needed.
fn rewrites(original: &[u8], served: &[u8]) -> Option<Vec<&'static str>> {
    let n = NORMALISATIONS.len();
    let k = (0..=n)
        .find(|&k| equal_under(original, served, &(0..n).map(|i| i < k).collect::<Vec<_>>()))?;
    let mut on: Vec<bool> = (0..n).map(|i| i < k).collect();
    for i in 0..k {
        on[i] = false;
        if !equal_under(original, served, &on) {
            on[i] = true;
        }
    }
    Some(
        NORMALISATIONS
            .iter()
            .zip(&on)
            .filter(|(_, &on)| on)
            .map(|((name, _), _)| *name)
            .collect(),
    )
}

/// What one server did with the mail.
#[derive(Default)]
struct Census {
    server: &'static str,
    sent: usize,
    /// Refused by APPEND: name and the server's words.
    refused: Vec<(String, String)>,
    /// Rewrite → the messages it touched.
    touched: BTreeMap<&'static str, Vec<String>>,
    /// Messages with at least one rewrite.
    rewritten: usize,
    /// Rewrites nothing known explains.
    unexplained: Vec<String>,
    /// name → served bytes, of the messages accepted.
    served: BTreeMap<String, Vec<u8>>,
    /// UID → name, of the messages accepted.
    names: BTreeMap<u32, String>,
}

impl Census {
    fn report(&self) -> String {
        let mut out = format!(
            "{}: {} sent, {} refused, {} rewritten\n",
            self.server,
            self.sent,
            self.refused.len(),
            self.rewritten
        );
        for (kind, names) in &self.touched {
            out.push_str(&format!(
                "  {kind}: {} ({})\n",
                names.len(),
                names.join(", ")
            ));
        }
        for (name, why) in &self.refused {
            out.push_str(&format!("  refused {name}: {why}\n"));
        }
        for name in &self.unexplained {
            out.push_str(&format!("  UNEXPLAINED rewrite of {name}\n"));
        }
        out
    }
}

/// APPENDs every message to `user`'s INBOX, fetches them back by UID and
/// names what the server did to each.
fn take(server: &'static str, user: &User, mail: &[Sent]) -> Census {
    let mut client = user.client();
    let mut census = Census {
        server,
        sent: mail.len(),
        ..Census::default()
    };
    let mut uids = BTreeMap::new();
    for m in mail {
        match client.try_append("INBOX", &crlf(&m.bytes), &[], Some(&m.date)) {
            Ok(uid) => {
                uids.insert(uid, m);
            }
            Err(why) => census.refused.push((m.name.clone(), why)),
        }
    }
    let fetched = client.fetch_all("INBOX");
    client.logout();
    assert_eq!(fetched.len(), uids.len(), "{server}: fetched back");
    for f in fetched {
        let m = uids[&f.uid];
        match rewrites(&m.bytes, &f.body) {
            Some(kinds) => {
                if !kinds.is_empty() {
                    census.rewritten += 1;
                }
                for kind in kinds {
                    census.touched.entry(kind).or_default().push(m.name.clone());
                }
            }
            None => census.unexplained.push(m.name.clone()),
        }
        census.served.insert(m.name.clone(), f.body);
        census.names.insert(f.uid, m.name.clone());
    }
    census
}

/// What `plan` makes of a Dovecot user holding the originals (A) and the
/// server's user holding its copies (B), with no snapshot: the copies it
/// would make, as (from A, UID), and whether its pairs say at which level
/// of identity they were made (the normalised fingerprint exists).
fn planned_copies(originals: &User, copies: &User, extra: &[&str]) -> (Vec<(bool, u32)>, bool) {
    let pair = Pair::new(originals, copies);
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = pair.run("plan", &args, &[]);
    assert!(matches!(out.code, Some(0 | 1)), "{}", out.describe());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut planned = Vec::new();
    let mut levels = false;
    for mb in report["plan"]["mailboxes"].as_array().unwrap() {
        for c in mb["copies"].as_array().unwrap() {
            let uid = c["uid"].as_u64().expect("a copy's UID") as u32;
            planned.push((c["from"] == "A", uid));
        }
        levels |= mb["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.get("level").is_some());
    }
    (planned, levels)
}

/// The messages both servers accepted whose served bytes differ (beyond
/// line ends): what the exact content hash cannot pair.
fn differing(reference: &Census, census: &Census) -> BTreeSet<String> {
    census
        .served
        .iter()
        .filter(|(name, body)| {
            reference
                .served
                .get(*name)
                .is_some_and(|r| canonical_crlf(r) != canonical_crlf(body))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The census of one server against the Dovecot reference, asserted and
/// reported. `known` are the rewrites docs/COMPATIBILITY.md lists for it:
/// any other one fails.
fn census_of(
    server: &'static str,
    user: User,
    prefix: &[&str],
    mail: &[Sent],
    known: &[&str],
) -> Census {
    let reference_user = dovecot::fresh_user(Kind::Full);
    let reference = take("Dovecot (reference)", &reference_user, mail);
    let census = take(server, &user, mail);
    eprintln!("{}", census.report());
    assert!(census.unexplained.is_empty(), "{}", census.report());
    for kind in census.touched.keys() {
        assert!(
            known.contains(kind),
            "{server} made a rewrite docs/COMPATIBILITY.md does not list: {kind}\n{}",
            census.report()
        );
    }
    assert_pairing(&reference, &census, &reference_user, &user, prefix);
    census
}

/// imapmend pairs every message the server accepted with its original,
/// however the server rewrote it: on a first meeting `plan` copies to each
/// side only what that side refused. That needs the normalised
/// fingerprint (issue 15); a build without it (its plan's pairs name no
/// level) pairs by exact content only, and then copies each message whose
/// served bytes differ both ways — asserted as exactly that, so the census
/// says which build it measured.
fn assert_pairing(
    reference: &Census,
    census: &Census,
    originals: &User,
    copies: &User,
    prefix: &[&str],
) {
    let (planned, levels) = planned_copies(originals, copies, prefix);
    let mut to = [BTreeSet::new(), BTreeSet::new()];
    for (from_a, uid) in planned {
        let names = if from_a {
            &reference.names
        } else {
            &census.names
        };
        to[usize::from(from_a)].insert(names[&uid].clone());
    }
    let [to_a, to_b] = to;
    let differ = differing(reference, census);
    eprintln!(
        "{}: plan copies {} to it and {} back; {} differ from Dovecot's bytes; \
         pairs by {}",
        census.server,
        to_b.len(),
        to_a.len(),
        differ.len(),
        if levels {
            "level (normalised fingerprint)"
        } else {
            "exact content only"
        }
    );
    let refused = |by: &Census, not_by: &Census| -> BTreeSet<String> {
        by.refused
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !not_by.refused.iter().any(|(r, _)| r == n))
            .collect()
    };
    let (mut expect_a, mut expect_b) = (refused(reference, census), refused(census, reference));
    if !levels {
        expect_a.extend(differ.iter().cloned());
        expect_b.extend(differ.iter().cloned());
    }
    assert_eq!(
        (to_a, to_b),
        (expect_a, expect_b),
        "{}: imapmend does not pair every accepted message as expected \
         ({} differ from Dovecot's bytes); (copied to Dovecot, copied to it)\n{}",
        census.server,
        differ.len(),
        census.report()
    );
}

#[test]
fn census_dovecot() {
    let mail = quick_mail(60);
    let c = census_of(
        "Dovecot",
        dovecot::fresh_user(Kind::Full),
        &[],
        &mail,
        &["CR run before LF served as one CR", "NUL served as 0x80"],
    );
    assert!(
        c.touched.contains_key("NUL served as 0x80"),
        "{}",
        c.report()
    );
}

#[test]
fn census_cyrus() {
    let mail = quick_mail(60);
    let c = census_of(
        "Cyrus",
        cyrus::fresh_user(),
        &["--b-prefix", "INBOX."],
        &mail,
        &["8-bit header bytes folded to X"],
    );
    assert!(
        c.touched.contains_key("8-bit header bytes folded to X"),
        "{}",
        c.report()
    );
}

#[test]
fn census_courier() {
    let mail = quick_mail(60);
    let c = census_of(
        "Courier-IMAP",
        courier::fresh_user(),
        &["--b-prefix", "INBOX."],
        &mail,
        &[
            "CR run before LF served as one CR",
            "bare CR removed",
            "final line break added",
        ],
    );
    assert!(
        c.touched.contains_key("final line break added"),
        "{}",
        c.report()
    );
}

/// The census on the shared corpora (`../shared/corpora`), every server.
#[test]
#[ignore = "long (the shared corpora, 250 messages per server): run by scripts/matrix"]
fn census_of_the_shared_corpora() {
    let mail = corpora_mail();
    let mut reports = Vec::new();
    let servers: [(&'static str, User, &[&str]); 3] = [
        ("Dovecot", dovecot::fresh_user(Kind::Full), &[]),
        ("Cyrus", cyrus::fresh_user(), &["--b-prefix", "INBOX."]),
        (
            "Courier-IMAP",
            courier::fresh_user(),
            &["--b-prefix", "INBOX."],
        ),
    ];
    let known: Vec<&str> = NORMALISATIONS.iter().map(|(n, _)| *n).collect();
    for (server, user, prefix) in servers {
        reports.push(census_of(server, user, prefix, &mail, &known).report());
    }
    eprintln!("{}", reports.join("\n"));
}
