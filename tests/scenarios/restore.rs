//! Restore from backup (docs/POLICIES.md, "Evidence is per side"): a user's
//! Maildir, dovecot-uidlist and index files included, is copied aside, mail
//! arrives and is synced, and the copy is put back. The restored side is
//! suspect: the other side loses nothing, the restored side gets back what
//! it lost, the healthy side's flags win, and what the healthy side proved
//! expunged (tombstones) is expunged again on the restored side.

use super::*;

/// B is restored from a backup taken before the last sync: it regressed
/// behind the snapshot (UIDNEXT went back, known UIDs are missing). B is
/// suspect (docs/POLICIES.md, "Evidence is per side"): its absences prove no
/// expunge, so the mail it lost is copied back to it, and A's flags win on
/// every paired message (B's are last week's). The plan says that B looks
/// restored, and A is never changed. `restore.rs` has the variants (UID reuse,
/// tombstones, `--restored`, no CONDSTORE).
#[test]
fn restored_b_behind_the_snapshot_gets_the_missing_mail_and_a_keeps_its_flags() {
    restore_b_story("restore b", Kind::Full).run();
}

/// The story above as a case, for other kinds (see `restore.rs`).
fn restore_b_story(name: &'static str, kind: Kind) -> Case {
    Case::new(name)
        .kind(kind)
        .snapshot("INBOX: m1(\\Flagged) m2(); Archive: m3(\\Seen)")
        .backup_b()
        .a("INBOX: m1() m2(\\Seen) m4(); Archive: m3(\\Seen \\Answered) m5(\\Seen)")
        .sync_between()
        .restore_b()
        .suspect(Which::B, &[])
        .plan_before(1, Some(says_b_looks_restored))
        .untouched(Which::A)
        .expect("INBOX: m1() m2(\\Seen) m4(); Archive: m3(\\Seen \\Answered) m5(\\Seen)")
}

/// The plan says B looks restored (a note in the report).
pub(super) fn says_b_looks_restored(run: &Run, report: &serde_json::Value) {
    let b = run.cli_name(Which::B);
    assert!(
        notes(report)
            .iter()
            .any(|n| n.starts_with(&format!("{b} looks restored"))),
        "{}: the plan should say that {b} looks restored: {:?}",
        run.what,
        notes(report)
    );
}

#[test]
fn restored_b_behind_the_snapshot_without_condstore() {
    restore_b_story("restore b nocondstore", Kind::NoCondstore).run();
}

