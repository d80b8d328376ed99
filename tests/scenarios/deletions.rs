//! docs/SCENARIOS.md E4–E13, F12, F13, I2, U2 and U3: deletion needs proof.
//!
//! A message gone from a healthy side is a proven expunge: its partner is
//! removed with `UID EXPUNGE` of exactly that UID, or only marked \Deleted
//! (`pending-expunge`) with `--deletes flag-only` or on a server without
//! UIDPLUS. Mail a user marked \Deleted is never expunged by imapmend. The
//! mass-deletion guard withholds deletions above `max(10, 50% of pairs)`.
//!
//! Where the path differs (history on Kind::Full, full listing on
//! Kind::NoCondstore) the case runs on both kinds.

use super::*;

/// Whether a run on `kind` with `args` can only mark \Deleted.
fn flag_only(kind: Kind, args: &[&str]) -> bool {
    kind == Kind::NoUidplus || args.windows(2).any(|w| w == ["--deletes", "flag-only"])
}

/// The plan names exactly one expunge, on B, carried out as the kind and
/// options allow (`expunge`, or `flag-only` = pending-expunge).
fn plans_one_expunge_on_b(run: &Run, report: &serde_json::Value) {
    let inbox = planned(report, "INBOX");
    let expunges = inbox["expunges"].as_array().unwrap();
    assert_eq!(expunges.len(), 1, "{}: one expunge\n{inbox:#}", run.what);
    assert_eq!(expunges[0]["side"], run.cli_name(Which::B), "{}", run.what);
    assert_eq!(count(inbox, "copies"), 0, "{}: nothing is copied", run.what);
}

// ---------------------------------------------------------------------------
// E4 expunged on A, B unchanged
// ---------------------------------------------------------------------------

fn e4(kind: Kind, args: &[&str]) -> Case {
    let case = Case::new("e4")
        .kind(kind)
        .args(args)
        .snapshot("INBOX: m1() m2(\\Seen)")
        .a("INBOX: m2(\\Seen)")
        .plan_before(1, Some(plans_one_expunge_on_b));
    if flag_only(kind, args) {
        // B keeps m1 marked \Deleted, remembered as pending-expunge: it is
        // never copied back to A (the second sync writes nothing).
        case.expect_a("INBOX: m2(\\Seen)")
            .expect_b("INBOX: m1(\\Deleted) m2(\\Seen)")
            .divergence(Which::B, "INBOX", "pending-expunge", 1)
            // `check` and pending-expunge: see the test of its own below.
            .check_exit(None)
    } else {
        case.expect("INBOX: m2(\\Seen)")
    }
}

#[test]
fn e4_expunged_on_a_is_expunged_on_b() {
    e4(Kind::Full, &[]).run();
}

#[test]
fn e4_expunged_on_a_is_expunged_on_b_without_condstore() {
    e4(Kind::NoCondstore, &[]).run();
}

#[test]
fn e4_flag_only_b_keeps_it_marked_deleted_and_it_never_comes_back() {
    e4(Kind::Full, &["--deletes", "flag-only"]).run();
}

#[test]
fn e4_flag_only_without_condstore() {
    e4(Kind::NoCondstore, &["--deletes", "flag-only"]).run();
}

#[test]
fn e4_without_uidplus_only_marks_deleted() {
    e4(Kind::NoUidplus, &[]).run();
}

/// `check` passes when the multisets of (fingerprint, flags) agree apart
/// from recorded divergences (`refused`, `unstorable-flags`,
/// `pending-expunge`), which are listed (docs/SCENARIOS.md, the oracle).
#[test]
fn e4_flag_only_check_accepts_the_recorded_pending_expunge() {
    e4(Kind::Full, &["--deletes", "flag-only"])
        .check_exit(Some(0))
        .no_mirror()
        .run();
}

