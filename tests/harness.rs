//! Proves the test bed itself, independently of imapmend: real Dovecot
//! servers start, several at once; fresh users are isolated; what the test
//! client appends reads back through the oracle; and the `NoCondstore` kind
//! really hides CONDSTORE while `Full` offers it.

mod support;

use support::corpus;
use support::dovecot::{self, Kind};
use support::generator::Generator;
use support::oracle::{self, SideState};

#[test]
fn two_servers_run_at_once_on_different_ports() {
    let (a, b) = dovecot::pair(Kind::Full);
    assert_ne!(a.port, b.port, "pair() must give two different servers");
    let (c, d) = dovecot::pair(Kind::NoCondstore);
    assert_ne!(c.port, d.port);
    for user in [&a, &b, &c, &d] {
        let mut client = user.client();
        assert_eq!(client.mailboxes(), vec!["INBOX".to_string()]);
        client.logout();
    }
}

#[test]
fn fresh_users_are_isolated() {
    let (u, v) = dovecot::pair_on_one_server(Kind::Full);
    assert_eq!(u.port, v.port);
    assert_ne!(u.name, v.name);
    let mut cu = u.client();
    cu.create("Work");
    cu.append(
        "INBOX",
        b"Subject: only for u\r\n\r\nhello\r\n",
        &["\\Seen"],
        None,
    );
    cu.logout();
    let sv = oracle::read_side(&v);
    let mut empty = SideState::default();
    empty.mailbox("INBOX");
    oracle::assert_state("v", &sv, &empty);
    // Each user has its own password.
    let wrong = std::panic::catch_unwind(|| {
        support::mailclient::MailClient::login("127.0.0.1", v.port, &v.name, &u.password)
    });
    assert!(
        wrong.is_err(),
        "login with another user's password must fail"
    );
}

#[test]
fn appended_mail_reads_back_through_the_oracle() {
    let user = dovecot::fresh_user(Kind::Full);
    let mut client = user.client();
    client.create("Archive");
    let mut expected = SideState::default();
    expected.mailbox("INBOX");
    expected.mailbox("Archive");
    let date = "14-Mar-2023 09:26:53 +0000";
    for (i, mail) in corpus::fixture_mail().iter().enumerate() {
        let (mailbox, flags): (&str, &[&str]) = match i % 3 {
            0 => ("INBOX", &[]),
            1 => ("INBOX", &["\\Seen", "\\Flagged", "$Forwarded"]),
            _ => ("Archive", &["\\Answered", "Work"]),
        };
        client.append(mailbox, &mail.bytes, flags, Some(date));
        expected.add(mailbox, &mail.bytes, flags);
    }
    // Two byte-identical copies count twice.
    let dup = corpus::fixture("01-welcome.eml");
    client.append("Archive", &dup, &[], None);
    expected.add("Archive", &dup, &[] as &[&str]);
    let fetched = client.fetch_all("INBOX");
    assert!(fetched.iter().all(|m| m.internal_date == date));
    client.logout();
    let side = oracle::read_side(&user);
    oracle::assert_state("user", &side, &expected);
}

#[test]
fn bare_lf_and_crlf_have_one_fingerprint() {
    assert_eq!(
        oracle::fingerprint(b"a: b\n\nbody\n"),
        oracle::fingerprint(b"a: b\r\n\r\nbody\r\n")
    );
    assert_eq!(
        oracle::fingerprint(b"x\ry\r\n"),
        oracle::fingerprint(b"x\r\ny\n")
    );
    assert_ne!(oracle::fingerprint(b"x\n"), oracle::fingerprint(b"x\n\n"));
    // The server rewrites bare LF on APPEND; the oracle must not care.
    let user = dovecot::fresh_user(Kind::Full);
    let mut client = user.client();
    let lf = corpus::fixture("07-bare-lf.eml");
    assert!(!lf.contains(&b'\r'));
    client.append("INBOX", &lf, &[], None);
    let back = client.fetch_all("INBOX");
    assert!(back[0].body.windows(2).any(|w| w == b"\r\n"));
    assert_eq!(oracle::fingerprint(&back[0].body), oracle::fingerprint(&lf));
    client.logout();
}

#[test]
fn oracle_ignores_recent_and_keyword_case_and_shows_a_readable_diff() {
    let mut a = SideState::default();
    a.add("INBOX", b"m", &["\\Recent", "\\Seen", "$Junk"]);
    let mut b = SideState::default();
    b.add("INBOX", b"m", &["\\SEEN", "$junk"]);
    oracle::assert_sides_equal(&a, &b);
    oracle::name_content(b"m", "m1");
    let mut c = SideState::default();
    c.add("INBOX", b"m", &["\\Flagged"]);
    let d = oracle::diff("A", &a, "B", &c);
    assert!(d.contains("m1(\\flagged) — A has 0, B has 1"), "{d}");
}

