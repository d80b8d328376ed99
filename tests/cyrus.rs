//! Dovecot ↔ Cyrus IMAP, end to end: the core scenarios (first sync both
//! ways, flag deltas both ways, a proven expunge, a rerun that plans
//! nothing) with Cyrus as B and, swapped, as A; and the Cyrus quirks of the
//! Compatibility table (docs/COMPATIBILITY.md), each as a test.
//!
//! Cyrus keeps every folder under `INBOX.` ('.' delimiter), so its side is
//! given `--X-prefix INBOX.`; the oracle strips that prefix from Cyrus'
//! wire names before comparing. Needs `scripts/cyrus-setup`, which
//! `scripts/test` runs (see `support::cyrus`): without it each test fails
//! saying so. The two long runs are ignored here; `scripts/matrix` runs them.

mod support;

use support::cyrus;
use support::dovecot::{Kind, User};
use support::mail::msg;
use support::oracle::{self, SideState};
use support::prefixed::{self, Bed};
use support::repair::{self, Restored};

/// Dovecot and Cyrus users, and a runner with Cyrus as `--b` (or, swapped,
/// as `--a`), plus the prefix option naming Cyrus' side.
fn bed(cyrus_is_a: bool) -> Bed {
    prefixed::bed(cyrus::fresh_user(), cyrus_is_a, Kind::Full)
}

fn core_scenarios(cyrus_is_a: bool) {
    // Cyrus offers QRESYNC: the rerun reads only changes on both sides.
    prefixed::core_scenarios(&bed(cyrus_is_a), true);
}

#[test]
fn dovecot_a_cyrus_b_core_scenarios() {
    core_scenarios(false);
}

#[test]
fn cyrus_a_dovecot_b_core_scenarios() {
    core_scenarios(true);
}

/// A message whose Subject and From carry raw UTF-8 (8-bit header bytes).
fn eight_bit_header_message() -> Vec<u8> {
    b"From: J\xc3\xb6rg <j@example.org>\r\nTo: b@example.org\r\nSubject: caf\xc3\xa9 8-bit\r\n\
      Message-ID: <eight-bit@example.org>\r\n\r\nbody\r\n"
        .to_vec()
}

/// Quirk: Cyrus stores each 8-bit header byte as 'X' (same size), so the
/// copy's content differs from the original. The pair recorded from
/// APPENDUID keeps them matched: no copy back, no growth run after run.
#[test]
fn cyrus_folds_8bit_header_bytes_and_the_recorded_pair_holds() {
    let bed = bed(false);
    let original = eight_bit_header_message();
    {
        let mut d = bed.dovecot.client();
        d.append("INBOX", &original, &["\\Seen"], None);
        d.append("INBOX", &msg("n7"), &[], None);
    }
    bed.run("sync", 0);
    let stored = bed.server.client().fetch_all("INBOX");
    assert_eq!(stored.len(), 2);
    // Each 8-bit byte of the header (the body has none) becomes 'X'.
    let expected: Vec<u8> = original
        .iter()
        .map(|&b| if b >= 0x80 { b'X' } else { b })
        .collect();
    assert!(
        stored.iter().any(|f| f.body == expected),
        "Cyrus no longer folds 8-bit header bytes to 'X'? stored: {:?}",
        stored
            .iter()
            .map(|f| String::from_utf8_lossy(&f.body).into_owned())
            .collect::<Vec<_>>()
    );

    // Reruns: nothing to copy either way, nothing grows.
    bed.run("plan", 0);
    bed.run("sync", 0);
    assert_eq!(bed.dovecot.client().fetch_all("INBOX").len(), 2);
    assert_eq!(bed.server.client().fetch_all("INBOX").len(), 2);

    // A flag change on the folded copy still reaches the original.
    {
        let mut c = bed.server.client();
        let uid = c
            .fetch_all("INBOX")
            .into_iter()
            .find(|f| f.body == expected)
            .unwrap()
            .uid;
        c.store("INBOX", &[uid], "+", &["\\Flagged"]);
    }
    bed.run("sync", 0);
    let d = bed.dovecot.client().fetch_all("INBOX");
    let orig = d
        .iter()
        .find(|f| f.body == original)
        .expect("original kept");
    assert!(
        orig.flags
            .iter()
            .any(|f| f.eq_ignore_ascii_case("\\Flagged")),
        "{:?}",
        orig.flags
    );
    assert_eq!(d.len(), 2);
}