/// A pending-expunge message the user un-deletes on B (F13) is mail again:
/// it is copied back to A.
#[test]
fn e4_flag_only_then_undeleted_on_b_is_copied_back() {
    Case::new("e4 flag-only undelete")
        .args(&["--deletes", "flag-only"])
        .snapshot("INBOX: m1() m2(\\Seen)")
        .a("INBOX: m2(\\Seen)")
        .sync_between()
        .b_is("INBOX: m1(\\Deleted) m2(\\Seen)")
        .b("INBOX: m1() m2(\\Seen)")
        .expect("INBOX: m1() m2(\\Seen)")
        .run();
}

// ---------------------------------------------------------------------------
// E5–E9
// ---------------------------------------------------------------------------

/// E5: gone from both sides. No IMAP action at all (the plan before the
/// sync is empty), and the snapshot drops the pair.
fn e5(kind: Kind) -> Case {
    Case::new("e5")
        .kind(kind)
        .snapshot("INBOX: m1() m2(\\Seen); Work: m3()")
        .a("INBOX: m2(\\Seen); Work:")
        .b("INBOX: m2(\\Seen); Work:")
        .plan_before(0, None)
        .expect("INBOX: m2(\\Seen); Work:")
}

#[test]
fn e5_expunged_on_both_sides_needs_no_action() {
    e5(Kind::Full).run();
}

#[test]
fn e5_expunged_on_both_sides_without_condstore() {
    e5(Kind::NoCondstore).run();
}

fn lists_the_expunge_against_the_flag_change(run: &Run, report: &serde_json::Value) {
    plans_one_expunge_on_b(run, report);
    let inbox = planned(report, "INBOX");
    let conflicts = inbox["conflicts"].as_array().unwrap();
    assert_eq!(
        conflicts.len(),
        1,
        "{}: the plan lists the conflict\n{inbox:#}",
        run.what
    );
    let text = conflicts[0]["description"].as_str().unwrap();
    assert!(
        text.contains("expunge") && text.contains("\\Flagged"),
        "{}: the conflict should name the expunge and the flag change: {text}",
        run.what
    );
}

/// E6: the proven expunge wins over B's flag change, and the plan says so.
fn e6(kind: Kind) -> Case {
    Case::new("e6")
        .kind(kind)
        .snapshot("INBOX: m1() m2()")
        .a("INBOX: m2()")
        .b("INBOX: m1(\\Flagged) m2()")
        .plan_before(1, Some(lists_the_expunge_against_the_flag_change))
        .expect("INBOX: m2()")
}

#[test]
fn e6_expunge_wins_over_a_flag_change_and_is_listed_as_a_conflict() {
    e6(Kind::Full).run();
}

#[test]
fn e6_expunge_wins_without_condstore() {
    e6(Kind::NoCondstore).run();
}

/// E7: both sides had marked m1 \Deleted, then A expunged it.
fn e7(kind: Kind, args: &[&str]) -> Case {
    let case = Case::new("e7")
        .kind(kind)
        .args(args)
        .snapshot("INBOX: m1(\\Deleted) m2()")
        .a("INBOX: m2()")
        .plan_before(1, Some(plans_one_expunge_on_b));
    if flag_only(kind, args) {
        // Already \Deleted: nothing to store, but remembered as
        // pending-expunge and never re-uploaded to A.
        case.expect_a("INBOX: m2()")
            .expect_b("INBOX: m1(\\Deleted) m2()")
            .divergence(Which::B, "INBOX", "pending-expunge", 1)
            .check_exit(None)
    } else {
        case.expect("INBOX: m2()")
    }
}

#[test]
fn e7_expunged_after_both_marked_deleted() {
    e7(Kind::Full, &[]).run();
}

#[test]
fn e7_expunged_after_both_marked_deleted_without_condstore() {
    e7(Kind::NoCondstore, &[]).run();
}

#[test]
fn e7_flag_only_keeps_it_pending_and_never_reuploads_it() {
    e7(Kind::Full, &["--deletes", "flag-only"]).run();
}

/// E8: new on A and already \Deleted: copied with its flags, expunged by
/// nobody (imapmend never expunges what a user marked).
fn e8(kind: Kind) -> Case {
    Case::new("e8")
        .kind(kind)
        .snapshot("INBOX: m2()")
        .a("INBOX: m2() m1(\\Deleted \\Seen)")
        .expect("INBOX: m2() m1(\\Deleted \\Seen)")
}

