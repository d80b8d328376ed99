//! SCENARIOS.md F9 (keyword case never flaps), and why F10 and F15 cannot
//! be staged on Dovecot.

use super::*;

/// F9: each Dovecot mailbox spells a keyword the way it first met it, so A
/// holds `$junk` and B `$Junk`. They are the same keyword: no flag change
/// and no conflict is planned, a new message carrying it is copied without
/// flapping, and the next run plans nothing (the case's generic checks).
#[test]
fn f9_keyword_case_never_flaps() {
    Case::new("f9")
        .a("INBOX: m1($junk) m2(\\Seen $junk)")
        .b("INBOX: m1($Junk)")
        .plan_before(
            1,
            Some(|run, report| {
                let inbox = planned(report, "INBOX");
                assert_eq!(count(inbox, "flag_changes"), 0, "{}\n{inbox:#}", run.what);
                assert_eq!(count(inbox, "conflicts"), 0, "{}\n{inbox:#}", run.what);
                assert_eq!(count(inbox, "copies"), 1, "{}\n{inbox:#}", run.what);
            }),
        )
        .expect("INBOX: m1($Junk) m2(\\Seen $Junk)")
        .after_sync(|run| {
            // The scenario is only real if the spellings differ on the wire.
            for (user, spelling) in [(&run.a, "$junk"), (&run.b, "$Junk")] {
                let mut client = user.client();
                for m in client.fetch_all("INBOX") {
                    assert!(
                        m.flags.iter().any(|f| f == spelling),
                        "{}: expected {spelling} on the wire, got {:?}",
                        run.what,
                        m.flags
                    );
                }
                client.logout();
            }
        })
        .run();
}

/// F9 with a base: the snapshot agreed on the keyword, then a new message
/// with another spelling arrives on A. Nothing flaps on either message.
#[test]
fn f9_keyword_case_with_a_base() {
    Case::new("f9 base")
        .kind(Kind::NoCondstore)
        .snapshot("INBOX: m1($Junk)")
        .a("INBOX: m1($Junk) m2($JUNK)")
        .plan_before(
            1,
            Some(|run, report| {
                let inbox = planned(report, "INBOX");
                assert_eq!(count(inbox, "flag_changes"), 0, "{}\n{inbox:#}", run.what);
            }),
        )
        .expect("INBOX: m1($Junk) m2($Junk)")
        .run();
}

/// F10 (a side whose PERMANENTFLAGS lack `\*`) and F15 (odd system flags
/// such as `\X-Has-Attach`) need a server Dovecot cannot play: it offers
/// `\*` whatever the keywords (even past Maildir's 26 letters) and refuses
/// unknown system flags with BAD, so no side can ever hold one. Neither is
/// tested end to end here; this test fails if a Dovecot upgrade changes
/// that, so that F10/F15 cases can be written then. F10's rule has a unit
/// test (src/reconcile/flags.rs, an absent unstorable keyword is no
/// removal); F15 needs a scripted fake server.
#[test]
fn f10_f15_cannot_be_staged_on_dovecot() {
    let user = dovecot::fresh_user(Kind::Full);
    let mut client = user.client();
    client.append("INBOX", &standard_content("m1"), &[], None);
    let keywords: Vec<String> = (0..30).map(|i| format!("kw{i}")).collect();
    let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
    client.store("INBOX", &[1], "+", &keywords);
    let selected = client.select("INBOX");
    assert!(
        selected.permanent_flags.iter().any(|f| f == "\\*"),
        "PERMANENTFLAGS lost \\* after 30 keywords: F10 can be staged now"
    );
    let refused = client.try_append("INBOX", &standard_content("m2"), &["\\X-Has-Attach"], None);
    assert!(
        refused.is_err_and(|e| e.contains("BAD")),
        "Dovecot accepted an unknown system flag: F15 can be staged now"
    );
    client.logout();
}
