//! docs/SCENARIOS.md U1: a mailbox whose UIDVALIDITY changed is matched by
//! content again: additions are taken, absences prove nothing.

use super::*;

fn u1_snapshot(n: usize) -> String {
    let flags = ["", "\\Seen", "\\Seen \\Answered", "\\Flagged", "$Label1"];
    let msgs = (1..=n).map(|i| format!("g{i}({})", flags[i % flags.len()]));
    format!("INBOX: m1(\\Seen); {}", spec_of("Work", msgs))
}

#[test]
fn u1_uidvalidity_change_with_same_content_copies_nothing() {
    // 40 messages without any Message-ID (where isync gives up).
    let state = u1_snapshot(40);
    Case::new("u1")
        .snapshot(state.clone())
        .recreate_on_a("Work")
        .expect(state)
        .run();
}

#[test]
fn u1_uidvalidity_change_without_condstore() {
    let state = u1_snapshot(25);
    Case::new("u1 nocondstore")
        .kind(Kind::NoCondstore)
        .snapshot(state.clone())
        .recreate_on_a("Work")
        .expect(state)
        .run();
}

#[test]
fn u1_uidvalidity_change_takes_additions_but_not_removals() {
    Case::new("u1 flags")
        .snapshot("Work: m1(\\Seen) m2(\\Flagged) m3()")
        .recreate_on_a("Work")
        .a("Work: m1(\\Seen \\Answered) m2() m3()")
        .expect("Work: m1(\\Seen \\Answered) m2(\\Flagged) m3()")
        .run();
}