#[test]
fn e8_new_message_already_deleted_is_copied_with_deleted() {
    e8(Kind::Full).run();
}

#[test]
fn e8_new_message_already_deleted_without_condstore() {
    e8(Kind::NoCondstore).run();
}

/// E9: B's m2 is marked \Deleted by its user, about to be expunged; the
/// propagated expunge of m1 must not take it along (no plain EXPUNGE).
/// m2's \Deleted is an ordinary flag change and reaches A (F12).
fn e9(kind: Kind, args: &[&str]) -> Case {
    let case = Case::new("e9")
        .kind(kind)
        .args(args)
        .snapshot("INBOX: m1() m2() m3(\\Seen)")
        .a("INBOX: m2() m3(\\Seen)")
        .b("INBOX: m1() m2(\\Deleted) m3(\\Seen)");
    if flag_only(kind, args) {
        case.expect_a("INBOX: m2(\\Deleted) m3(\\Seen)")
            .expect_b("INBOX: m1(\\Deleted) m2(\\Deleted) m3(\\Seen)")
            .divergence(Which::B, "INBOX", "pending-expunge", 1)
            .check_exit(None)
    } else {
        case.expect("INBOX: m2(\\Deleted) m3(\\Seen)")
    }
}

#[test]
fn e9_propagated_expunge_spares_another_deleted_message() {
    e9(Kind::Full, &[]).run();
}

#[test]
fn e9_without_condstore() {
    e9(Kind::NoCondstore, &[]).run();
}

#[test]
fn e9_without_uidplus_only_marks_deleted_and_expunges_nothing() {
    e9(Kind::NoUidplus, &[]).run();
}

#[test]
fn e9_flag_only() {
    e9(Kind::Full, &["--deletes", "flag-only"]).run();
}

// ---------------------------------------------------------------------------
// E11 the mass-deletion guard
// ---------------------------------------------------------------------------

fn messages(from: usize, to: usize) -> impl Iterator<Item = String> {
    (from..=to).map(|i| format!("m{i}()"))
}

/// E11: A's INBOX emptied (500 pairs): sync and plan exit 4, both sides stay
/// as they are and the output names the mailbox and the count; the withheld
/// deletions stay pending (the next plan still sees them, on the history
/// path too), and `--max-delete 100%` then deletes them.
fn e11(kind: Kind) -> Case {
    let all = spec_of("INBOX", messages(1, 500));
    Case::new("e11")
        .kind(kind)
        .args(&["--max-delete", "100%"])
        .snapshot(all.clone())
        .a("INBOX:")
        .run_between("plan", &[], 4, &["INBOX", "WITHHELD: 500 deletions on"])
        .run_between("sync", &[], 4, &["INBOX", "WITHHELD: 500 deletions on"])
        .a_is("INBOX:")
        .b_is(all)
        .run_between("plan", &[], 4, &["WITHHELD: 500 deletions on"])
        .expect("INBOX:")
}

#[test]
fn e11_emptied_mailbox_is_withheld_then_deleted_with_max_delete() {
    e11(Kind::Full).run();
}

#[test]
fn e11_without_condstore() {
    e11(Kind::NoCondstore).no_mirror().run();
}

/// The guard's formula at its edges: `deleted` of `pairs` messages gone
/// from A, with `args`; `withheld` says whether the guard holds them all.
fn guard(name: &'static str, pairs: usize, deleted: usize, args: &[&str], withheld: bool) {
    let all = spec_of("INBOX", messages(1, pairs));
    let left = spec_of("INBOX", messages(deleted + 1, pairs));
    let case = Case::new(name)
        .args(args)
        .snapshot(all.clone())
        .a(left.clone());
    if withheld {
        case.sync_exit(4).expect_a(left).expect_b(all).run();
    } else {
        case.expect(left).run();
    }
}