/// Quirk: Cyrus refuses what it cannot parse as a message — here text
/// without a header ("Message contains invalid header"), which Dovecot
/// stores as is. The refusal is reported for that message with the
/// server's words, the rest is copied, and reruns neither copy anything
/// back nor grow.
#[test]
fn cyrus_refusal_of_a_message_is_reported_with_its_reason_and_the_rest_goes_through() {
    let bed = bed(false);
    {
        let mut d = bed.dovecot.client();
        d.append("INBOX", b"just text, no header at all\r\n", &[], None);
        d.append("INBOX", &msg("n8"), &[], None);
    }
    let first = bed.run("sync", 2);
    let text = format!("{}{}", first.stdout, first.stderr);
    assert!(text.contains("Message contains invalid header"), "{text}");
    assert_eq!(bed.server.client().fetch_all("INBOX").len(), 1);
    // Recorded as `refused`: a rerun skips it with the same words (exit 0;
    // docs/COMPATIBILITY.md); nothing is copied back or duplicated.
    for _ in 0..2 {
        let again = bed.runner.run("sync", &bed.prefix, &[]);
        assert!(matches!(again.code, Some(0 | 2)), "{again:?}");
        if again.code == Some(2) {
            let text = format!("{}{}", again.stdout, again.stderr);
            assert!(text.contains("Message contains invalid header"), "{text}");
        }
        assert_eq!(bed.dovecot.client().fetch_all("INBOX").len(), 2);
        assert_eq!(bed.server.client().fetch_all("INBOX").len(), 1);
    }
}

/// The same 8-bit-header message on both sides before any snapshot — the
/// original on Dovecot, Cyrus' folded copy on Cyrus — has two content
/// fingerprints but one normalised one: it pairs at the normalised level
/// (the plan says so), with no copy either way, in both orientations. The
/// pair is remembered: reruns plan nothing, a flag set on one side reaches
/// the other, and a deletion on either side is a proven expunge on the
/// other (a normalised pair may carry one: the two differ by Cyrus' fold
/// and nothing else).
#[test]
fn cyrus_8bit_header_message_on_both_sides_before_a_snapshot_pairs_at_the_normalised_level() {
    for (cyrus_is_a, deleted_on_cyrus) in [(false, true), (true, false)] {
        let bed = bed(cyrus_is_a);
        let original = eight_bit_header_message();
        bed.dovecot.client().append("INBOX", &original, &[], None);
        bed.server
            .client()
            .append("INBOX", &original, &["\\Seen"], None);
        let mut verbose = bed.prefix.to_vec();
        verbose.push("-v");
        let plan = bed.runner.expect("plan", &verbose, 1);
        let pair_line = "pair     UID 1 on A with UID 1 on B, at the normalised level";
        assert!(plan.stdout.contains(pair_line), "{}", plan.stdout);
        assert!(
            plan.stdout.contains("paired at the normalised level"),
            "{}",
            plan.stdout
        );
        bed.run("sync", 0);
        for _ in 0..2 {
            assert_eq!(bed.dovecot.client().fetch_all("INBOX").len(), 1);
            assert_eq!(bed.server.client().fetch_all("INBOX").len(), 1);
            bed.run("sync", 0);
        }
        bed.run("plan", 0);
        let on_dovecot = bed.dovecot.client().fetch_all("INBOX");
        assert!(
            on_dovecot[0].flags.iter().any(|f| f == "\\Seen"),
            "{on_dovecot:?}"
        );
        // A deletion on one side proves the expunge on the other.
        let gone = if deleted_on_cyrus {
            &bed.server
        } else {
            &bed.dovecot
        };
        let mut client = gone.client();
        let uid = client.fetch_all("INBOX")[0].uid;
        client.expunge_uids("INBOX", &[uid]);
        drop(client);
        bed.run("sync", 0);
        assert!(bed.dovecot.client().fetch_all("INBOX").is_empty());
        assert!(bed.server.client().fetch_all("INBOX").is_empty());
        bed.run("plan", 0);
    }
}

