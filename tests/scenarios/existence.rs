//! docs/SCENARIOS.md E: message existence — new mail copied with its flags and
//! INTERNALDATE, from one side, both, or two users of one server (E1–E3).

use super::*;

#[test]
fn e1_new_message_is_copied_with_flags_and_internaldate() {
    Case::new("e1")
        .a("INBOX: m1($Forwarded \\Seen)@d1")
        .expect("INBOX: m1($Forwarded \\Seen)@d1")
        .run();
}

#[test]
fn e1_new_messages_after_the_snapshot_and_a_new_mailbox() {
    Case::new("e1 after snapshot")
        .kind(Kind::NoCondstore)
        .snapshot("INBOX: m1(\\Seen)")
        .a("INBOX: m1(\\Seen) m2(\\Flagged)@d2; Work: m3(\\Answered)@d1")
        .b("INBOX: m1(\\Seen) m4()")
        .expect("INBOX: m1(\\Seen) m2(\\Flagged)@d2 m4(); Work: m3(\\Answered)@d1")
        .run();
}

#[test]
fn e2_different_new_mail_on_both_sides() {
    Case::new("e2")
        .a("INBOX: m1()")
        .b("INBOX: m2()")
        .expect("INBOX: m1() m2()")
        .run();
}

#[test]
fn e2_different_new_mail_on_two_users_of_one_server() {
    Case::new("e2 one server")
        .one_server()
        .snapshot("INBOX: m3(\\Seen)")
        .a("INBOX: m3(\\Seen) m1(); Work: m4()")
        .b("INBOX: m3(\\Seen \\Flagged) m2()")
        .expect("INBOX: m3(\\Seen \\Flagged) m1() m2(); Work: m4()")
        .run();
}

#[test]
fn e3_same_message_arrived_on_both_sides_is_paired_not_copied() {
    Case::new("e3")
        .a("INBOX: m1(\\Seen)")
        .b("INBOX: m1()")
        .expect("INBOX: m1(\\Seen)")
        .run();
}