#[test]
fn guard_allows_half_of_the_pairs() {
    guard("guard 15 of 30", 30, 15, &[], false);
}

#[test]
fn guard_withholds_more_than_half_of_the_pairs() {
    guard("guard 16 of 30", 30, 16, &[], true);
}

#[test]
fn guard_allows_ten_however_few_the_pairs() {
    guard("guard 10 of 12", 12, 10, &[], false);
}

#[test]
fn guard_withholds_eleven_of_twelve() {
    guard("guard 11 of 12", 12, 11, &[], true);
}

#[test]
fn guard_percentage_changes_the_share() {
    guard(
        "guard 18 of 30 at 60%",
        30,
        18,
        &["--max-delete", "60%"],
        false,
    );
    guard(
        "guard 19 of 30 at 60%",
        30,
        19,
        &["--max-delete", "60%"],
        true,
    );
}

#[test]
fn guard_count_replaces_the_formula() {
    guard("guard 5 of 30 at 5", 30, 5, &["--max-delete", "5"], false);
    guard("guard 6 of 30 at 5", 30, 6, &["--max-delete", "5"], true);
}

// ---------------------------------------------------------------------------
// E12, E13 moves
// ---------------------------------------------------------------------------

/// The plan copies into Archive on B and expunges from B's INBOX: the apply
/// phases put copies before deletions, so B never holds zero copies.
fn copies_into_archive_and_expunges_from_inbox(run: &Run, report: &serde_json::Value) {
    let archive = planned(report, "Archive");
    let inbox = planned(report, "INBOX");
    let copies = archive["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{}: one copy\n{archive:#}", run.what);
    assert_eq!(copies[0]["from"], run.cli_name(Which::A), "{}", run.what);
    assert_eq!(count(inbox, "expunges"), 1, "{}\n{inbox:#}", run.what);
}