/// Quirk (Dovecot's): a message stored with a NUL byte is served with 0x80
/// in its place by a non-BINARY FETCH, which is what imapmend reads; so a
/// copy to Cyrus (which refuses NUL) carries none and is accepted, and the
/// two sides hold the same bytes.
#[test]
fn dovecot_serves_nul_as_0x80_so_copies_carry_none() {
    let bed = bed(false);
    let stored = b"From: a@example.org\r\nSubject: nul\r\n\r\nb\x00dy\r\n";
    bed.dovecot.client().append("INBOX", stored, &[], None);
    let served = bed.dovecot.client().fetch_all("INBOX");
    assert_eq!(
        served[0].body,
        b"From: a@example.org\r\nSubject: nul\r\n\r\nb\x80dy\r\n".to_vec(),
        "Dovecot no longer serves NUL as 0x80?"
    );
    bed.run("sync", 0);
    bed.assert_agree();
    bed.run("plan", 0);
}

/// A side as the oracle sees it, with every 8-bit header byte folded to
/// 'X' as Cyrus stores it (a no-op on Cyrus' own copies), and Cyrus'
/// `INBOX.` prefix taken off: "A and B agree, modulo Cyrus' fold".
fn folded(user: &User, cyrus: bool) -> SideState {
    let mut client = user.client();
    let mut state = SideState::default();
    for mailbox in client.mailboxes() {
        let name = if cyrus {
            mailbox
                .strip_prefix("INBOX.")
                .unwrap_or(&mailbox)
                .to_string()
        } else {
            mailbox.clone()
        };
        state.mailbox(&name);
        for f in client.fetch_all(&mailbox) {
            let canonical = oracle::canonical_crlf(&f.body);
            let end = canonical
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(canonical.len());
            let bytes: Vec<u8> = canonical
                .iter()
                .enumerate()
                .map(|(i, &b)| if i < end && b >= 0x80 { b'X' } else { b })
                .collect();
            state.add(&name, &bytes, &f.flags);
        }
    }
    state
}

/// The long run (`scripts/matrix`): generated mail of
/// every shape the generator makes (8-bit headers and bodies, bare LFs,
/// large and multipart messages, no Message-ID) on both sides, flags
/// changed on both, synced Dovecot ↔ Cyrus in both orientations.
#[test]
#[ignore = "long (300 generated messages, both orientations): run by scripts/matrix"]
fn long_generated_mail_between_dovecot_and_cyrus() {
    for cyrus_is_a in [false, true] {
        let bed = bed(cyrus_is_a);
        let mut generator = support::generator::Generator::new(9 + u64::from(cyrus_is_a));
        let flag_sets: [&[&str]; 4] = [&[], &["\\Seen"], &["\\Flagged", "$Work"], &["\\Answered"]];
        {
            let mut d = bed.dovecot.client();
            let mut c = bed.server.client();
            d.create("Archive");
            for (i, m) in generator.messages(300).into_iter().enumerate() {
                let flags = flag_sets[i % flag_sets.len()];
                let date = Some(m.internal_date.as_str());
                match i % 5 {
                    // Cyrus refuses bare LFs: its own mail arrives with CRLF.
                    0 => {
                        c.append("INBOX", &oracle::canonical_crlf(&m.bytes), flags, date);
                    }
                    1 => {
                        d.append("Archive", &m.bytes, flags, date);
                    }
                    _ => {
                        d.append("INBOX", &m.bytes, flags, date);
                    }
                }
            }
        }
        bed.run("sync", 0);
        oracle::assert_sides_equal(&folded(&bed.dovecot, false), &folded(&bed.server, true));
        {
            let mut d = bed.dovecot.client();
            let uids: Vec<u32> = d.fetch_all("INBOX").iter().map(|f| f.uid).collect();
            d.store("INBOX", &uids[..40], "+", &["\\Seen", "$Later"]);
            d.expunge_uids("INBOX", &uids[40..50]);
            let mut c = bed.server.client();
            let uids: Vec<u32> = c.fetch_all("INBOX").iter().map(|f| f.uid).collect();
            c.store("INBOX", &uids[100..140], "-", &["\\Seen"]);
            c.store("INBOX", &uids[150..160], "+", &["\\Deleted"]);
        }
        bed.run("sync", 0);
        let state = folded(&bed.dovecot, false);
        oracle::assert_sides_equal(&state, &folded(&bed.server, true));
        assert_eq!(state.len(), 290, "{state}");
        bed.run("plan", 0);
        bed.run("check", 0);
    }
}

