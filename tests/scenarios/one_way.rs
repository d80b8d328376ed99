//! `--one-way a-to-b`: B is made to hold what A holds, flags included; B's
//! extra messages are kept, or expunged with `--delete-extra` under the
//! mass-deletion guard; A is never written (MESSAGES, UIDNEXT and, on
//! Kind::Full, HIGHESTMODSEQ unchanged). Swapped, the same runs as
//! `--one-way b-to-a` with the servers given the other way round.

use super::*;

/// Since the snapshot A added \Flagged on m1, expunged m5 and received m4;
/// B removed \Seen from m1, added \Seen to m2, expunged m6 and received m9
/// and m10.
fn diverged(name: &'static str, args: &[&str]) -> Case {
    Case::new(name)
        .args(args)
        .snapshot("INBOX: m1(\\Seen) m2() m5() m6(); Work: m3()")
        .a("INBOX: m1(\\Seen \\Flagged) m2() m4(\\Answered) m6(); Work: m3()")
        .b("INBOX: m1() m2(\\Seen) m5() m9() m10(\\Flagged); Work: m3()")
        .untouched(Which::A)
        .expect_a("INBOX: m1(\\Seen \\Flagged) m2() m4(\\Answered) m6(); Work: m3()")
}

#[test]
fn one_way_makes_b_hold_what_a_holds_and_keeps_b_extras() {
    diverged("one-way", &["--one-way", "a-to-b"])
        .expect_b(
            "INBOX: m1(\\Seen \\Flagged) m2() m4(\\Answered) m6() m9() m10(\\Flagged); Work: m3()",
        )
        .run();
}

#[test]
fn one_way_with_delete_extra_removes_b_extras() {
    diverged(
        "one-way --delete-extra",
        &["--one-way", "a-to-b", "--delete-extra"],
    )
    .expect_b("INBOX: m1(\\Seen \\Flagged) m2() m4(\\Answered) m6(); Work: m3()")
    .run();
}

/// Twelve extras on B and no pairs: over the guard's floor of 10, so the
/// first run withholds them all (exit 4) and changes nothing on B; a count
/// of 12 lets them go.
#[test]
fn one_way_delete_extra_is_under_the_guard() {
    let extras: Vec<String> = (10..22).map(|i| format!("m{i}()")).collect();
    let b = format!("INBOX: m1() {}", extras.join(" "));
    let args = ["--one-way", "a-to-b", "--delete-extra"];
    Case::new("one-way --delete-extra guard")
        .args(&[
            "--one-way",
            "a-to-b",
            "--delete-extra",
            "--max-delete",
            "12",
        ])
        .a("INBOX: m1()")
        .b(b.clone())
        .run_between("sync", &args, 4, &["WITHHELD: 12 deletions on"])
        .b_is(b)
        .untouched(Which::A)
        .expect("INBOX: m1()")
        .run();
}

/// One extra only (two or more hit the bug above): it goes, under the guard
/// — `--max-delete 0` withholds it (exit 4, B unchanged), the default lets
/// it go.
#[test]
fn one_way_delete_extra_removes_a_single_extra_under_the_guard() {
    let args = ["--one-way", "a-to-b", "--delete-extra"];
    Case::new("one-way --delete-extra, one extra")
        .args(&args)
        .snapshot("INBOX: m1(\\Seen) m2()")
        .a("INBOX: m1(\\Seen \\Flagged) m2() m3()")
        .b("INBOX: m1() m2() m9()")
        .run_between(
            "sync",
            &["--one-way", "a-to-b", "--delete-extra", "--max-delete", "0"],
            4,
            &["WITHHELD: 1 deletions on"],
        )
        .b_is("INBOX: m1(\\Seen \\Flagged) m2() m3() m9()")
        .untouched(Which::A)
        .expect("INBOX: m1(\\Seen \\Flagged) m2() m3()")
        .run();
}