/// How many messages a user's mailboxes held after each save, copy or
/// expunge, in the order the server logged them (mail_log, see
/// fixtures/dovecot.conf.in). Waits (boundedly) for the log to reach `last`:
/// Dovecot's log process writes asynchronously.
fn message_counts(user: &User, last: i64) -> Vec<i64> {
    let tag = format!("imap({})", user.name);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut n = 0;
        let mut counts = Vec::new();
        for line in user.server_log().lines().filter(|l| l.contains(&tag)) {
            if line.contains(": save: ") || line.contains(": copy: ") {
                n += 1;
            } else if line.contains(": expunge: ") {
                n -= 1;
            } else {
                continue;
            }
            counts.push(n);
        }
        if counts.last() == Some(&last) || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// B held 3 messages before the move and holds 3 after it: from the moment
/// it first held 3 it never held fewer, so m1 was never missing (the copy
/// into Archive went out before the expunge from INBOX).
fn b_never_had_zero_copies(run: &Run) {
    let counts = message_counts(&run.b, 3);
    let first = counts.iter().position(|&n| n == 3);
    assert!(
        first.is_some_and(|i| counts[i..].iter().all(|&n| n >= 3)) && counts.last() == Some(&3),
        "{}: B's message count over its writes dipped below 3 (an expunge before the copy): {counts:?}",
        run.what
    );
}

/// E12: m1 moved from INBOX to Archive on A (COPY + EXPUNGE).
fn e12(kind: Kind) -> Case {
    Case::new("e12")
        .kind(kind)
        .snapshot("INBOX: m1(\\Seen) m2(); Archive: m3()")
        .a("INBOX: m2(); Archive: m3() m1(\\Seen)")
        .plan_before(1, Some(copies_into_archive_and_expunges_from_inbox))
        .expect("INBOX: m2(); Archive: m3() m1(\\Seen)")
        .after_sync(b_never_had_zero_copies)
}

#[test]
fn e12_move_between_folders_on_a() {
    e12(Kind::Full).run();
}

#[test]
fn e12_move_between_folders_without_condstore() {
    e12(Kind::NoCondstore).run();
}

/// E12 with the target listed after the source (INBOX → Zarchive): the
/// copy still lands before the expunge, though mailboxes are applied in
/// name order and several at a time.
#[test]
fn e12_move_to_a_folder_listed_after_the_source() {
    for (name, connections) in [("e12 later, one session", "1"), ("e12 later, four", "4")] {
        Case::new(name)
            .snapshot("INBOX: m1(\\Seen) m2(); Zarchive: m3()")
            .a("INBOX: m2(); Zarchive: m3() m1(\\Seen)")
            .args(&["--connections", connections])
            .expect("INBOX: m2(); Zarchive: m3() m1(\\Seen)")
            .after_sync(b_never_had_zero_copies)
            .run();
    }
}

#[test]
fn e12_move_into_a_new_folder() {
    Case::new("e12 new folder")
        .snapshot("INBOX: m1(\\Seen) m2()")
        .a("INBOX: m2(); Archive: m1(\\Seen)")
        .expect("INBOX: m2(); Archive: m1(\\Seen)")
        .run();
}

/// E13, the minimum: moved on A while B flagged it in the old folder. m1
/// ends in Archive on both sides, once. The expunge from INBOX wins over
/// B's flag (E6) and the copy into Archive carries A's flags, so \Flagged is
/// lost (docs/SCENARIOS.md E13: the ideal, carrying it across folders, is
/// not built).
#[test]
fn e13_move_on_a_and_flag_change_on_b_ends_in_archive_once() {
    Case::new("e13")
        .snapshot("INBOX: m1() m2(); Archive:")
        .a("INBOX: m2(); Archive: m1()")
        .b("INBOX: m1(\\Flagged) m2(); Archive:")
        .expect("INBOX: m2(); Archive: m1()")
        .run();
}

// ---------------------------------------------------------------------------
// F12, F13 \Deleted is an ordinary flag
// ---------------------------------------------------------------------------

#[test]
fn f12_deleted_is_an_ordinary_flag_and_nothing_is_expunged() {
    Case::new("f12")
        .snapshot("INBOX: m1() m2()")
        .a("INBOX: m1(\\Deleted) m2()")
        .expect("INBOX: m1(\\Deleted) m2()")
        .run();
}

#[test]
fn f12_without_condstore() {
    Case::new("f12 nocondstore")
        .kind(Kind::NoCondstore)
        .snapshot("INBOX: m1() m2()")
        .a("INBOX: m1(\\Deleted) m2()")
        .b("INBOX: m1() m2(\\Deleted \\Seen)")
        .expect("INBOX: m1(\\Deleted) m2(\\Deleted \\Seen)")
        .run();
}

#[test]
fn f13_undelete_propagates() {
    Case::new("f13")
        .snapshot("INBOX: m1(\\Deleted) m2()")
        .a("INBOX: m1() m2()")
        .expect("INBOX: m1() m2()")
        .run();
}

// ---------------------------------------------------------------------------
// I2, U2
// ---------------------------------------------------------------------------

/// I2: two copies of m1 paired (u1↔v1, u2↔v2); A expunges u1. B loses v1,
/// the partner by the pairing, and keeps v2: told apart by their flags.
#[test]
fn i2_one_of_two_duplicates_expunged_follows_the_pairing() {
    Case::new("i2")
        .snapshot("INBOX: m1(\\Seen) m1(\\Flagged)")
        .a("INBOX: m1(\\Flagged)")
        .expect("INBOX: m1(\\Flagged)")
        .run();
}

/// I2 with identical flags: the survivor on B is v2, the partner of A's u2
/// (the first copy on each side was paired with the first).
#[test]
fn i2_identical_duplicates_keep_the_partner_of_the_survivor() {
    Case::new("i2 same flags")
        .snapshot("INBOX: m1() m1()")
        .before_sync(|run| {
            // A keeps UID 2: expunge UID 1 by hand.
            let mut client = run.a.client();
            client.expunge_uids("INBOX", &[1]);
            client.logout();
        })
        .expect("INBOX: m1()")
        .after_sync(|run| {
            for user in [&run.a, &run.b] {
                let mut client = user.client();
                let uids: Vec<u32> = client.fetch_all("INBOX").iter().map(|m| m.uid).collect();
                assert_eq!(uids, [2], "{}: the survivor should be UID 2", run.what);
                client.logout();
            }
        })
        .run();
}

/// U2: A's Work was deleted and created again holding 10 of its 300
/// messages and a new one. Nothing proves 290 deletions: nothing is deleted
/// on B, m999 is copied to B, and B's 290 are copied back to A; the plan
/// says why.
#[test]
fn u2_recreated_with_other_content_deletes_nothing_and_copies_back() {
    let work = |n: usize| (1..=n).map(|i| format!("g{i}({})", ["", "\\Seen"][i % 2]));
    let all = |extra: &str| format!("INBOX: m1(); {} {extra}", spec_of("Work", work(300)));
    let recreated = format!("INBOX: m1(); {} m999(\\Flagged)", spec_of("Work", work(10)));
    Case::new("u2")
        .snapshot(all(""))
        .recreate_on_a_with("Work", recreated)
        .suspect(Which::A, &["Work"])
        .plan_before(
            1,
            Some(|run, report| {
                let work = planned(report, "Work");
                assert_eq!(count(work, "expunges"), 0, "{}: nothing deleted", run.what);
                assert_eq!(count(work, "withheld"), 0, "{}", run.what);
                let a = run.cli_name(Which::A);
                assert!(
                    notes(report)
                        .iter()
                        .any(|n| n.contains(&format!("UIDVALIDITY changed on {a}"))),
                    "{}: the plan should say why nothing is deleted: {:?}",
                    run.what,
                    notes(report)
                );
            }),
        )
        .expect(all("m999(\\Flagged)"))
        .run();
}

// ---------------------------------------------------------------------------
// U3 large values
// ---------------------------------------------------------------------------

/// Writes a Maildir++ folder `.Big` on A behind Dovecot's back, with
/// UIDVALIDITY 4294967295 (2^32-1) and UIDs just below 2^32-1 in its
/// dovecot-uidlist, holding m1(\Seen) and m2.
fn big_uids_on_a(run: &Run) {
    let maildir = run.a.maildir();
    let folder = maildir.join(".Big");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(folder.join(sub)).unwrap();
    }
    let mut uidlist = String::from("3 V4294967295 N4294967295\n");
    for (i, (name, info)) in [("m1", "S"), ("m2", "")].into_iter().enumerate() {
        let base = format!("1704103200.u3{name}.imapmend");
        std::fs::write(
            folder.join("cur").join(format!("{base}:2,{info}")),
            standard_content(name),
        )
        .unwrap();
        uidlist.push_str(&format!("{} :{base}\n", 4294967293 + i));
    }
    std::fs::write(folder.join("dovecot-uidlist"), uidlist).unwrap();
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("--reference={}", maildir.display()))
        .arg(&folder)
        .status()
        .unwrap();
    assert!(status.success());
    let mut client = run.a.client();
    let big = client.examine("Big");
    client.logout();
    assert_eq!(
        (big.uidvalidity, big.uidnext, big.exists),
        (4294967295, 4294967295, 2),
        "{}: Dovecot should take the uidlist as written",
        run.what
    );
}

#[test]
fn u3_uidvalidity_and_uids_near_two_to_the_32() {
    Case::new("u3")
        .snapshot("INBOX: m3()")
        .before_sync(big_uids_on_a)
        .expect("INBOX: m3(); Big: m1(\\Seen) m2()")
        .after_sync(|run| {
            // Stored and read back without overflow (SQLite integers are
            // signed): the plan after the sync takes the history path, and
            // the snapshot shows the values as the server gave them.
            let summary = run.snapshot_summary();
            let big = summary["mailboxes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == "Big")
                .expect("Big in the snapshot");
            let side = &big["sides"][run.cli_index(Which::A)];
            assert_eq!(
                (side["uidvalidity"].as_u64(), side["uidnext"].as_u64()),
                (Some(4294967295), Some(4294967295)),
                "{}: {big:#}",
                run.what
            );
        })
        .run();
}