#[test]
fn full_kind_offers_condstore_and_reports_highestmodseq() {
    let user = dovecot::fresh_user(Kind::Full);
    let mut client = user.client();
    for cap in ["CONDSTORE", "QRESYNC", "ENABLE", "UIDPLUS", "MULTIAPPEND"] {
        assert!(
            client.has_capability(cap),
            "Full lacks {cap}: {:?}",
            client.capabilities
        );
    }
    client.append("INBOX", b"Subject: x\r\n\r\ny\r\n", &[], None);
    let sel = client.open("SELECT", "INBOX", " (CONDSTORE)");
    assert!(sel.highestmodseq.is_some(), "no HIGHESTMODSEQ on Full");
    client.logout();
}

#[test]
fn no_condstore_kind_hides_condstore_qresync_and_enable() {
    let user = dovecot::fresh_user(Kind::NoCondstore);
    let mut client = user.client();
    for cap in ["CONDSTORE", "QRESYNC", "ENABLE"] {
        assert!(
            !client.has_capability(cap),
            "NoCondstore still offers {cap}: {:?}",
            client.capabilities
        );
    }
    for cap in ["UIDPLUS", "MULTIAPPEND", "LITERAL+"] {
        assert!(client.has_capability(cap), "NoCondstore lacks {cap}");
    }
    // Writes as a client without CONDSTORE makes them never create modseqs
    // that SELECT would report.
    client.create("Work");
    let uid = client.append("Work", b"Subject: x\r\n\r\ny\r\n", &["\\Seen"], None);
    client.store("Work", &[uid], "+", &["\\Flagged"]);
    let sel = client.select("Work");
    assert_eq!(
        sel.highestmodseq, None,
        "NoCondstore reported HIGHESTMODSEQ"
    );
    let sel = client.select("INBOX");
    assert_eq!(sel.highestmodseq, None);
    client.logout();
}

#[test]
fn no_uidplus_kind_hides_only_uidplus() {
    let full = dovecot::fresh_user(Kind::Full).client();
    let user = dovecot::fresh_user(Kind::NoUidplus);
    let mut client = user.client();
    assert!(
        !client.has_capability("UIDPLUS"),
        "NoUidplus still offers UIDPLUS: {:?}",
        client.capabilities
    );
    let mut expected = full.capabilities.clone();
    expected.retain(|c| !c.eq_ignore_ascii_case("UIDPLUS"));
    assert_eq!(
        client.capabilities, expected,
        "NoUidplus should be Full minus UIDPLUS"
    );
    full.logout();
    // Dovecot still names the new UID, so the test client can seed it.
    let uid = client.append("INBOX", b"Subject: x\r\n\r\ny\r\n", &[], None);
    assert_eq!(uid, 1);
    client.logout();
}

#[test]
fn generator_is_deterministic_and_messages_are_distinct() {
    let one = Generator::new(42).messages(200);
    let two = Generator::new(42).messages(200);
    assert!(one.iter().zip(&two).all(|(x, y)| x.bytes == y.bytes));
    let prints: std::collections::BTreeSet<String> =
        one.iter().map(|m| oracle::fingerprint(&m.bytes)).collect();
    assert_eq!(prints.len(), 200);
    assert!(
        one.iter().any(|m| !m.bytes.contains(&b'\r')),
        "no bare-LF message"
    );
    assert!(
        one.iter().any(|m| m.bytes.iter().any(|&b| b >= 0x80)),
        "no 8-bit message"
    );
    let no_id = one
        .iter()
        .filter(|m| !String::from_utf8_lossy(&m.bytes).contains("Message-ID:"))
        .count();
    assert!(no_id > 10 && no_id < 100, "{no_id} without Message-ID");
}

#[test]
fn generated_volume_reads_back_through_the_oracle() {
    let user = dovecot::fresh_user(Kind::NoCondstore);
    let mut client = user.client();
    let mut expected = SideState::default();
    expected.mailbox("INBOX");
    for m in Generator::new(7).messages(300) {
        client.append("INBOX", &m.bytes, &[], Some(&m.internal_date));
        expected.add("INBOX", &m.bytes, &[] as &[&str]);
    }
    client.logout();
    oracle::assert_state("user", &oracle::read_side(&user), &expected);
}

#[test]
#[ignore = "needs ../shared/corpora (or IMAPMEND_CORPORA): run by scripts/matrix"]
fn shared_corpora_load() {
    for name in ["cpython-email", "mail-parser"] {
        let files = corpus::shared_corpus(name);
        assert!(files.len() > 20, "{name}: only {} files", files.len());
        assert!(files.iter().all(|f| !f.bytes.starts_with(b"From ")));
    }
}

#[test]
fn config_template_is_the_one_shared_with_the_demo() {
    let demo = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo"),
    )
    .expect("scripts/demo");
    assert!(demo.contains("fixtures/dovecot.conf.in"));
    assert!(
        !demo.contains("mail_location"),
        "scripts/demo must not carry its own config"
    );
}
