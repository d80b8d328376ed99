//! docs/SCENARIOS.md I: identity by content — duplicates keep their count; no
//! Message-ID, a shared Message-ID, identical headers, another INTERNALDATE
//! or bare LFs change nothing about that (I1–I7).

use super::*;

#[test]
fn i1a_exact_duplicates_keep_their_count() {
    Case::new("i1a")
        .a("INBOX: m1() m1()")
        .b("INBOX: m1()")
        .expect("INBOX: m1() m1()")
        .run();
}

#[test]
fn i1b_a_new_duplicate_after_the_snapshot_is_copied() {
    Case::new("i1b")
        .snapshot("INBOX: m1()")
        .a("INBOX: m1() m1()")
        .expect("INBOX: m1() m1()")
        .run();
}

#[test]
fn i1_duplicates_with_different_flags_without_condstore() {
    Case::new("i1 nocondstore")
        .kind(Kind::NoCondstore)
        .a("INBOX: m1(\\Seen) m1(\\Flagged) m1()")
        .b("INBOX: m1(\\Seen)")
        .expect("INBOX: m1(\\Seen) m1(\\Flagged) m1()")
        .run();
}

#[test]
fn i3_message_without_message_id_is_copied_once() {
    Case::new("i3")
        .a("INBOX: noid(\\Seen)")
        .expect("INBOX: noid(\\Seen)")
        .run();
}

#[test]
fn i4_same_message_id_different_content_stay_two_messages() {
    Case::new("i4")
        .a("INBOX: sameid1() sameid2()")
        .b("INBOX: sameid1()")
        .expect("INBOX: sameid1() sameid2()")
        .run();
}

#[test]
fn i5_identical_headers_different_bodies_stay_two_messages() {
    Case::new("i5")
        .a("INBOX: samehdr1() samehdr2(\\Seen)")
        .b("INBOX: samehdr2(\\Seen)")
        .expect("INBOX: samehdr1() samehdr2(\\Seen)")
        .run();
}

#[test]
fn i6_same_bytes_different_internaldate_are_paired_not_copied() {
    Case::new("i6")
        .a("INBOX: m1()@d1")
        .b("INBOX: m1()@d2")
        .dates_may_differ()
        .expect("INBOX: m1()")
        .after_sync(|run| {
            // INTERNALDATE is immutable: each side keeps its own.
            for (user, d) in [(&run.a, "d1"), (&run.b, "d2")] {
                let mut client = user.client();
                let msgs = client.fetch_all("INBOX");
                assert_eq!(msgs.len(), 1);
                assert_eq!(
                    parse_internaldate(&msgs[0].internal_date),
                    parse_internaldate(date(d)),
                    "{}: INTERNALDATE changed",
                    run.what
                );
                client.logout();
            }
        })
        .run();
}

#[test]
fn i7_bare_lf_message_is_copied_once() {
    Case::new("i7")
        .a("INBOX: barelf() 8bit(\\Seen)")
        .expect("INBOX: barelf() 8bit(\\Seen)")
        .run();
}