/// The scenario is only the hard one if B, restored and then given
/// `deliveries` new messages, shows no sign of going back: UIDNEXT (and
/// HIGHESTMODSEQ where offered) at or past what the snapshot saved, so only
/// the reused UIDs' sizes and dates tell.
fn b_passed_the_saved_watermarks(run: &Run) {
    let summary = run.snapshot_summary();
    let inbox = summary["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "INBOX")
        .expect("INBOX in the snapshot");
    let saved = &inbox["sides"][run.cli_index(Which::B)];
    let mut client = run.b.client();
    let now = client.examine("INBOX");
    client.logout();
    assert!(
        u64::from(now.uidnext) > saved["uidnext"].as_u64().unwrap(),
        "{}: B's UIDNEXT {} should have passed the saved {}",
        run.what,
        now.uidnext,
        saved["uidnext"]
    );
    if let (Some(now), Some(was)) = (now.highestmodseq, saved["highestmodseq"].as_u64()) {
        assert!(
            now >= was,
            "{}: B's HIGHESTMODSEQ {now} should have reached the saved {was}",
            run.what
        );
    }
}

/// B is restored to a backup from before the last sync (it lacks m3, m4
/// and has last week's flags), then receives `deliveries` new messages
/// before imapmend runs: they reuse the UIDs m3 and m4 had on B, and with
/// enough of them B's UIDNEXT passes the saved one. Regression is visible
/// only in the reused UIDs (other size and date). B gets m3, m4 back, A
/// gets the new mail, A's flags win.
fn uid_reuse(name: &'static str, kind: Kind, deliveries: usize) -> Case {
    let new: Vec<String> = (10..10 + deliveries)
        .map(|i| format!("m{i}()@d2"))
        .collect();
    let case = Case::new(name)
        .kind(kind)
        .snapshot("INBOX: m1(\\Flagged) m2()")
        .backup_b()
        .a("INBOX: m1() m2(\\Seen) m3() m4()")
        .sync_between()
        .restore_b()
        .b(format!("INBOX: m1(\\Flagged) m2() {}", new.join(" ")))
        .suspect(Which::B, &[])
        .expect(format!(
            "INBOX: m1() m2(\\Seen) m3() m4() {}",
            new.join(" ")
        ));
    if deliveries > 2 {
        case.before_sync(b_passed_the_saved_watermarks)
    } else {
        case
    }
}

#[test]
fn restored_b_reusing_uids_past_the_saved_uidnext() {
    uid_reuse("restore uid reuse", Kind::Full, 3).run();
}

#[test]
fn restored_b_reusing_uids_past_the_saved_uidnext_and_highestmodseq() {
    uid_reuse("restore uid reuse, modseq passed", Kind::Full, 8).run();
}

#[test]
fn restored_b_reusing_uids_without_condstore() {
    uid_reuse("restore uid reuse nocondstore", Kind::NoCondstore, 8).run();
}

/// The hardest reuse, for the history path: B's user changed flags after
/// the backup and before the last sync, so the HIGHESTMODSEQ saved then is
/// well above the backup's. Mail delivered after the restore gets modseqs
/// from the backup's on: the messages that reuse UIDs 3 and 4 carry modseqs
/// at or below the saved one, so `CHANGEDSINCE` never reports them, while
/// UIDNEXT, HIGHESTMODSEQ and EXISTS all add up. Only their sizes and dates
/// tell. Expected as for any restore: B gets m3, m4 and A's flags back, A
/// gets the four new messages.
#[test]
fn restored_b_reusing_uids_the_change_history_cannot_show() {
    Case::new("restore uid reuse under the saved modseq")
        .snapshot("INBOX: m1() m2()")
        .backup_b()
        .a("INBOX: m1() m2() m3() m4()")
        .sync_between()
        .b("INBOX: m1(\\Seen) m2(\\Flagged) m3(\\Seen) m4()")
        .sync_between()
        .restore_b()
        .b("INBOX: m1() m2() m10()@d2 m11()@d2 m12()@d2 m13()@d2")
        .before_sync(|run| {
            let summary = run.snapshot_summary();
            let inbox = summary["mailboxes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == "INBOX")
                .expect("INBOX in the snapshot");
            let saved = &inbox["sides"][run.cli_index(Which::B)];
            let saved_modseq = saved["highestmodseq"].as_u64().unwrap();
            let mut client = run.b.client();
            let now = client.open("EXAMINE", "INBOX", " (CONDSTORE)");
            let done = client.command("UID FETCH 3:4 (MODSEQ)");
            client.logout();
            assert!(u64::from(now.uidnext) > saved["uidnext"].as_u64().unwrap());
            assert!(now.highestmodseq.unwrap() >= saved_modseq);
            for line in &done.untagged {
                let line = String::from_utf8_lossy(line);
                let modseq: u64 = line
                    .rsplit_once("MODSEQ (")
                    .and_then(|(_, v)| v.split(')').next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no MODSEQ in {line}"));
                assert!(
                    modseq <= saved_modseq,
                    "{}: a reused UID is visible to CHANGEDSINCE {saved_modseq}: {line}",
                    run.what
                );
            }
        })
        .suspect(Which::B, &[])
        .expect(
            "INBOX: m1(\\Seen) m2(\\Flagged) m3(\\Seen) m4() m10()@d2 m11()@d2 m12()@d2 m13()@d2",
        )
        .run();
}

/// The operator's way: `plan` first, then `sync`. The dry run must not
/// erase the evidence the sync needs.
#[test]
fn restored_b_reusing_uids_plan_then_sync() {
    uid_reuse("restore uid reuse, plan first", Kind::NoCondstore, 3)
        .plan_before(1, Some(says_b_looks_restored))
        .run();
}

/// m2 was expunged on A after B's backup and the expunge reached B (a
/// tombstone); the restore brings m2 back on B only. It is expunged there
/// again, not copied to A.
fn tombstone(kind: Kind) -> Case {
    tombstone_story("restore tombstone", kind, &[])
        .plan_before(
            1,
            Some(|run, report| {
                says_b_looks_restored(run, report);
                let inbox = planned(report, "INBOX");
                assert_eq!(count(inbox, "copies"), 0, "{}\n{inbox:#}", run.what);
                let expunges = inbox["expunges"].as_array().unwrap();
                assert_eq!(expunges.len(), 1, "{}\n{inbox:#}", run.what);
                assert_eq!(expunges[0]["side"], run.cli_name(Which::B));
            }),
        )
        .untouched(Which::A)
        .expect("INBOX: m1() m3()")
}

/// The story behind [`tombstone`], with these arguments on every run.
fn tombstone_story(name: &'static str, kind: Kind, args: &[&str]) -> Case {
    Case::new(name)
        .kind(kind)
        .args(args)
        .snapshot("INBOX: m1() m2(\\Seen) m3()")
        .backup_b()
        .a("INBOX: m1() m3()")
        .sync_between()
        .restore_b()
        .suspect(Which::B, &[])
}

/// Tombstones are forgotten after `--tombstone-days` (0: at the next run):
/// m2 is then only mail on a restored side, and is copied back to A.
#[test]
fn restored_b_after_the_tombstones_expired_copies_back() {
    tombstone_story("tombstone expired", Kind::Full, &["--tombstone-days", "0"])
        // Tombstones younger than a second survive `--tombstone-days 0`.
        .before_sync(|_| std::thread::sleep(Duration::from_millis(1100)))
        .plan_before(
            1,
            Some(|run, report| {
                says_b_looks_restored(run, report);
                let inbox = planned(report, "INBOX");
                assert_eq!(count(inbox, "expunges"), 0, "{}\n{inbox:#}", run.what);
                let copies = inbox["copies"].as_array().unwrap();
                assert_eq!(copies.len(), 1, "{}\n{inbox:#}", run.what);
                assert_eq!(copies[0]["from"], run.cli_name(Which::B));
            }),
        )
        .expect("INBOX: m1() m2(\\Seen) m3()")
        .no_mirror()
        .run();
}

#[test]
fn restored_b_gets_mail_expunged_since_the_backup_expunged_again() {
    tombstone(Kind::Full).run();
}

#[test]
fn restored_b_tombstones_without_condstore() {
    tombstone(Kind::NoCondstore).run();
}

/// `--restored b` where nothing shows it (B's changes look like ordinary
/// flag changes and an expunge): A's flags win on every pair, and m4, gone
/// from B, is copied back instead of being expunged on A. A is not written.
fn operator_says_restored(kind: Kind) -> Case {
    Case::new("--restored b")
        .kind(kind)
        .args(&["--restored", "b"])
        .snapshot("INBOX: m1(\\Seen) m2() m3(\\Flagged) m4(\\Seen)")
        .a("INBOX: m1(\\Seen \\Answered) m2() m3(\\Flagged) m4(\\Seen)")
        .b("INBOX: m1() m2(\\Seen) m3()")
        .plan_before(1, Some(says_b_looks_restored))
        .untouched(Which::A)
        .expect("INBOX: m1(\\Seen \\Answered) m2() m3(\\Flagged) m4(\\Seen)")
}

#[test]
fn restored_b_by_the_operator_lets_a_win() {
    operator_says_restored(Kind::Full).run();
}

#[test]
fn restored_b_by_the_operator_without_condstore() {
    operator_says_restored(Kind::NoCondstore).run();
}

/// The first run is the one after the restore (no snapshot yet): with
/// `--restored b`, A's flags win on every pair found by content, `\Deleted`
/// stays only where both sides have it, and m4, only on B (perhaps mail
/// deleted since the backup), is copied to A: nothing is lost.
#[test]
fn restored_b_before_any_snapshot() {
    Case::new("--restored b, no snapshot")
        .args(&["--restored", "b"])
        .a("INBOX: m1(\\Seen \\Deleted) m2(\\Deleted) m3(\\Flagged)")
        .b("INBOX: m1(\\Seen) m2(\\Deleted) m3(\\Seen) m4()")
        .plan_before(
            1,
            Some(|run, report| {
                let inbox = planned(report, "INBOX");
                let copies = inbox["copies"].as_array().unwrap();
                assert_eq!(copies.len(), 1, "{}\n{inbox:#}", run.what);
                assert_eq!(copies[0]["from"], run.cli_name(Which::B));
            }),
        )
        .expect("INBOX: m1(\\Seen) m2(\\Deleted) m3(\\Flagged) m4()")
        .run();
}

/// `--drop-restored-extras` drops what is only on the restored side (m2,
/// expunged on both since the backup; no tombstones here) but keeps `big`,
/// which is only on B because it is larger than `--max-size`: it was
/// never copied, so its absence on A proves nothing.
#[test]
fn restored_b_drops_its_extras_but_keeps_what_could_never_be_copied() {
    let mut big = b"From: Big <big@example.org>\r\nSubject: over the limit\r\n\
Message-ID: <big@scenarios.imapmend.test>\r\n\r\n"
        .to_vec();
    big.extend(std::iter::repeat_n(b"0123456789abcdef\r\n".as_slice(), 100).flatten());
    let limit = ["--max-size", "1000", "--no-tombstones"];
    Case::new("--drop-restored-extras keeps the uncopyable")
        .content("big", big)
        .args(&[
            "--restored",
            "b",
            "--drop-restored-extras",
            "--max-size",
            "1000",
            "--no-tombstones",
        ])
        .snapshot("INBOX: m1() m2() m3()")
        .b("INBOX: m1() m2() m3() big()")
        .run_between("sync", &limit, 0, &["larger than --max-size"])
        .backup_b()
        .a("INBOX: m1() m3()")
        .run_between("sync", &limit, 0, &[])
        .b_is("INBOX: m1() m3() big()")
        .restore_b()
        .suspect(Which::B, &[])
        .plan_before(
            1,
            Some(|run, report| {
                let inbox = planned(report, "INBOX");
                let expunges = inbox["expunges"].as_array().unwrap();
                assert_eq!(expunges.len(), 1, "{}\n{inbox:#}", run.what);
                assert_eq!(expunges[0]["reason"], "restored-extra");
                assert_eq!(count(inbox, "copies"), 0, "{}\n{inbox:#}", run.what);
                let notes = inbox["notes"].to_string();
                assert!(notes.contains("proves nothing"), "{notes}");
            }),
        )
        .untouched(Which::A)
        .expect_a("INBOX: m1() m3()")
        .expect_b("INBOX: m1() m3() big()")
        .no_mirror()
        .run();
}