/// Quirk: Cyrus keeps at most 128 keywords per mailbox, though its
/// PERMANENTFLAGS says `\*`. A single APPEND over the limit is refused
/// (`NO Too many user flags in mailbox`), but a MULTIAPPEND whose later
/// message goes over it makes Cyrus 3.6.1 drop the connection without an
/// answer. imapmend finds on a new connection what the batch stored, sends
/// the rest in smaller parts, and only the message over the limit is left
/// out: refused in the server's words (exit 2), its others accepted, so it
/// is the message's own refusal and the rerun skips it (exit 0). Nothing
/// lost, no copy back, no duplicate. In the long matrix only
/// (`scripts/matrix`): each dropped connection is a crashed `imapd`, and
/// Cyrus' master then makes the next connection wait about 5 s, which would
/// slow every test sharing the server in CI.
#[test]
#[ignore = "crashes Cyrus' imapd, which slows the shared server by ~5 s: run by scripts/matrix"]
fn cyrus_keyword_limit_drops_a_multiappend_and_nothing_is_lost() {
    let bed = bed(false);
    {
        let mut d = bed.dovecot.client();
        for i in 0..3u32 {
            let kws: Vec<String> = (0..50).map(|k| format!("kw{}", i * 50 + k)).collect();
            let kws: Vec<&str> = kws.iter().map(String::as_str).collect();
            d.append("INBOX", &msg(&format!("n{}", 100 + i)), &kws, None);
        }
    }
    let out = bed.run("sync", 2);
    assert!(
        out.stdout
            .contains("dropped the connection during an APPEND")
            && out.stdout.contains("Too many user flags in mailbox"),
        "{}",
        out.stdout
    );
    for rerun in [false, true] {
        assert_eq!(bed.dovecot.client().fetch_all("INBOX").len(), 3);
        let c = bed.server.client().fetch_all("INBOX");
        assert_eq!(c.len(), 2, "all but the message over the limit");
        assert!(c.iter().all(|m| m.flags.len() == 50));
        if !rerun {
            let out = bed.run("sync", 0);
            assert!(
                out.stdout.contains("refused it on an earlier run"),
                "{}",
                out.stdout
            );
        }
    }
}

/// The census's quick set, cut to a few dozen messages for CI.
fn quick_mail() -> Vec<support::rewrites::Sent> {
    support::rewrites::quick_mail(12)
}

/// I14: Dovecot and Cyrus both hold the mail before any snapshot — Cyrus
/// its rewrites (8-bit header bytes as `X`), rewritten duplicates
/// included, and not what it refuses (a NUL), which arrives from Dovecot:
/// the first sync copies nothing either way that is already there, and a
/// rerun plans nothing.
#[test]
fn i14_first_meeting_dovecot_a_cyrus_b() {
    repair::first_meeting(&bed(false), &quick_mail());
}

#[test]
fn i14_first_meeting_cyrus_a_dovecot_b() {
    repair::first_meeting(&bed(true), &quick_mail());
}

/// I15: the repair after the user's Cyrus spool (index and message files)
/// is put back from a backup: no duplicate on either side, nothing lost,
/// mail expunged since the backup expunged again, a rerun plans nothing.
#[test]
fn i15_cyrus_b_restored_from_a_backup() {
    let bed = bed(false);
    let store = cyrus::mail_store(&bed.server);
    repair::restore_repair(&bed, &quick_mail(), Restored::Server(store));
}

#[test]
fn i15_cyrus_a_restored_from_a_backup() {
    let bed = bed(true);
    let store = cyrus::mail_store(&bed.server);
    repair::restore_repair(&bed, &quick_mail(), Restored::Server(store));
}

/// I15 with Dovecot restored against Cyrus, Cyrus as B then as A: with
/// CONDSTORE on the restored Dovecot, and without.
#[test]
fn i15_dovecot_restored_against_cyrus() {
    repair::dovecot_restored_both_ways(cyrus::fresh_user, Kind::Full, &quick_mail());
}

#[test]
fn i15_dovecot_without_condstore_restored_against_cyrus() {
    repair::dovecot_restored_both_ways(cyrus::fresh_user, Kind::NoCondstore, &quick_mail());
}

/// I14 and I15 on the shared corpora (`../shared/corpora`), both
/// orientations, Cyrus restored.
#[test]
#[ignore = "long matrix (the shared corpora, 250 messages per side): run by scripts/matrix"]
fn i14_i15_shared_corpora_between_dovecot_and_cyrus() {
    let mail = support::rewrites::corpora_mail();
    for cyrus_is_a in [false, true] {
        repair::first_meeting(&bed(cyrus_is_a), &mail);
        let bed = bed(cyrus_is_a);
        let store = cyrus::mail_store(&bed.server);
        repair::restore_repair(&bed, &mail, Restored::Server(store));
    }
}
